# OrchestROUTER. `make run` and `make test` set everything up on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PROTOS := $(wildcard proto/orchestrouter/v1/*.proto)
TS_CLIENT := clients/typescript
TS_DEPS := $(TS_CLIENT)/node_modules/.package-lock.json

.PHONY: venv run test pytest lint typecheck proto clients lint-proto api-baseline lock bench bench-peers clean

venv: $(STAMP)

# Every dependency comes at the version pinned in requirements.lock (`make lock` renews it).
$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c requirements.lock -e '.[dev]'
	touch $(STAMP)

# Starts the scorer and the router on the embedded default, routes sample queries, stops both.
run: $(STAMP)
	$(PY) -m orchestrouter.tools.demo

# Latency and throughput figures (see clients/orchestrouter/tools/bench.py); not part of the tests.
# BENCH_ARGS passes options, e.g. make bench BENCH_ARGS='--rounds 5 --workers 2' or '--compare-workers'.
# Both measure with the Go load generator (loadgen-go) when it builds, with the Python one otherwise
# (BENCH_ARGS='--client python' asks for it).
bench: $(STAMP)
	@$(MAKE) --no-print-directory loadgen-go || echo "the Go load generator did not build: the Python client measures"
	$(PY) -m orchestrouter.tools.bench $(BENCH_ARGS)

# This router against LiteLLM's proxy and RouteLLM's server on one loopback endpoint (see
# clients/orchestrouter/tools/bench_peers.py). The first run installs both into build/peers/ (minutes).
bench-peers: $(STAMP)
	@$(MAKE) --no-print-directory loadgen-go || echo "the Go load generator did not build: the Python client measures"
	$(PY) -m orchestrouter.tools.bench_peers $(BENCH_ARGS)

# The suite and every gate, run side by side (their output kept apart): buf lint, ruff, the import
# contract, mypy and pytest. Any failure fails the target.
test: $(STAMP)
	$(MAKE) --no-print-directory --jobs=4 --output-sync=target lint-proto lint typecheck pytest

# The official openai Node SDK for tests/test_frontdoor_node.py, at the version package-lock.json pins
# (npm ci, again only when the lock changes).
NODE_OPENAI := tests/node-openai
NODE_OPENAI_STAMP := $(NODE_OPENAI)/node_modules/.package-lock.json
$(NODE_OPENAI_STAMP): $(NODE_OPENAI)/package.json $(NODE_OPENAI)/package-lock.json
	cd $(NODE_OPENAI) && npm ci --no-audit --no-fund --loglevel=error
	touch $(NODE_OPENAI_STAMP)

# The suite starts dozens of service and CLI processes: let them reuse compiled bytecode even where
# the environment sets PYTHONDONTWRITEBYTECODE (each would otherwise compile every module again).
pytest: $(STAMP) $(TS_DEPS) $(NODE_OPENAI_STAMP) go-toolchain
	PYTHONDONTWRITEBYTECODE= $(PY) -m pytest -q


# The editable install finds `orchestrouter` through an import hook that import-linter cannot walk,
# so the four source folders go on its path.
SOURCE_PATH := proto:router_service:scorer:clients
lint: $(STAMP)
	$(VENV)/bin/ruff check --no-cache .
	$(VENV)/bin/ruff format --no-cache --check .
	PYTHONPATH=$(SOURCE_PATH) $(VENV)/bin/lint-imports --no-cache

typecheck: $(STAMP)
	$(VENV)/bin/mypy

