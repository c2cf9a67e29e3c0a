#!/usr/bin/env bash
# The demo: seed 002 on a local cloud. A simulated Alibaba Cloud (cloudsim)
# whose ECS instances are VM-like Debian containers with Docker, a Server
# Load Balancer, and one cluster file: `docker-machine cluster up` makes a
# manager and two workers behind the SLB and forms the swarm; a small web
# service is deployed from a locally built image; `docker-machine slb sync`
# gives it an SLB listener; the SLB answers on a loopback address.
#
#   scripts/demo.sh         start over and run the flow (make demo)
#   scripts/demo.sh down    remove the cluster, the SLB and the simulator
#
# Everything lives under .demo/. Needs what `make engine build` sets up.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
demo=$root/.demo
bin=$root/bin
dm=$bin/docker-machine
export MACHINE_STORAGE_PATH=$demo/store

# down removes what an earlier run left: the cluster, the SLB, then the
# simulator (which removes any instance container it still has).
down() {
  if [ -f "$demo/env" ]; then
    # shellcheck disable=SC1091
    . "$demo/env"
    if [ -f "$demo/cluster.yml" ] && kill -0 "$(cat "$demo/cloudsim.pid" 2>/dev/null || echo 0)" 2>/dev/null; then
      "$dm" cluster down -f "$demo/cluster.yml" || echo "cluster down failed; the simulator's exit removes the hosts anyway" >&2
      [ -n "${SLB_ID:-}" ] && "$bin/slbctl" delete --endpoint "$ECS_API_ENDPOINT" "$SLB_ID" || true
    fi
  fi
  if [ -f "$demo/cloudsim.pid" ]; then
    pid=$(cat "$demo/cloudsim.pid")
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid"
      # cloudsim removes its containers on SIGTERM; wait for it to finish.
      for _ in $(seq 1 120); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    fi
  fi
  rm -rf "$demo"
}

# wait_for runs a command until it succeeds, at most $1 seconds.
wait_for() {
  local limit=$1; shift
  local waited=0
  until "$@" >/dev/null 2>&1; do
    if [ "$waited" -ge "$limit" ]; then
      echo "gave up after ${limit}s waiting for: $*" >&2
      return 1
    fi
    sleep 1
    waited=$((waited + 1))
  done
}

json_field() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p"; }

if [ "${1:-}" = "down" ]; then
  down
  echo "Demo removed."
  exit 0
fi

echo "== Starting over in $demo"
down
mkdir -p "$demo"
go build -o "$bin/" ./integration/cmd/testhost ./integration/cmd/slbctl

echo "== Host image with Docker preinstalled (built once, then cached)"
image=$("$bin/testhost" image --with-docker)

echo "== Starting the cloud simulator"
setsid nohup "$bin/cloudsim" serve --backend container --image "$image" --log-level warn \
  >"$demo/cloudsim.json" 2>"$demo/cloudsim.log" </dev/null &
echo $! >"$demo/cloudsim.pid"
ok=""
for _ in $(seq 1 240); do
  [ -s "$demo/cloudsim.json" ] && { ok=1; break; }
  kill -0 "$(cat "$demo/cloudsim.pid")" 2>/dev/null || break
  sleep 0.5
done
[ -n "$ok" ] || { echo "cloudsim did not start; see $demo/cloudsim.log" >&2; tail -20 "$demo/cloudsim.log" >&2; exit 1; }
ready=$(head -1 "$demo/cloudsim.json")
ECS_API_ENDPOINT=$(printf '%s' "$ready" | json_field endpoint)
ECS_ACCESS_KEY_ID=$(printf '%s' "$ready" | json_field access_key_id)
ECS_ACCESS_KEY_SECRET=$(printf '%s' "$ready" | json_field access_key_secret)
export ECS_API_ENDPOINT ECS_ACCESS_KEY_ID ECS_ACCESS_KEY_SECRET
echo "   API at $ECS_API_ENDPOINT"

