// Package cloudsimtest starts a cloudsim.Server for a test and gives it
// official SDK clients pointed at it, the way product code points its
// clients at a custom endpoint: for Alibaba Cloud, Domain "127.0.0.1:PORT"
// and scheme HTTP; for EC2 (aws-sdk-go-v2), BaseEndpoint
// "http://127.0.0.1:PORT" with the simulator's static AWS credentials.
package cloudsimtest

import (
	"context"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/slb"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/vpc"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

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
	// EC2 is an aws-sdk-go-v2 EC2 client in EC2Region.
	EC2 *ec2.Client
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
	sim.EC2 = NewEC2Client(srv, EC2Region)
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

// EC2Region is the region EC2 clients default to.
const EC2Region = "us-east-1"

// AWSConfig returns an aws.Config for the simulator's EC2 endpoint with its
// static credentials, in region (EC2Region when ""). Nothing of the SDK's
// default chain (environment, files, IMDS) is consulted.
func AWSConfig(srv *cloudsim.Server, region string) aws.Config {
	id, secret := srv.AWSCredentials()
	return AWSConfigFor(srv.EC2Endpoint(), region, id, secret)
}

// AWSConfigFor is AWSConfig for a simulator known by its ready line: the
// EC2 endpoint and the AWS key pair.
func AWSConfigFor(endpoint, region, accessKeyID, secretAccessKey string) aws.Config {
	if region == "" {
		region = EC2Region
	}
	return aws.Config{
		Region:       region,
		Credentials:  credentials.NewStaticCredentialsProvider(accessKeyID, secretAccessKey, ""),
		BaseEndpoint: aws.String(endpoint),
		HTTPClient:   ec2HTTPClient(),
	}
}

// NewEC2Client returns an EC2 client of the real SDK pointed at the
// simulator, the way product code points one at a custom endpoint.
func NewEC2Client(srv *cloudsim.Server, region string, optFns ...func(*ec2.Options)) *ec2.Client {
	return ec2.NewFromConfig(AWSConfig(srv, region), optFns...)
}