# Regenerates the committed Python code beside the protos; tests/test_generated_code.py proves it
# current. proto/ is the include root, so descriptors are named orchestrouter/v1/*.proto and the
# generated modules import as orchestrouter.v1.
proto: $(STAMP)
	rm -f proto/orchestrouter/v1/*_pb2*.py proto/orchestrouter/v1/*_pb2*.pyi
	$(PY) -m grpc_tools.protoc -Iproto --python_out=proto --pyi_out=proto --grpc_python_out=proto $(PROTOS)

# buf (from the npm registry) lints the protos against buf.yaml: STANDARD and COMMENTS rules.
BUF_VERSION := 1.75.0
BUF := npx --yes @bufbuild/buf@$(BUF_VERSION)
# ... and fails on any change to the v1 API that breaks generated code or the wire (buf.yaml's
# FILE rules) against the committed baseline image of the API.
API_BASELINE := proto/baseline/v1.binpb
lint-proto:
	$(BUF) lint
	$(BUF) breaking --against $(API_BASELINE)

# Renews the baseline after an intended change to the API, which must be additive: the check
# against the old baseline runs first. (A breaking change is a new package, orchestrouter.v2.)
# Without source info, so that editing a comment needs no new baseline.
api-baseline:
	if [ -f $(API_BASELINE) ]; then $(BUF) breaking --against $(API_BASELINE); fi
	mkdir -p $(dir $(API_BASELINE))
	$(BUF) build --exclude-source-info -o $(API_BASELINE)

# The TypeScript client's packages, exactly as its package-lock.json pins them; installed again
# whenever package.json or the lock is newer than the install (npm ci writes the stamp file).
$(TS_DEPS): $(TS_CLIENT)/package.json $(TS_CLIENT)/package-lock.json
	cd $(TS_CLIENT) && npm ci --no-audit --no-fund
	touch $(TS_DEPS)

# Every client's generated code: Python beside the protos (`make proto`), then the other
# languages from buf.gen.yaml. tests/test_generated_code.py proves the committed output current.
clients: proto $(TS_DEPS)
	$(BUF) generate

# Re-resolves every extra's dependencies to their newest allowed versions, for Python 3.11 and up.
lock: $(STAMP)
	$(VENV)/bin/uv pip compile pyproject.toml --all-extras --universal --python-version 3.11 \
		--custom-compile-command 'make lock' -o requirements.lock

clean:
	rm -rf $(VENV) build *.egg-info $(TS_CLIENT)/node_modules

# The whole fuzz target (tests/test_fuzz.py): FUZZ_EXAMPLES generated requests per test, four tests,
# over Route, RouteStream and Score through real in-process servers; prints requests per RPC, status
# counts, crashes, UNKNOWN, INTERNAL and traceback lines. `make test` runs a small fixed sample.
FUZZ_EXAMPLES ?= 2600
.PHONY: fuzz
fuzz: $(STAMP)
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(PY) -m pytest -q -p no:cacheprovider -n 0 -s tests/test_fuzz.py
# The fault run (clients/orchestrouter/tools/faultrun.py): 10,000 Route calls at concurrency 200
# with premium 503s and hangs, the scorer killed and restarted and the decision log on /dev/full;
# prints what was answered, lost and held. Not part of the tests; a few minutes on 2 cores.
.PHONY: faults
faults: $(STAMP)
	$(PY) -m orchestrouter.tools.faultrun

# The Go client (clients/go). Go, protoc, its Go plugins and the gRPC libraries come from Debian's
# packages, installed only when one is missing (quick otherwise). The build is offline, in GOPATH mode:
# Debian's library sources in /usr/share/gocode make the second GOPATH entry, and the first holds a
# link to clients/go under its import path. (Module mode cannot resolve grpc 1.33's go.mod without a
# module proxy; a vendor/ of links inside clients/ would be followed by anything that copies the tree.)
# golang-github-golang-protobuf-1-5-dev replaces the 1.3 package grpc pulls in by default: grpc 1.33's
# codec marshals through github.com/golang/protobuf, and only 1.4+ handles today's generated messages.
GO_PACKAGES := golang-go protobuf-compiler protoc-gen-go protoc-gen-go-grpc golang-google-grpc-dev \
	golang-google-protobuf-dev golang-github-golang-protobuf-1-5-dev
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
GO_PATH := $(abspath build/go/path)
GO_MODULE_LINK := $(GO_PATH)/src/orchestrouter/clients/go
GO_ENV := GO111MODULE=off GOPATH=$(GO_PATH):/usr/share/gocode GOCACHE=$(abspath build/go/cache) GOPROXY=off
.PHONY: go-toolchain go-path clients clients-go test-go
go-toolchain:
	@if [ "$$(dpkg-query -W -f='$${Status}\n' $(GO_PACKAGES) 2>/dev/null | grep -c 'ok installed')" \
		!= "$(words $(GO_PACKAGES))" ]; then \
		echo "installing the Go toolchain from Debian: $(GO_PACKAGES)"; \
		$(SUDO) apt-get update -q && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
			--no-install-recommends $(GO_PACKAGES); \
	fi

go-path: go-toolchain
	@mkdir -p $(dir $(GO_MODULE_LINK)) && ln -sfn $(abspath clients/go) $(GO_MODULE_LINK)

# The generated Go code, committed under clients/go/gen; tests/test_client_go.py regenerates it into a
# scratch folder (GO_GEN_OUT) and compares bytes. `make clients` includes it.
GO_GEN_OUT ?= clients/go/gen
GO_GEN_MODULE := orchestrouter/clients/go/gen
clients: clients-go
clients-go: go-toolchain
	rm -rf $(GO_GEN_OUT)/orchestrouter
	mkdir -p $(GO_GEN_OUT)
	cd proto && protoc -I. --go_out=$(abspath $(GO_GEN_OUT)) --go_opt=module=$(GO_GEN_MODULE) \
		--go-grpc_out=$(abspath $(GO_GEN_OUT)) --go-grpc_opt=module=$(GO_GEN_MODULE) \
		$(patsubst proto/%,%,$(PROTOS))

# The Go client's tests, against the router and scorer named by ORCHESTROUTER_GO_ROUTER_TARGET,
# ORCHESTROUTER_GO_SCORER_TARGET and ORCHESTROUTER_GO_TOKEN (tests/test_client_go.py starts both
# services and runs this for `make test`).
test-go: go-path
	cd $(GO_MODULE_LINK) && $(GO_ENV) go test -count=1 -v ./...

# The benchmark's load generator (clients/go/cmd/loadgen; orchestrouter.tools.loadgen_go runs it). The
# old binary goes first, so that a failed build leaves none for the bench to pick up.
LOADGEN_GO ?= build/go/bin/loadgen
.PHONY: loadgen-go
loadgen-go: go-path
	rm -f $(LOADGEN_GO)
	cd $(GO_MODULE_LINK) && $(GO_ENV) go build -o $(abspath $(LOADGEN_GO)) ./cmd/loadgen

# The learning loop on a simulated deployment (clients/orchestrouter/tools/loop.py): fake endpoints whose
# quality differs by a rule the router does not know, a real scorer and router with shadow rate 1 and a
# SQLite store, judge, train --from-store, tune, then hot reload under load; prints the held-out APGR of
# the shipped and the retrained model and the failed calls, and fails unless the gain is >= 0.15 with
# 0 failures. Uses the benchmark data when $$ORCHESTROUTER_DATA_DIR names it. About a minute or two.
.PHONY: loop
loop: $(STAMP)
	$(PY) -m orchestrouter.tools.loop
