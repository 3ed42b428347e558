# warren's entry points. `make run` starts a node on its embedded defaults;
# `make test` is exactly what CI runs.
GO      ?= go
BIN     ?= bin/warren
WORKDIR ?= $(CURDIR)/.warren

.PHONY: all build run test vet fmt-check race bench generate clean

all: build

build:
	# static (no cgo): runs on any Linux box whatever its libc, and starts
	# faster without the dynamic loader.
	CGO_ENABLED=0 $(GO) build -o $(BIN) ./cmd/warren

# Start a node daemon in the foreground, with its state in ./.warren.
run: build
	$(BIN) daemon --workdir $(WORKDIR)

# Everything CI checks: formatting, vet, and the whole suite under the race detector.
test: fmt-check vet
	$(GO) test -race -timeout 20m ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

# Benchmarks print figures and their ratio to a baseline measured in the same run.
bench:
	$(GO) test -run '^$$' -bench . -benchtime 2s ./...

generate:
	$(GO) generate ./...

clean:
	rm -rf bin
