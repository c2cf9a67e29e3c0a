// Command slbctl makes and deletes Server Load Balancers on a cloud
// simulator (or any endpoint the SDK reaches), for the demo and benches:
//
//	slbctl create --endpoint http://127.0.0.1:PORT [--region R] [--name N]
//	slbctl delete --endpoint http://127.0.0.1:PORT [--region R] LB-ID
//
// Keys come from ECS_ACCESS_KEY_ID and ECS_ACCESS_KEY_SECRET. create prints
// one JSON line: {"id":"lb-...","address":"127.101.x.y"}.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/slb"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "slbctl:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	if len(args) == 0 || (args[0] != "create" && args[0] != "delete") {
		return errors.New("usage: slbctl create|delete --endpoint URL [--region R] [--name N] [LB-ID]")
	}
	fs := flag.NewFlagSet("slbctl "+args[0], flag.ContinueOnError)
	endpoint := fs.String("endpoint", os.Getenv("ECS_API_ENDPOINT"), "API endpoint, http://host:port")
	region := fs.String("region", "cn-hangzhou", "region")
	name := fs.String("name", "docker-machine-demo", "load balancer name (create)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	client, err := newClient(*endpoint, *region)
	if err != nil {
		return err
	}
	switch args[0] {
	case "create":
		req := slb.CreateCreateLoadBalancerRequest()
		req.LoadBalancerName = *name
		req.AddressType = "internet"
		resp, err := client.CreateLoadBalancer(req)
		if err != nil {
			return fmt.Errorf("creating the load balancer: %w", err)
		}
		return json.NewEncoder(stdout).Encode(map[string]string{"id": resp.LoadBalancerId, "address": resp.Address})
	default:
		if fs.NArg() != 1 {
			return errors.New("delete needs the load balancer ID")
		}
		req := slb.CreateDeleteLoadBalancerRequest()
		req.LoadBalancerId = fs.Arg(0)
		if _, err := client.DeleteLoadBalancer(req); err != nil {
			return fmt.Errorf("deleting load balancer %s: %w", fs.Arg(0), err)
		}
		return nil
	}
}

func newClient(endpoint, region string) (*slb.Client, error) {
	id, secret := os.Getenv("ECS_ACCESS_KEY_ID"), os.Getenv("ECS_ACCESS_KEY_SECRET")
	if id == "" || secret == "" {
		return nil, errors.New("set ECS_ACCESS_KEY_ID and ECS_ACCESS_KEY_SECRET")
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("--endpoint %q: give http://host:port", endpoint)
	}
	c, err := slb.NewClientWithAccessKey(region, id, secret)
	if err != nil {
		return nil, err
	}
	c.Domain = u.Host
	scheme := "HTTPS"
	if u.Scheme == "http" {
		scheme = "HTTP"
	}
	c.GetConfig().WithScheme(scheme)
	return c, nil
}
