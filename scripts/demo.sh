#!/usr/bin/env bash
# The demo: a fresh VM-like Debian host (a container with systemd and sshd),
# and `docker-machine create -d generic` on it, which installs Docker from a
# local install script, secures it with TLS and applies engine options.
# Everything lives under .demo/; run `make demo` again to start over.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
demo=$root/.demo
bin=$root/bin
name=fleetdock-demo

cleanup_server() { [ -n "${server_pid:-}" ] && kill "$server_pid" 2>/dev/null || true; }
trap cleanup_server EXIT

echo "== Starting over in $demo"
go build -o "$bin/testhost" ./integration/cmd/testhost
"$bin/testhost" down --name "$name" >/dev/null 2>&1 || true
rm -rf "$demo"
mkdir -p "$demo"
export MACHINE_STORAGE_PATH=$demo/store
ssh-keygen -q -t ed25519 -N "" -C "$name" -f "$demo/id_ed25519"

echo "== Building the host image (cached after the first run) and starting a host"
host_json=$("$bin/testhost" up --name "$name" --authorized-key "$demo/id_ed25519.pub")
ip=$(printf '%s' "$host_json" | sed -n 's/.*"ip":"\([^"]*\)".*/\1/p')
echo "   host $name is up at $ip"

"$bin/testhost" serve-install >"$demo/install-url" 2>"$demo/install.log" &
server_pid=$!
for _ in $(seq 1 50); do [ -s "$demo/install-url" ] && break; sleep 0.1; done
install_url=$(head -1 "$demo/install-url")

echo "== docker-machine create -d generic demo"
"$bin/docker-machine" create -d generic \
  --generic-ip-address "$ip" --generic-ssh-key "$demo/id_ed25519" --generic-ssh-user root \
  --engine-install-url "$install_url" \
  --engine-registry-mirror https://mirror.demo.invalid \
  --engine-label env=demo \
  demo

echo "== docker-machine ls"
"$bin/docker-machine" ls
echo "== docker info over TLS, through docker-machine env"
eval "$("$bin/docker-machine" env demo)"
docker info --format 'name={{.Name}} server={{.ServerVersion}} labels={{.Labels}} mirrors={{.RegistryConfig.Mirrors}}'

cat <<MSG

The host is yours to try:
    export MACHINE_STORAGE_PATH=$MACHINE_STORAGE_PATH PATH=$bin:\$PATH
    eval \$(docker-machine env demo)
    docker run --rm ...            # images must be loaded locally: there is no registry here
    docker-machine ssh demo
    docker-machine ls
When done:
    docker-machine rm -y demo && $bin/testhost down --name $name
MSG
