# Everything a newcomer or CI needs: `make demo`, `make test`. Only python3, pip and make
# are assumed; every dependency comes from uv.lock into .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
SCALE ?= S
SEED ?= 42
START_DATE ?= 2025-01-01
DAYS ?= 365

export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: setup demo test test-fast parity bench lint lint-python lint-sql format ui docs clean

# Re-sync whenever the lock, the project metadata or this recipe changes.
# --compile-bytecode: where PYTHONDONTWRITEBYTECODE is set (these machines) no .pyc is ever
# written, and every process (the Dagster run, each dbt process, each test worker) would
# compile its ~11k modules again: 13.5 s instead of 6.7 s to import the definitions.
$(VENV)/.synced: pyproject.toml uv.lock Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv sync --frozen --quiet --compile-bytecode
	touch $@

setup: $(VENV)/.synced

demo: setup
	$(BIN)/crm-warehouse generate --scale $(SCALE) --seed $(SEED) --start-date $(START_DATE) --days $(DAYS) > /dev/null
	$(BIN)/crm-warehouse run

# Two workers (the machines have two cores); loadgroup keeps each order-dependent module
# on one worker, in the order tests/conftest.py gives (long modules first, so neither
# worker ends alone on one). dbt parses once up front so the workers never write
# manifest.json at once. One DuckDB and one dbt thread per worker: two workers already
# fill the two cores (850 s with two threads each, 767 s with one; DECISIONLOG.md, Tests).
test: setup lint
	$(BIN)/python -c "from pipelines.defs.dbt.project import prepare_manifest; prepare_manifest()"
	CRM_DUCKDB_THREADS=1 $(BIN)/pytest -n 2 --dist loadgroup --no-loadscope-reorder --durations=25

# The loop while editing: ruff and the unit tests (pure functions, dbt macros and Dagster
# definitions on tiny inputs), about two minutes; `make lint-sql` lints the models (a
# minute more). CI runs `make test parity`.
test-fast: setup lint-python
	$(BIN)/python -c "from pipelines.defs.dbt.project import prepare_manifest; prepare_manifest()"
	$(BIN)/pytest -n 2 --dist loadgroup tests/unit

# The same dbt project on a local Spark: its marts must equal DuckDB's
# (docs/scaling-out.md). Minutes of Spark, so not in `make test`; .ci/run runs both.
parity: setup
	$(BIN)/pytest tests/parity --durations=5

# Timings on generated data (docs/benchmarks.md): `make bench SCALE=M`.
bench: setup
	$(BIN)/crm-warehouse bench --scale $(SCALE) --seed $(SEED)

lint: lint-python lint-sql

lint-python: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# sqlfluff (.sqlfluff) compiles the models with the dbt templater, which opens the DuckDB
# file of the profile: a scratch one, so linting never touches a warehouse. About a minute.
lint-sql: setup
	scratch=$$(mktemp -d) && trap 'rm -rf "$$scratch"' EXIT && \
		eval "$$(CRM_DATA_DIR=$$scratch $(BIN)/crm-warehouse env)" && \
		$(BIN)/sqlfluff lint dbt_project/models --processes 2

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

ui: setup
	eval "$$($(BIN)/crm-warehouse env)" && $(BIN)/dagster dev -w workspace.yaml

docs: setup
	$(BIN)/crm-warehouse dbt docs generate

clean:
	rm -rf data bench/work dbt_project/target dbt_project/logs .pytest_cache .ruff_cache
