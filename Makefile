# The two set-up commands of the README: `make up` and `make test`. Each installs what
# it needs on a fresh Debian 12 machine with Python 3.11.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# uv manages the workspace; installed from PyPI when missing. Lazy (=) so the recipe
# sees a uv that an earlier prerequisite just installed.
UV = $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
PYTEST_ARGS ?=

.PHONY: help tools sync lint format test up

help:
	@echo "make up      run a Navarch cluster on the embedded defaults"
	@echo "make test    install what the tests need, lint, and run every test"
	@echo "make lint    ruff check + format check"
	@echo "make format  apply ruff's fixes and formatting"

tools:
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 \
		|| python3 -m pip install --quiet --disable-pip-version-check uv

sync: tools
	$(UV) sync --all-packages --locked

lint: sync
	$(UV) run --no-sync ruff check .
	$(UV) run --no-sync ruff format --check .

format: sync
	$(UV) run --no-sync ruff check --fix .
	$(UV) run --no-sync ruff format .

test: lint
	$(UV) run --no-sync pytest $(PYTEST_ARGS)

up: sync
	@echo "make up: the all-in-one cluster (navarch up) arrives with the API server," \
		"scheduler, controllers and agent issues; nothing to start yet." >&2
	@exit 1
