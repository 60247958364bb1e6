# The two set-up commands of the README: `make up` and `make test`. Each installs what
# it needs on a fresh Debian 12 machine with Python 3.11.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# uv manages the workspace; installed from PyPI when missing. Lazy (=) so the recipe
# sees a uv that an earlier prerequisite just installed.
UV = $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
PYTEST_ARGS ?=
# Test files run on this many pytest-xdist workers, each file on one worker (its
# module-scoped daemons are started once). Most tests wait on daemons rather than
# compute, so more workers than the 2 cores pay; PYTEST_WORKERS=0 runs in one process.
PYTEST_WORKERS ?= 4
# `make bench BENCH_ARGS=--quick`: a smoke run of every benchmark (smaller counts).
BENCH_ARGS ?=

# Debian packages the tests need (real daemons the fixtures start privately): etcd,
# Docker 20.10 (dockerd and its client /usr/bin/docker) with containerd and runc, the
# image registry the pull tests push to, and the static busybox the test images are
# built from (no public registry is needed; Debian's dynamically linked "busybox" is
# replaced, since an image holds that one binary and nothing else), and the CNI
# plugins containerd's CRI plugin sets pods' loopback up with (the cri runtime's tests)
# and the cni network plugin builds pods' networks with; nftables' nft, which the
# Service proxy and NetworkPolicy rules are written through (in test namespaces only).
SYSTEM_PACKAGES := etcd-server docker.io containerd runc docker-registry busybox-static \
	containernetworking-plugins nftables

.PHONY: help tools system-deps up-deps sync plugin-layer-cache lint format test bench up

help:
	@echo "make up      run a Navarch cluster on the embedded defaults"
	@echo "make test    install what the tests need, lint, and run every test"
	@echo "make bench   run every benchmark: store, API server, scheduler, runtimes, controllers, end to end vs Docker Swarm, networking, cluster DNS (tables, targets met or not)"
	@echo "             make bench BENCH_ARGS=--quick for a smoke run of each"
	@echo "make lint    ruff check + format check + mypy (types)"
	@echo "make format  apply ruff's fixes and formatting"

tools:
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 \
		|| python3 -m pip install --quiet --disable-pip-version-check uv

system-deps:
	@missing=""; \
	command -v etcd >/dev/null 2>&1 || missing="$$missing etcd-server"; \
	[ -x /usr/sbin/dockerd ] || command -v dockerd >/dev/null 2>&1 || missing="$$missing docker.io"; \
	command -v containerd >/dev/null 2>&1 || missing="$$missing containerd"; \
	[ -x /usr/sbin/runc ] || command -v runc >/dev/null 2>&1 || missing="$$missing runc"; \
	[ -x /usr/bin/docker-registry ] || missing="$$missing docker-registry"; \
	[ -x /usr/lib/cni/loopback ] || missing="$$missing containernetworking-plugins"; \
	[ -x /usr/sbin/nft ] || missing="$$missing nftables"; \
	{ [ -x /usr/bin/busybox ] && ! ldd /usr/bin/busybox >/dev/null 2>&1; } \
		|| missing="$$missing busybox-static"; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -q && apt-get install -y -q --no-install-recommends $$missing; \
	fi

sync: tools
	$(UV) sync --all-packages --locked

lint: sync
	$(UV) run --no-sync ruff check .
	$(UV) run --no-sync ruff format --check .
	$(UV) run --no-sync mypy

format: sync
	$(UV) run --no-sync ruff check --fix .
	$(UV) run --no-sync ruff format .

# tests/test_tutorial.py runs the tutorial's `uv run --with-editable ../my-policy`
# offline; uv resolves that layer from index metadata that `uv sync --locked` never
# fetches. Resolving a plugin of the same shape here (with the network) fills uv's
# cache — an empty one on a fresh machine included. tests/fixtures/layer_plugin says more.
plugin-layer-cache: sync
	$(UV) run --no-sync --quiet --with-editable tests/fixtures/layer_plugin navarch version >/dev/null

test: lint system-deps plugin-layer-cache
	$(UV) run --no-sync pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

bench: sync system-deps
	$(UV) run --no-sync python bench/store.py $(BENCH_ARGS)
	$(UV) run --no-sync python bench/api.py $(BENCH_ARGS)
	$(UV) run --no-sync python bench/scheduler.py $(BENCH_ARGS)
	$(UV) run --no-sync python bench/runtime.py $(BENCH_ARGS)
	$(UV) run --no-sync python bench/controllers.py $(BENCH_ARGS)
	$(UV) run --no-sync python bench/e2e.py $(BENCH_ARGS)
	$(UV) run --no-sync python bench/navctl_startup.py $(BENCH_ARGS)
	$(UV) run --no-sync python bench/network.py $(BENCH_ARGS)
	$(UV) run --no-sync python bench/cluster_dns.py $(BENCH_ARGS)

# What `navarch up` needs beyond Python: a container runtime and the static busybox its
# demo image is built from. As root, Debian's containerd and runc are installed when
# missing (navarch up then starts a containerd of the cluster's own); otherwise
# navarch up uses a running Docker or says what to install.
UP_PACKAGES := containerd runc busybox-static
UP_ARGS ?=

up-deps:
	@if [ "$$(id -u)" = 0 ]; then \
		missing=""; \
		command -v containerd >/dev/null 2>&1 || missing="$$missing containerd"; \
		[ -x /usr/sbin/runc ] || command -v runc >/dev/null 2>&1 || missing="$$missing runc"; \
		{ [ -x /usr/bin/busybox ] && ! ldd /usr/bin/busybox >/dev/null 2>&1; } \
			|| missing="$$missing busybox-static"; \
		if [ -n "$$missing" ]; then \
			echo "installing Debian packages:$$missing"; \
			export DEBIAN_FRONTEND=noninteractive; \
			apt-get update -q && apt-get install -y -q --no-install-recommends $$missing; \
		fi; \
	else \
		echo "not root: installing no system packages (navarch up says what it lacks)"; \
	fi

# `make up UP_ARGS="--nodes 5"`; Ctrl-C stops it, `uv run navarch down` removes it.
up: sync up-deps
	$(UV) run --no-sync navarch up $(UP_ARGS)