echo "== Creating the Server Load Balancer (seed 002 does this in the console)"
lb=$("$bin/slbctl" create --endpoint "$ECS_API_ENDPOINT" --name seed002)
SLB_ID=$(printf '%s' "$lb" | json_field id)
SLB_ADDRESS=$(printf '%s' "$lb" | json_field address)
export SLB_ID
cat >"$demo/env" <<ENV
export MACHINE_STORAGE_PATH=$MACHINE_STORAGE_PATH
export ECS_API_ENDPOINT=$ECS_API_ENDPOINT
export ECS_ACCESS_KEY_ID=$ECS_ACCESS_KEY_ID
export ECS_ACCESS_KEY_SECRET=$ECS_ACCESS_KEY_SECRET
export SLB_ID=$SLB_ID
ENV
chmod 600 "$demo/env"
echo "   $SLB_ID at $SLB_ADDRESS"

cat >"$demo/cluster.yml" <<'YAML'
# Seed 002: one manager and two workers, all backends of one SLB.
name: demo
driver: aliyunecs
driver_options:
  aliyunecs-api-endpoint: ${ECS_API_ENDPOINT}
  aliyunecs-region: cn-hangzhou
engine:
  install_url: none        # the host image has Docker already
  labels: [seed=002]
groups:
  - name: manager
    role: manager
    slb: ${SLB_ID}
  - name: worker
    count: 2
    slb: ${SLB_ID}
load_balancers:
  - id: ${SLB_ID}
    services: true
    service_ports: {web: 8080}
YAML

echo "== docker-machine cluster up -f $demo/cluster.yml"
"$dm" cluster up -f "$demo/cluster.yml"

echo "== Building the web image locally (no registry is reachable) and loading it on every node"
mkdir -p "$demo/web/root"
cat >"$demo/web/main.go" <<'GO'
package main

import (
	"fmt"
	"net/http"
	"os"
)

func main() {
	host, _ := os.Hostname()
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from task %s, through the SLB\n", host)
	})
	if err := http.ListenAndServe(":80", nil); err != nil {
		panic(err)
	}
}
GO
printf 'module web\n\ngo 1.26\n' >"$demo/web/go.mod"
(cd "$demo/web" && CGO_ENABLED=0 GOWORK=off GOFLAGS= go build -o root/server .)
tar -C "$demo/web/root" -cf "$demo/web.tar" server
for node in demo-manager-1 demo-worker-1 demo-worker-2; do
  (eval "$("$dm" env "$node")" && docker import -c 'CMD ["/server"]' "$demo/web.tar" web:1 >/dev/null)
  echo "   loaded on $node"
done

echo "== Deploying the service: 3 replicas, port 30080 published on each node"
# mode=host: this kernel lacks IPVS, which the swarm's routing mesh needs.
eval "$("$dm" env demo-manager-1)"
docker service create --detach --name web --replicas 3 \
  --publish mode=host,published=30080,target=80 web:1 >/dev/null
running() { [ "$(docker service ps web --filter desired-state=running --format '{{.CurrentState}}' | grep -c Running)" -eq 3 ]; }
wait_for 120 running
docker service ps web

echo "== docker-machine slb sync --slb-id $SLB_ID --manager demo-manager-1"
"$dm" slb sync --slb-id "$SLB_ID" --manager demo-manager-1 --port web=8080

echo "== Asking the SLB"
answer() { curl -fsS -m 3 "http://$SLB_ADDRESS:8080/"; }
wait_for 60 answer
for _ in 1 2 3 4 5 6; do answer; done

cat <<MSG

The service answers through the load balancer:
    curl http://$SLB_ADDRESS:8080/        (or open it in a browser on this machine)
Look around:
    . $demo/env; export PATH=$bin:\$PATH
    docker-machine cluster status -f $demo/cluster.yml
    docker-machine swarm ls demo-manager-1
    eval \$(docker-machine env demo-manager-1); docker service scale web=2
    docker-machine slb sync --slb-id \$SLB_ID --manager demo-manager-1 --port web=8080
When done:
    scripts/demo.sh down
MSG
