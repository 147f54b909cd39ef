# cungdan: the fixed handles. `make run` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PROJECTS := pyproject.toml contracts/pyproject.toml $(wildcard services/*/pyproject.toml)

.PHONY: install run test test-fast test-slow test-fault fuzz lint typecheck bench schemas clean

$(STAMP): $(PROJECTS) requirements-dev.txt constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements-dev.txt -c constraints.txt
	touch $(STAMP)

install: $(STAMP)  ## create .venv and install everything (editable)

run: install  ## nats-server + ingest + projector + demo data, until Ctrl-C
	$(BIN)/cungdan run

test: install lint typecheck  ## every check and every test
	$(BIN)/pytest

test-fast: install  ## unit tests only
	$(BIN)/pytest tests/unit

test-slow: install  ## only the long fault and load tests
	$(BIN)/pytest -m slow

test-fault: install  ## only the fault-injection tests (SIGKILL, broker and database outages)
	$(BIN)/pytest -m fault

fuzz: install  ## schemathesis against the ingest's OpenAPI: 5,000 generated requests, no 5xx
	CUNGDAN_FUZZ_EXAMPLES=$${CUNGDAN_FUZZ_EXAMPLES:-5000} $(BIN)/pytest -p no:cacheprovider -s \
		tests/integration/test_ingest_fuzz.py

lint: install
	$(BIN)/ruff check .

typecheck: install
	$(BIN)/mypy

schemas: install  ## regenerate the JSON Schemas and the AsyncAPI document from the code
	$(BIN)/python -m cungdan_contracts.schemas contracts/schemas
	$(BIN)/python -m cungdan_service.asyncapi docs/asyncapi.json

bench: install  ## benchmarks with same-run baselines (writes docs/benchmarks.md)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
