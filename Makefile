# Two commands on a fresh machine:
#   make demo   — create .venv, install bimo, pull the embedded default model, write a poem in Chinese
#   make test   — install bimo with everything the tests need and run the whole suite
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test install install-dev browser lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade "pip>=24"

$(VENV)/.base: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q "torch==2.13.0"
	$(BIN)/pip install -q -e ".[dev]"
	touch $@ $(VENV)/.base

install: $(VENV)/.base
install-dev: $(VENV)/.dev

demo: install
	$(BIN)/bimo models pull default
	$(BIN)/bimo write "请写一首关于长江的现代诗"

# The page tests drive a real headless Chromium; as root on Debian it is installed here,
# elsewhere they are skipped (with the reason) unless /usr/bin/chromium exists, and under
# CI=true they fail without it.
browser:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" != 0 ]; then echo "chromium not installed: not root, cannot apt-get it; browser tests will be skipped (failed under CI=true)"; \
	  elif ! command -v apt-get >/dev/null; then echo "chromium not installed: no apt-get here; browser tests will be skipped (failed under CI=true)"; \
	  else apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null \
	    || echo "chromium not installed: apt-get install chromium failed (see above); browser tests will be skipped (failed under CI=true)"; fi; }

test: install-dev browser
	$(BIN)/python -m pytest

lint: install-dev
	$(BIN)/ruff check src tests benchmarks

bench: install-dev
	$(BIN)/pip install -q -e ".[bench]"
	$(BIN)/python benchmarks/backend_overhead.py

clean:
	rm -rf $(VENV) build *.egg-info
