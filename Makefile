# The two set-up commands of the README:
#   make run    install into .venv and start the service on the embedded SQLite default
#   make test   install (PostGIS and Chromium too, when missing) and run every check
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
# The checkout on sys.path by a .pth line: setuptools' default editable finder costs
# every siji process 10-30 ms of start-up (a fresh `siji lookup` is 0.15 s in all).
EDITABLE := --config-settings editable_mode=compat

.PHONY: run test lint install system-deps bench fuzz-long load-long crash-long

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]' $(EDITABLE)
	rm -f $(VENV)/.installed-*
	touch $@

# The checkout's bytecode, as pip writes it for installed packages: where
# PYTHONDONTWRITEBYTECODE is set (CI is such a place) every siji process would
# otherwise compile its ~40 modules again (45 ms of a fresh `siji lookup-batch`).
# Up-to-date files are skipped; a stale one is only recompiled in memory, never used.
PACKAGES := geo boundaries greenspace batch store routing maps api siji

install: $(STAMP)
	@$(BIN)/python -m compileall -q -j 0 $(PACKAGES) > /dev/null

run: install
	$(BIN)/siji serve

system-deps:
	scripts/system-deps.sh

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: install system-deps lint
	$(BIN)/python -m pytest -q -p no:cacheprovider

bench: install
	$(BIN)/python -m pip install -q -e '.[test,bench]' $(EDITABLE)
	$(BIN)/python -m benchmarks --json benchmarks/results.json

# The long forms of the hardening tests (CI runs short ones inside `make test`).
fuzz-long: install
	SIJI_FUZZ_EXAMPLES=1000 SIJI_FUZZ_MAP_EXAMPLES=25 $(BIN)/python -m pytest -q -p no:cacheprovider \
		tests/api/test_fuzz.py --junitxml=fuzz-long.xml

load-long: install
	$(BIN)/python -m benchmarks.load --seconds 300

crash-long: install system-deps
	SIJI_CRASH_ROUNDS=50 $(BIN)/python -m pytest -q -p no:cacheprovider -rP tests/system/test_crash.py
