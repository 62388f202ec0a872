# redraft — see README.md.
GO        ?= go
BIN       := bin/redraft
GOBIN     := $(shell $(GO) env GOPATH)/bin
BUF_VERSION            := v1.75.0
PROTOC_GEN_GO_VERSION  := v1.36.12
PROTOC_GEN_GRPC_VERSION := v1.5.1

.PHONY: run test build proto proto-tools proto-check lint bench clean

build:
	$(GO) build -o $(BIN) ./cmd/redraft

# A local 3-node cluster: RESP 7001-7003, gRPC 8001-8003, data under ./data.
run: build
	./$(BIN) dev

# Every test: unit, in-process clusters, and end-to-end on real processes.
test: build
	$(GO) vet ./...
	REDRAFT_BIN=$(CURDIR)/$(BIN) $(GO) test -count=1 -timeout 12m ./...
	$(MAKE) --no-print-directory fuzz

proto-tools:
	GOBIN=$(GOBIN) $(GO) install github.com/bufbuild/buf/cmd/buf@$(BUF_VERSION)
	GOBIN=$(GOBIN) $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
	GOBIN=$(GOBIN) $(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GRPC_VERSION)

# Regenerate the Go code from proto/ (generated files are committed).
proto: proto-tools
	PATH=$(GOBIN):$$PATH buf lint
	PATH=$(GOBIN):$$PATH buf generate

# Fails if the committed generated code is not what the .proto files give.
proto-check: proto
	git diff --exit-code -- proto/

clean:
	rm -rf bin data

# Benchmarks against Redis (benchmarks/): every system is started on 127.0.0.1 by the run itself.
# bench: all scenarios, under 15 minutes; bench-quick: shorter runs, under 3 minutes.
# Reports: benchmarks/results/<date>/report.md (quick: <date>-quick/), with plots and results.json.gz.
.PHONY: bench-quick
bench: build
	$(GO) run ./benchmarks/cmd/bench -redraft-bin $(BIN)

bench-quick: build
	$(GO) run ./benchmarks/cmd/bench -redraft-bin $(BIN) -quick

# Fuzzing, bounded (part of `make test`): the RESP parser (alone and behind
# a live server), the log-entry decoder and the snapshot reader, FUZZTIME
# each. Without -fuzz, `go test` runs the same targets on their seed
# corpora.
FUZZTIME ?= 10s
.PHONY: fuzz
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzReader$$' -fuzztime $(FUZZTIME) ./api/resp/
	$(GO) test -run '^$$' -fuzz '^FuzzReaderChunking$$' -fuzztime $(FUZZTIME) ./api/resp/
	$(GO) test -run '^$$' -fuzz '^FuzzReaderRoundTrip$$' -fuzztime $(FUZZTIME) ./api/resp/
	$(GO) test -run '^$$' -fuzz '^FuzzServerConn$$' -fuzztime $(FUZZTIME) ./api/resp/
	$(GO) test -run '^$$' -fuzz '^FuzzApplyEntry$$' -fuzztime $(FUZZTIME) ./fsm/
	$(GO) test -run '^$$' -fuzz '^FuzzRestore$$' -fuzztime $(FUZZTIME) ./fsm/

# The long fault campaign (tests/robustness): ROBUST_SEEDS runs of
# ROBUST_DURATION of faults each, on clusters of 3 or 5 nodes and 1 to 4
# groups chosen by seed. `make test` runs one short run of the same suite.
# Failed runs leave the seed, a summary, the history, node logs and the
# checker's visualisation under ROBUST_OUT.
ROBUST_SEEDS    ?= 50
ROBUST_DURATION ?= 60s
ROBUST_SEED     ?= 0
ROBUST_OUT      ?= $(CURDIR)/data/robustness
.PHONY: robustness
robustness: build
	REDRAFT_BIN=$(CURDIR)/$(BIN) REDRAFT_ROBUST_OUT=$(ROBUST_OUT) $(GO) test -count=1 -timeout 0 -v \
		-run '^TestCampaign$$' ./tests/robustness \
		-args -robust.long -robust.seeds $(ROBUST_SEEDS) -robust.duration $(ROBUST_DURATION) -robust.seed $(ROBUST_SEED)
