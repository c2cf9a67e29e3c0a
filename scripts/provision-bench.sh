#!/usr/bin/env bash
# Times `docker-machine create -d generic` on fresh host containers, with
# Docker preinstalled (--engine-install-url none) and without (installed
# through the local install script), RUNS times each, and prints the wall
# time and the provisioner's own breakdown by step (from -D output).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-3}
bin=$PWD/bin
work=$(mktemp -d)
trap 'kill "${srv:-}" 2>/dev/null || true; rm -rf "$work"' EXIT
ssh-keygen -q -t ed25519 -N "" -f "$work/k"
"$bin/testhost" serve-install >"$work/url" 2>/dev/null &
srv=$!
for _ in $(seq 1 50); do [ -s "$work/url" ] && break; sleep 0.1; done
url=$(head -1 "$work/url")
for kind in preinstalled fresh; do
  for i in $(seq 1 "$runs"); do
    n=provbench-$kind-$i
    with=""; inst=$url
    if [ "$kind" = preinstalled ]; then with=--with-docker; inst=none; fi
    ip=$("$bin/testhost" up --name "$n" --authorized-key "$work/k.pub" $with 2>/dev/null | sed -n 's/.*"ip":"\([^"]*\)".*/\1/p')
    start=$(date +%s%N)
    "$bin/docker-machine" -D -s "$work/store" create -d generic --generic-ip-address "$ip" \
      --generic-ssh-key "$work/k" --engine-install-url "$inst" "$n" >"$work/$n.log" 2>&1 || { cat "$work/$n.log"; exit 1; }
    end=$(date +%s%N)
    echo "$kind #$i: create $(( (end - start) / 1000000 )) ms;$(grep 'provisioning report' "$work/$n.log" | sed 's/.*provisioning report//')"
    "$bin/docker-machine" -s "$work/store" rm -y "$n" >/dev/null
    "$bin/testhost" down --name "$n" >/dev/null 2>&1
  done
done
