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
