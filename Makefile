# civiclake — the commands a newcomer needs. `make help` lists them.
SHELL := /bin/bash
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
# Airflow lives in its own virtualenv: its pins never meet civiclake's (dags/requirements-airflow.txt).
AIRFLOW_VENV ?= .venv-airflow
AIRFLOW_INSTALLED := $(AIRFLOW_VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install airflow-venv system-deps demo demo-cluster test test-unit fuzz lint format bench bench-scale clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev,transform,cluster]"
	touch $@

install: $(INSTALLED) ## Create .venv and install civiclake with its development tools

$(AIRFLOW_INSTALLED): dags/requirements-airflow.txt dags/constraints-airflow.txt
	$(PYTHON) -m venv $(AIRFLOW_VENV)
	$(AIRFLOW_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(AIRFLOW_VENV)/bin/python -m pip install --quiet -r dags/requirements-airflow.txt -c dags/constraints-airflow.txt
	touch $@

airflow-venv: $(AIRFLOW_INSTALLED) ## Create .venv-airflow (Airflow 3 + Kubernetes provider) for the DAGs and their tests

system-deps: ## Install the servers the integration tests start (PostgreSQL, Prometheus, etcd, ShellCheck)
	bash scripts/install-system-deps.sh

.PHONY: images
images: $(INSTALLED) system-deps ## Build the ingest, dbt and Airflow images with podman, as tests/images does (images/README.md)
	$(BIN)/python -m civiclake.servers.images

demo: $(INSTALLED) ## Run the whole pipeline offline on the bundled data.gouv.fr mirror
	$(BIN)/civiclake demo
	@echo "civiclake is installed in $(VENV): run 'source $(VENV)/bin/activate' to put it on your PATH"

demo-cluster: $(INSTALLED) system-deps ## The demo on the cluster profile: MinIO, PostgreSQL catalog, dbt on Trino (civiclake dev up)
	bash scripts/demo-cluster.sh

test: $(INSTALLED) $(AIRFLOW_INSTALLED) system-deps ## Run every test, unit and integration (starts real servers)
	$(BIN)/pytest

test-unit: $(INSTALLED) $(AIRFLOW_INSTALLED) ## Only the tests that start no server
	$(BIN)/pytest -m "not integration"

FUZZ_EXAMPLES ?= 20000

fuzz: $(INSTALLED) ## Fuzz the format readers longer than the suite does (FUZZ_EXAMPLES per property, 20000)
	CIVICLAKE_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/pytest tests/formats/test_fuzz_readers.py -p no:cacheprovider

lint: $(INSTALLED) $(AIRFLOW_INSTALLED) ## ruff (lint + format check) and mypy
	$(BIN)/ruff check src tests benchmarks dags
	$(BIN)/ruff format --check src tests benchmarks dags
	$(BIN)/mypy src
	cd dags && ../$(BIN)/mypy --python-executable ../$(AIRFLOW_VENV)/bin/python --disable-error-code import-untyped .

format: $(INSTALLED) ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix src tests benchmarks dags
	$(BIN)/ruff format src tests benchmarks dags

# The benchmark's contenders (pandas, dlt...) in their own virtualenv: their pins never meet civiclake's.
BENCH_VENV ?= .venv-bench
BENCH_INSTALLED := $(BENCH_VENV)/.installed
BENCH_ARGS ?=
BENCH_CLUSTER_ARGS ?=
BENCH_OLIST_ARGS ?=

$(BENCH_INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install --quiet ".[bench]"
	touch $@

bench: $(INSTALLED) $(BENCH_INSTALLED) system-deps ## Sync vs DuckDB, polars, pandas, dlt (docs/performance.md); cluster vs local profile (docs/performance-cluster.md); Olist demo data (docs/performance-olist.md)
	$(BIN)/python -m benchmarks.sync_throughput --contenders-python $(BENCH_VENV)/bin/python $(BENCH_ARGS)
	$(BIN)/python -m benchmarks.cluster_profile $(BENCH_CLUSTER_ARGS)
	$(BIN)/python -m benchmarks.olist_demo $(BENCH_OLIST_ARGS)

BENCH_SCALE_ARGS ?=

bench-scale: $(INSTALLED) airflow-venv system-deps ## How the cost grows with datasets, tables, days of runs and mapped tasks (docs/scalability.md)
	$(BIN)/python -m benchmarks.scale_catalogue $(BENCH_SCALE_ARGS)
	$(BIN)/python -m benchmarks.scale_tables $(BENCH_SCALE_ARGS)
	$(BIN)/python -m benchmarks.scale_month $(BENCH_SCALE_ARGS)
	$(BIN)/python -m benchmarks.scale_orchestration --airflow-python $(AIRFLOW_VENV)/bin/python $(BENCH_SCALE_ARGS)

clean: ## Remove the virtualenv, the local lakehouse and caches
	rm -rf $(VENV) $(AIRFLOW_VENV) $(BENCH_VENV) .civiclake .pytest_cache .ruff_cache .mypy_cache
