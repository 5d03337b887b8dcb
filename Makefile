# OrchestROUTER. `make run` and `make test` set everything up on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PROTOS := $(wildcard proto/orchestrouter/v1/*.proto)
STUBS := clients/stubs

.PHONY: venv run test proto lint-proto bench train eval clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Starts the scorer and the router on the embedded default, routes sample queries, stops both.
run: $(STAMP)
	$(PY) -m clients.demo

# Latency and throughput figures (see clients/bench.py); not part of the tests.
bench: $(STAMP)
	$(PY) -m clients.bench

test: $(STAMP) lint-proto
	$(PY) -m pytest -q

# Regenerates the committed Python stubs; tests/test_generated_code.py proves they are current.
# The virtual include path makes the generated imports read `clients.stubs.orchestrouter.v1`.
proto: $(STAMP)
	rm -rf $(STUBS)/orchestrouter
	$(PY) -m grpc_tools.protoc -I$(STUBS)=proto --python_out=. --pyi_out=. --grpc_python_out=. \
		$(patsubst proto/%,proto/%,$(PROTOS))
	find $(STUBS) -type d -exec touch {}/__init__.py \;

# buf (from the npm registry) lints the protos against buf.yaml: STANDARD and COMMENTS rules.
BUF_VERSION := 1.75.0
lint-proto:
	npx --yes @bufbuild/buf@$(BUF_VERSION) lint

clean:
	rm -rf $(VENV) build *.egg-info
