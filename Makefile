# Everything a fresh Debian machine needs is set up by these targets.
GO       ?= go
BIN      := bin
VERSION  ?= 0.16.2-fleetdock
COMMIT   := $(shell git rev-parse --short HEAD 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X github.com/fleetdock/machine/cmd/docker-machine/commands.Version=$(VERSION) -X github.com/fleetdock/machine/cmd/docker-machine/commands.GitCommit=$(COMMIT)
BINARIES := docker-machine docker-machine-driver-aliyunecs docker-machine-driver-amazonec2 docker-machine-driver-virtualbox cloudsim
# Integration tests start containers and simulators; keep them sequential per package.
TEST_TIMEOUT ?= 60m

.PHONY: all build test unit integration demo lint bench bench-provision bench-interrupt bench-cluster bench-fleet engine sizes clean

all: build

build:
	@mkdir -p $(BIN)
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/ $(addprefix ./cmd/,$(BINARIES))

engine:
	./scripts/ensure-engine.sh

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags integration ./...

unit:
	$(GO) test -count=1 ./...

integration: engine build
	$(GO) test -count=1 -p 1 -tags integration -timeout $(TEST_TIMEOUT) ./...

# Every test, unit and integration (the integration run includes the unit tests).
test: lint integration

bench: build
	$(GO) test -run '^$$' -bench . -benchmem ./certs/... ./libmachine/...
	$(GO) run ./integration/cmd/lsbench -cli $(BIN)/docker-machine -machines 100 -large 1000 -runs 5

# Create wall time on host containers, with and without Docker preinstalled.
bench-provision: engine build
	$(GO) build -o $(BIN)/testhost ./integration/cmd/testhost
	./scripts/provision-bench.sh

# Time from Ctrl-C to exit at each point of a create (cloudsim, host containers).
bench-interrupt: engine build
	$(GO) run ./integration/cmd/interruptbench -cli $(BIN)/docker-machine -runs 3

# Stripped sizes of the CLI and each plugin, against the stock CLI's, and
# the packages that weigh most in the CLI.
sizes:
	$(GO) run ./integration/cmd/binsizes -top 20

# GitLab Runner's docker+machine call sequence, K machines at a time on cloudsim
# (host containers): clean, throttled and with server errors. Exits non-zero on
# anything left behind or a failure of the clean scenario.
FLEET_K         ?= 4,8
FLEET_ROUNDS    ?= 2
FLEET_SCENARIOS ?= clean,throttled,faults
FLEET_DRIVER    ?= aliyunecs
bench-fleet: engine build
	$(GO) run ./integration/cmd/fleetbench -cli $(BIN)/docker-machine -driver $(FLEET_DRIVER) -k $(FLEET_K) -rounds $(FLEET_ROUNDS) -scenarios $(FLEET_SCENARIOS)

# cluster up for 1, 3 and 6 nodes, the seed's way, and the hosts' boot floor (cloudsim, host containers).
bench-cluster: engine build
	$(GO) run ./integration/cmd/clusterbench -cli $(BIN)/docker-machine -runs 3

demo: engine build
	./scripts/demo.sh

clean:
	rm -rf $(BIN)
