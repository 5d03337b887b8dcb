# OrchestROUTER. `make run` and `make test` set everything up on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PROTOS := $(wildcard proto/orchestrouter/v1/*.proto)

.PHONY: venv run test pytest lint typecheck proto lint-proto lock bench clean

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
bench: $(STAMP)
	$(PY) -m orchestrouter.tools.bench

# The suite and every gate, run side by side (their output kept apart): buf lint, ruff, the import
# contract, mypy and pytest. Any failure fails the target.
test: $(STAMP)
	$(MAKE) --no-print-directory --jobs=4 --output-sync=target lint-proto lint typecheck pytest

# The suite starts dozens of service and CLI processes: let them reuse compiled bytecode even where
# the environment sets PYTHONDONTWRITEBYTECODE (each would otherwise compile every module again).
pytest: $(STAMP)
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
lint-proto:
	npx --yes @bufbuild/buf@$(BUF_VERSION) lint

# Re-resolves every extra's dependencies to their newest allowed versions, for Python 3.11 and up.
lock: $(STAMP)
	$(VENV)/bin/uv pip compile pyproject.toml --all-extras --universal --python-version 3.11 \
		--custom-compile-command 'make lock' -o requirements.lock

clean:
	rm -rf $(VENV) build *.egg-info

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

# The learning loop on a simulated deployment (clients/orchestrouter/tools/loop.py): fake endpoints whose
# quality differs by a rule the router does not know, a real scorer and router with shadow rate 1 and a
# SQLite store, judge, train --from-store, tune, then hot reload under load; prints the held-out APGR of
# the shipped and the retrained model and the failed calls, and fails unless the gain is >= 0.15 with
# 0 failures. Uses the benchmark data when $$ORCHESTROUTER_DATA_DIR names it. About a minute or two.
.PHONY: loop
loop: $(STAMP)
	$(PY) -m orchestrouter.tools.loop
