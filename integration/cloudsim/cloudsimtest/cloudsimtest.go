// Package cloudsimtest starts a cloudsim.Server for a test and gives it
// official SDK clients pointed at it, the way product code points its
// clients at a custom endpoint: Domain "127.0.0.1:PORT", scheme HTTP.
package cloudsimtest

import (
	"context"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/slb"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/vpc"

	"github.com/fleetdock/machine/integration/cloudsim"
)

// Region is the region the clients default to.
const Region = "cn-hangzhou"

// Sim is a running simulator with SDK clients for it.
type Sim struct {
	*cloudsim.Server
	ECS *ecs.Client
	VPC *vpc.Client
	SLB *slb.Client
}

// Start runs a simulator for the test and closes it (deleting every host the
// backend started) when the test ends; a failed close fails the test.
func Start(t testing.TB, cfg cloudsim.Config) *Sim {
	t.Helper()
	srv, err := cloudsim.Start(cfg)
	if err != nil {
		t.Fatalf("starting the cloud simulator: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		if err := srv.Close(ctx); err != nil {
			t.Errorf("closing the cloud simulator: %v", err)
		}
	})
	id, secret := srv.Credentials()
	sim := &Sim{Server: srv}
	if sim.ECS, err = NewECSClient(srv.Domain(), Region, id, secret); err != nil {
		t.Fatal(err)
	}
	if sim.VPC, err = NewVPCClient(srv.Domain(), Region, id, secret); err != nil {
		t.Fatal(err)
	}
	if sim.SLB, err = NewSLBClient(srv.Domain(), Region, id, secret); err != nil {
		t.Fatal(err)
	}
	return sim
}

// Point aims an SDK client at a simulator: its Domain and the HTTP scheme.
// This is all a client needs; nothing else in the SDK changes.
func Point(c *sdk.Client, domain string) {
	c.Domain = domain
	c.GetConfig().WithScheme("HTTP")
}

// NewECSClient returns an ECS client for the simulator at domain.
func NewECSClient(domain, region, accessKeyID, secret string) (*ecs.Client, error) {
	c, err := ecs.NewClientWithAccessKey(region, accessKeyID, secret)
	if err != nil {
		return nil, err
	}
	Point(&c.Client, domain)
	return c, nil
}

// NewVPCClient returns a VPC client for the simulator at domain.
func NewVPCClient(domain, region, accessKeyID, secret string) (*vpc.Client, error) {
	c, err := vpc.NewClientWithAccessKey(region, accessKeyID, secret)
	if err != nil {
		return nil, err
	}
	Point(&c.Client, domain)
	return c, nil
}

// NewSLBClient returns an SLB client for the simulator at domain.
func NewSLBClient(domain, region, accessKeyID, secret string) (*slb.Client, error) {
	c, err := slb.NewClientWithAccessKey(region, accessKeyID, secret)
	if err != nil {
		return nil, err
	}
	Point(&c.Client, domain)
	return c, nil
}
