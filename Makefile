# The two commands of the README, and the steps they are made of.
#   make test   set up .venv, start a local Kafka if none runs, lint, type-check, run every test
#   make test-fast  the broker-free tests only, for the edit-test loop (under a minute)
#   make run    the whole thing on a laptop: Kafka + ECS simulator + worker + sample requests
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
KAFKA_PORT ?= 9092
export KAFKA_PORT
export KAFKA_CHECK_PYTHON := $(abspath $(BIN)/python)
export ECSP_TEST_KAFKA_BOOTSTRAP ?= 127.0.0.1:$(KAFKA_PORT)
PYTEST_ARGS ?=

.PHONY: venv test test-fast test-lowest lint typecheck pytest run kafka-start kafka-stop schemas bench reliability \
	reliability-outage mutation clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml schemas/pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required (set PYTHON=...)")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e './schemas[export]' -e '.[test]'
	@touch $@

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/ecs-provisioner schemas check

typecheck: venv
	$(BIN)/mypy worker schemas tests tools

pytest: venv
	deploy/local/with-kafka.sh $(BIN)/pytest $(PYTEST_ARGS)

test: lint typecheck pytest

# The edit-test loop: every test that needs no broker and is not marked slow (under a minute);
# property tests run a quarter of their examples (ECSP_TEST_FAST, tests/support/examples.py);
# it ends by saying what it left out. `make test` (what CI runs) is still the whole suite.
test-fast: venv
	ECSP_TEST_FAST=1 $(BIN)/pytest -q -p no:cacheprovider -m "not kafka and not slow" $(PYTEST_ARGS)

# The broker-free unit tests on the LOWEST versions pyproject allows for every direct dependency
# (uv's lowest-direct resolution), in a venv of their own: proves the floors are true.
LOWEST_VENV ?= .venv-lowest
LOWEST_TESTS ?= tests/ops tests/ecs tests/pipeline tests/consumer tests/schemas tests/simulator tests/cli tests/deploy
test-lowest:
	@test -x $(LOWEST_VENV)/bin/python || $(PYTHON) -m venv $(LOWEST_VENV)
	$(LOWEST_VENV)/bin/python -m pip install --quiet --upgrade uv
	$(LOWEST_VENV)/bin/uv pip install --quiet --python $(LOWEST_VENV)/bin/python --resolution lowest-direct -e './schemas[export]' -e '.[test]'
	$(LOWEST_VENV)/bin/python -m pytest -m "not kafka" -q -p no:cacheprovider $(LOWEST_TESTS)

run: venv
	deploy/local/run.sh

kafka-start:
	deploy/local/kafka.sh start

kafka-stop:
	deploy/local/kafka.sh stop

schemas: venv
	$(BIN)/ecs-provisioner schemas export

# The full reliability run (own broker on port 9392; SEED=N to vary), the delivery modes under
# the same faults side by side (issue 26: about 10 minutes), then the ECS API outage and
# throttling runs (reliability-outage alone: about 15 minutes).
reliability: venv
	$(BIN)/python -m tests.reliability.run --seed $(or $(SEED),1)
	$(BIN)/python -m tests.reliability.delivery --seed $(or $(SEED),1)
	deploy/local/with-kafka.sh $(BIN)/python -m tests.reliability.outage

reliability-outage: venv
	deploy/local/with-kafka.sh $(BIN)/python -m tests.reliability.outage

bench: venv
	deploy/local/with-kafka.sh $(BIN)/python -m tests.bench.run

# Mutation testing of the core modules with their broker-free unit tests (docs/mutation.md);
# MODULES="worker.ecs.retry ..." limits it to some modules. A few minutes on 2 cores.
mutation: venv
	$(BIN)/python -m pip install --quiet -e './schemas[export]' -e '.[test,mutation]'
	$(BIN)/python -m tests.mutation.run $(MODULES)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis .mutation
