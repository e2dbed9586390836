# civiclake — the commands a newcomer needs. `make help` lists them.
SHELL := /bin/bash
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install system-deps demo test test-unit lint format bench clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

install: $(INSTALLED) ## Create .venv and install civiclake with its development tools

system-deps: ## Install the servers the integration tests start (PostgreSQL, Ceph radosgw, Prometheus)
	bash scripts/install-system-deps.sh

demo: $(INSTALLED) ## Run the whole pipeline offline on the bundled data.gouv.fr mirror
	$(BIN)/civiclake demo

test: $(INSTALLED) system-deps ## Run every test, unit and integration (starts real servers)
	$(BIN)/pytest

test-unit: $(INSTALLED) ## Only the tests that start no server
	$(BIN)/pytest -m "not integration"

lint: $(INSTALLED) ## ruff (lint + format check) and mypy
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy src

format: $(INSTALLED) ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix src tests benchmarks
	$(BIN)/ruff format src tests benchmarks

bench: $(INSTALLED) ## Measure civiclake sync against a plain CSV->Parquet baseline; writes docs/performance.md
	$(BIN)/python -m benchmarks.sync_throughput

clean: ## Remove the virtualenv, the local lakehouse and caches
	rm -rf $(VENV) .civiclake .pytest_cache .ruff_cache .mypy_cache
