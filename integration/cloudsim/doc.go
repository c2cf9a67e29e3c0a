// Package cloudsim is a local cloud: the RPC-style APIs of Alibaba Cloud ECS
// (version 2014-05-26), VPC (2016-04-28) and SLB (2014-05-15), and the EC2
// Query API (2016-11-15) with its instance metadata service, on one loopback
// port, with resources that follow the real state machines and rules, and
// instances that can be real hosts (containers of the hostworld).
//
// It exists so that code written against these clouds can be run, unchanged,
// against something that answers and fails like the real services. It is a
// test tool: nothing in the product imports it except cmd/cloudsim.
//
// # Reaching it
//
// The official SDK (github.com/aliyun/alibaba-cloud-sdk-go) reaches the
// simulator through its endpoint setting: the client's Domain is
// "127.0.0.1:PORT" (Server.Domain) and the scheme HTTP, which sdk.NewConfig
// already defaults to:
//
//	client, err := ecs.NewClientWithAccessKey("cn-hangzhou", id, secret)
//	client.Domain = srv.Domain() // e.g. "127.0.0.1:38421"
//	client.GetConfig().WithScheme("HTTP")
//
// VPC and SLB clients take the same two settings; the simulator tells the
// products apart by the Version parameter every request carries.
// Package cloudsimtest does this for tests.
//
// # Requests
//
// Requests are accepted as the gateway accepts them: POST with the parameters
// in the query string (what the SDK sends), POST with a form-encoded body, or
// GET. Every request is authenticated like the real gateway does it: the
// AccessKeyId must be known (InvalidAccessKeyId.NotFound), Timestamp within
// 15 minutes (InvalidTimeStamp.Expired), SignatureNonce unused in the last 15
// minutes (SignatureNonceUsed), and Signature the HMAC-SHA1 of
// METHOD&%2F&percentEncode(canonical sorted query) with the secret plus "&"
// (SignatureDoesNotMatch, whose message carries the server's string to sign,
// as the SDK expects). Answers are JSON, or XML when Format=XML or absent.
// Errors are {RequestId, HostId, Code, Message, Recommend} with the
// documented HTTP status; errors.go lists the codes and statuses.
//
// # Resources
//
// Regions cn-hangzhou, cn-beijing, cn-shanghai, cn-chengdu and ap-southeast-1,
// each with two or three zones, a default VPC (172.16.0.0/12) with its route
// table and one default VSwitch per zone. Images: an Ubuntu 22.04 and a
// Debian 12 system image (both boot the hostworld's Debian image). Instance
// types: ecs.n4.small, ecs.t6-c1m1.large, ecs.c6.large, ecs.g6.large,
// ecs.g7.xlarge. Key pairs, security groups and rules, instances, public IPs,
// EIPs, VPCs, VSwitches, route entries, tags, SLB instances, backend servers
// and TCP/HTTP listeners can be created, described and deleted.
//
// Every kind of resource, of every product, is kept in one generic table
// (table.go): ID, region, creation time and tags, lookups that answer the
// kind's own not-found error, filtered and ordered listings, and the
// dependency checks that refuse a delete while something still refers to
// the resource. Tags live on the resource, so deleting it forgets them.
//
// Instances go Pending -> Starting -> Running (RunInstances) or Pending ->
// Stopped (CreateInstance); StopInstance passes Stopping, RebootInstance
// Stopping and Starting; the times are Faults.CreateTime, BootTime and
// StopTime. DeleteInstance refuses a Running instance unless Force=true, and
// an instance that is a route's next hop. A ClientToken replays the first
// answer for the same parameters and fails with IdempotentParameterMismatch
// for others. RunInstances without a VSwitchId uses the default VSwitch of the
// zone (the region's first zone when ZoneId is absent too).
//
// # Addresses
//
//   - Private IP: allocated in the instance's VSwitch. With the container
//     backend it is replaced, at every boot, by the container's address on
//     the Docker bridge (172.17.0.0/16, inside the default VPC's CIDR but
//     usually outside the VSwitch's).
//   - Public IP (InternetMaxBandwidthOut > 0, AllocatePublicIpAddress) and EIP:
//     a loopback address from 127.100.0.0/16. Config.PublicPorts (cmd/cloudsim
//     uses 22 and 2376 with the container backend) are forwarded from it to
//     the same ports of the instance's current private IP, so "ssh root@EIP"
//     reaches the host. Ports below 1024 need root or CAP_NET_BIND_SERVICE;
//     a port that cannot be bound is logged and left unanswered.
//   - SLB Address: a loopback address from 127.101.0.0/16, for internet and
//     intranet load balancers alike. A started listener is bound there.
//
// # Load balancers
//
// A listener is created stopped; StartLoadBalancerListener binds a real proxy
// on Address:ListenerPort: TCP listeners relay connections, HTTP listeners
// are reverse proxies. Each connection or request goes to a backend server
// (AddBackendServers) chosen by the Scheduler (wrr, the default; wlc; rr;
// sch/tch/qch behave as wrr) among the servers whose health is normal; the
// target is the instance's current private IP and BackendServerPort. Health
// checks (TCP connect, or HTTP with HealthCheckURI and HealthCheckHttpCode)
// run every HealthCheckInterval seconds; a server's first check decides its
// state, then HealthyThreshold/UnhealthyThreshold consecutive results change
// it. DescribeHealthStatus reports normal, abnormal or unavailable.
//
// # Faults and the admin API
//
// Faults sets per-action latency, instance timings, a per-AccessKeyId request
// rate above which calls fail with Throttling.User (RequestLimitExceeded,
// HTTP 503, on EC2), and injected failures
// (an action, the Nth call or a probability, an error code; before the call
// is carried out, or after it, as when an answer is lost). The admin API
// under /admin (see admin.go) lists every resource for leak checks, reads
// and replaces the faults, lists the API calls with per-action counts, and
// resets the cloud.
//
// # EC2
//
// Requests signed with SigV4 (or carrying Version=2016-11-15) are EC2's:
// form-encoded POST (or GET), Action and Version, verified as EC2 verifies
// them: service ec2, a known region in the credential scope (us-east-1,
// us-east-2, us-west-2, eu-west-1, eu-central-1, ap-southeast-1; three zones
// each), X-Amz-Date within 15 minutes, a known access key
// (Config.AWSAccessKeyID, or credentials the metadata service issued, with
// their session token), the signature over the canonical request (errors
// AuthFailure, SignatureDoesNotMatch, RequestExpired,
// MissingAuthenticationToken). Answers are EC2's XML
// (<ActionResponse xmlns=...><requestId>, lists as <xSet><item>, nextToken
// paging that ends); errors are <Response><Errors><Error><Code>... with the
// documented status (ec2.go lists the codes). aws-sdk-go-v2 reaches it with
// BaseEndpoint = Server.EC2Endpoint(); cloudsimtest.NewEC2Client does that.
//
// Each region has a default VPC (172.31.0.0/16, DescribeAccountAttributes
// default-vpc names it) with its default security group and a default subnet
// per zone. Images are Canonical's Ubuntu 24.04/22.04/20.04 and Debian 12 by
// their real names and owners; all boot the host image, with the login user
// ubuntu (admin on Debian). Instances go pending -> running -> stopping ->
// stopped, shutting-down -> terminated (see ec2_instances.go); RunInstances
// is idempotent on ClientToken, takes network interfaces, block device
// mappings (EBS volumes with type, size, IOPS, throughput, encryption and KMS
// key, checked as EC2 checks them), metadata options, tag specifications,
// user data (run once at first boot) and spot market options. Spot requests,
// volumes, tags and EBS encryption by default have their actions too;
// EC2Actions lists every action served. The metadata service (imds.go) serves
// IMDSv2 role credentials under /latest/ of the same port.
//
// # Deliberate limits
//
// One account; no billing, quotas or RAM policies; VServer groups, HTTPS
// listeners, NAT gateways and disks as API resources are not simulated; an
// EIP associates with ECS instances only; route next hops are instances only.
// ModifyInstanceAttribute records a new Password but does not change it on a
// running host. Data disks are accepted and described but do not exist in
// the container host. On EC2: one network interface per instance (device
// index 0), no Elastic IPs, snapshots, AMI creation or launch templates,
// volumes exist only as made by RunInstances, and the metadata service
// serves the session token and role credentials only. Terminated instances
// answer DescribeInstances for an hour, as on EC2, but the admin listing
// leaves them out (they hold nothing).
package cloudsim
