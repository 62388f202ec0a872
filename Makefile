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
# a live server), the log-entry decoder (entries built from the input, and
# raw bytes), the snapshot reader, the peer connection and snapshot
# headers, and WAL recovery from arbitrary segment bytes, FUZZTIME each. Without -fuzz, `go test` runs the same targets on their seed
# corpora.
FUZZTIME ?= 10s
.PHONY: fuzz
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzReader$$' -fuzztime $(FUZZTIME) ./api/resp/
	$(GO) test -run '^$$' -fuzz '^FuzzReaderChunking$$' -fuzztime $(FUZZTIME) ./api/resp/
	$(GO) test -run '^$$' -fuzz '^FuzzReaderRoundTrip$$' -fuzztime $(FUZZTIME) ./api/resp/
	$(GO) test -run '^$$' -fuzz '^FuzzServerConn$$' -fuzztime $(FUZZTIME) ./api/resp/
	$(GO) test -run '^$$' -fuzz '^FuzzApplyEntry$$' -fuzztime $(FUZZTIME) ./fsm/
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeEntry$$' -fuzztime $(FUZZTIME) ./fsm/
	$(GO) test -run '^$$' -fuzz '^FuzzRestore$$' -fuzztime $(FUZZTIME) ./fsm/
	$(GO) test -run '^$$' -fuzz '^FuzzMuxHeader$$' -fuzztime $(FUZZTIME) ./raftnode/
	$(GO) test -run '^$$' -fuzz '^FuzzSnapHeader$$' -fuzztime $(FUZZTIME) ./raftnode/
	$(GO) test -run '^$$' -fuzz '^FuzzRecover$$' -fuzztime $(FUZZTIME) ./raftnode/wal/

# The long fault campaign (tests/robustness): ROBUST_SEEDS runs of
# ROBUST_DURATION of faults each, seeds ROBUST_SEED, ROBUST_SEED+1, ...
# (ROBUST_SEED=0: from the clock), on clusters of 3 or 5 nodes, 1 to 4
# groups and the WAL or bolt log store chosen by seed; about 70 s per run
# of 60 s. `make test` runs one short run of the same suite. Each run and
# the total print operations checked, faults injected by kind, violations
# and lost writes. Failed runs leave the seed, a summary, the history,
# node logs and the checker's visualisation under ROBUST_OUT. Two
# campaigns may run at once with disjoint seed ranges.
ROBUST_SEEDS    ?= 50
ROBUST_DURATION ?= 60s
ROBUST_SEED     ?= 0
ROBUST_OUT      ?= $(CURDIR)/data/robustness
.PHONY: robustness
robustness: build
	REDRAFT_BIN=$(CURDIR)/$(BIN) REDRAFT_ROBUST_OUT=$(ROBUST_OUT) $(GO) test -count=1 -timeout 0 -v \
		-run '^TestCampaign$$' ./tests/robustness \
		-args -robust.long -robust.seeds $(ROBUST_SEEDS) -robust.duration $(ROBUST_DURATION) -robust.seed $(ROBUST_SEED)
