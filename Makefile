# mlmf — a terminal workbench for machine-learning checkpoints.
# `make help` lists the targets.

GO      ?= go
VENV    ?= $(HOME)/.cache/mlmf/venv
PY      := $(VENV)/bin/python
BIN     := bin/mlmf
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
FUZZTIME ?= 30s

.DEFAULT_GOAL := help
.PHONY: help build run test test-go test-interop venv bench fuzz lint fixtures clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

build: ## build bin/mlmf
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/mlmf

run: build ## build and open mlmf on the embedded demo checkpoint
	./$(BIN)

test: venv lint test-go test-interop ## install what the tests need, then run all tests (Go with -race, interop)

test-go: ## Go unit, golden and fuzz-seed tests with the race detector
	$(GO) test -race -count=1 ./...

test-interop: build venv ## pytest interop checks against the reference Python libraries
	MLMF_BIN=$(CURDIR)/$(BIN) LLAMA_CPP_SRC=$(VENV)/llama.cpp $(PY) -m pytest tests/interop -q -p no:cacheprovider -rs

venv: ## create or update the oracle virtualenv ($(VENV)) from tests/interop/requirements.txt
	@VENV=$(VENV) bash scripts/venv.sh

bench: build venv ## benchmarks against their anchors (Python libraries, cat), printed with ratios
	VENV=$(VENV) MLMF_BIN=$(CURDIR)/$(BIN) bash scripts/bench.sh

fuzz: ## run every Fuzz target for FUZZTIME each (default 30s)
	@bash scripts/fuzz.sh $(FUZZTIME)

lint: ## gofmt and go vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

fixtures: ## regenerate the committed fixtures and the embedded demo checkpoint
	$(GO) run ./internal/cmd/fixtures -root .

clean: ## remove build outputs
	rm -rf bin .bench
