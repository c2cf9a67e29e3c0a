# Everything a fresh Debian machine needs is set up by these targets.
GO       ?= go
BIN      := bin
VERSION  ?= 0.16.2-fleetdock
COMMIT   := $(shell git rev-parse --short HEAD 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X github.com/fleetdock/machine/cmd/docker-machine/commands.Version=$(VERSION) -X github.com/fleetdock/machine/cmd/docker-machine/commands.GitCommit=$(COMMIT)
BINARIES := docker-machine docker-machine-driver-aliyunecs docker-machine-driver-amazonec2 docker-machine-driver-virtualbox cloudsim
# Integration tests start containers and simulators; keep them sequential per package.
TEST_TIMEOUT ?= 60m

.PHONY: all build test unit integration demo lint bench bench-provision bench-interrupt bench-cluster engine clean

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
	$(GO) run ./integration/cmd/lsbench -cli $(BIN)/docker-machine -machines 100 -runs 9

# Create wall time on host containers, with and without Docker preinstalled.
bench-provision: engine build
	$(GO) build -o $(BIN)/testhost ./integration/cmd/testhost
	./scripts/provision-bench.sh

# Time from Ctrl-C to exit at each point of a create (cloudsim, host containers).
bench-interrupt: engine build
	$(GO) run ./integration/cmd/interruptbench -cli $(BIN)/docker-machine -runs 3

# cluster up for 1, 3 and 6 nodes, the seed's way, and the hosts' boot floor (cloudsim, host containers).
bench-cluster: engine build
	$(GO) run ./integration/cmd/clusterbench -cli $(BIN)/docker-machine -runs 3

demo: engine build
	./scripts/demo.sh

clean:
	rm -rf $(BIN)
