// Package cluster turns a cluster file into machines, a swarm and SLB
// listeners, and keeps them that way: `docker-machine cluster up|down|status
// -f FILE` and `docker-machine slb sync`.
//
// # The cluster file
//
//	name: seed002                    # machines are <name>-<group>-<n>
//	driver: aliyunecs                # default driver of the groups
//	driver_options:                  # driver flags without the leading --
//	  aliyunecs-api-endpoint: ${ECS_API_ENDPOINT}
//	  aliyunecs-region: cn-beijing
//	  aliyunecs-open-port: [8080]    # lists repeat the flag; bools are true/false
//	engine:                          # the --engine-* flags of create
//	  install_url: none              # also storage_driver
//	  registry_mirror: [https://mirror.example]
//	  labels: [env=demo]             # also insecure_registry, opt, env, tls_san
//	groups:
//	  - name: manager
//	    role: manager                # manager or worker (default worker)
//	    count: 1                     # default 1
//	    slb: ${ECS_SLB_ID}           # attach as SLB backend (--aliyunecs-slb-id)
//	  - name: worker
//	    count: 2
//	    slb: ${ECS_SLB_ID}
//	    driver_options: {...}        # merged over the file's; engine: replaces per key
//	load_balancers:
//	  - id: ${ECS_SLB_ID}
//	    services: true               # a TCP listener per published swarm service port
//	    service_ports: {web: 8080}   # front port per SERVICE or SERVICE:PUBLISHED
//	    listeners:                   # fixed TCP listeners
//	      - port: 2377               # backend_port defaults to port
//	networks:                        # swarm networks (see Networks below)
//	  - name: app
//	    subnet: 10.0.9.0/24
//
// ${VAR} and ${VAR:-default} are replaced from the environment in every
// value; an unset variable without a default is an error. Every error names
// the file and line.
//
// # What up does
//
// Up is a pipeline. First it prepares, once per driver configuration (same
// driver, same options), the cloud resources that configuration's nodes
// share, through the driver's SharedPreparer capability (a driver without
// it shares nothing that needs making first). Then every node missing from
// the store is created at once, at most Options.Parallel at a time, with
// the same flags and code path as `docker-machine create`
// (Node.CreateRequest), and each node goes on to the swarm as soon as it
// is ready: the first manager ready initialises the swarm unless a manager
// already in the store runs one, which is kept (a second swarm is never
// started beside it); the other managers join one at a time, workers in
// parallel, each as soon as a leader exists. A new manager that cannot
// initialise the swarm is removed and the next one ready tries; when no
// manager can lead, the nodes waiting for one fail. Then the file's
// networks are made through the leader (see Networks) and, last, every load
// balancer's listeners are synced. A node that fails is reported, removed
// when this run created it, and left out. Run again, up creates and joins
// nothing.
//
// # Listeners
//
// For each published TCP port of each swarm service the sync wants a TCP
// listener: front port from the service label fleetdock.slb.port, else
// service_ports, else the published port; backend port the published port,
// health-checked over TCP. Listeners the sync creates carry a description
// (docker-machine/service/NAME, docker-machine/cluster/NAME) and only those
// are ever changed or deleted: a listener made by hand is never touched, and
// a wanted port it holds is reported as a conflict. One SLB is meant to
// serve one swarm's services.
//
// # Networks
//
// Seed 004 made containers on different hosts reach each other with a
// Consul key-value store and pipework bridges. In swarm mode an overlay
// network does both: it spans every node over VXLAN, and its embedded DNS
// answers a service's name with the addresses of its tasks.
//
//	networks:
//	  - name: app                    # letters, digits, _ . - (not bridge, host,
//	                                 #   none, default, ingress, docker_gwbridge)
//	    driver: overlay              # the default; a swarm-scoped plugin also works,
//	                                 #   node-local drivers (bridge, macvlan...) do not
//	    attachable: true             # the default: `docker run --network app` may join
//	    internal: false              # true: no traffic to or from outside the network
//	    subnet: 10.0.9.0/24          # IPv4; optional, else the swarm picks one
//	    gateway: 10.0.9.1            # optional, within subnet
//	    ip_range: 10.0.9.128/25      # optional, within subnet: where tasks get addresses
//	    options: {encrypted: ""}     # driver options (docker network create --opt)
//	    labels: {team: web}
//
// After the swarm is formed, up lists the networks through its manager and
// for each network of the file: creates it when missing (labelled
// fleetdock.cluster=NAME), waiting until the managers have allocated it; keeps
// it when it exists as the file says (what the file leaves out, such as
// the subnet, is not compared); and reports an error, creating nothing,
// when it exists with another driver, subnet, gateway, range, flag, option
// or label, since Docker cannot change a network in place. A subnet that
// overlaps another of the file, or one of a network the manager already
// has, is refused before the network is created: the swarm would accept
// the create and then never allocate it. Each network is reported as
// created, kept or failed; a network failing fails no node, and the
// others are still made.
//
// status shows each network as ok, missing, or what differs. down removes
// every node, and the swarm and its networks go with them.
//
// A service reaches another by name over such a network: publish nothing,
// attach both to it, and give the one called --endpoint-mode dnsrr where
// the kernel lacks IPVS (as in these test hosts), so its name resolves to
// its tasks' addresses in turn instead of to a virtual IP:
//
//	docker service create --name web --network app --endpoint-mode dnsrr web:1
//	docker run --rm --network app client:1 http://web/
package cluster
