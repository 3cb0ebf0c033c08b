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
.PHONY: help build run test test-go test-interop venv bench fuzz lint fixtures screenshots clean

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

lint: ## gofmt, go vet, and a build for arm64 (the assembly's pure-Go fallbacks)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	GOARCH=arm64 $(GO) vet ./...

fixtures: venv ## regenerate the committed fixtures and the embedded demo checkpoint (Go and the Python oracles)
	$(GO) run ./internal/cmd/fixtures -root .
	HF_HUB_OFFLINE=1 $(PY) tests/interop/gen_tokenizers.py
	HF_HUB_OFFLINE=1 $(PY) tests/interop/gen_mapping.py
	LLAMA_CPP_SRC=$(VENV)/llama.cpp HF_HUB_OFFLINE=1 $(PY) tests/interop/gen_mapping_convert.py
	$(PY) tests/interop/gen_cast_vectors.py --seed 1 --count 160 formats/cast/testdata/mldtypes

screenshots: build ## regenerate screenshots/*.png (tmux + freeze; go install github.com/charmbracelet/freeze@v0.2.2)
	bash scripts/screenshots.sh

clean: ## remove build outputs
	rm -rf bin .bench
