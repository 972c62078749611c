# deliverscan — two commands on a fresh machine: `make setup`, then `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: setup system-deps test lint scan fixtures bench bench-metadata bench-register fuzz clean

setup: system-deps $(BIN)/deliverscan

# (PYTHONWARNINGS: setuptools explains editable installs at length on every run. compileall:
# byte code even where PYTHONDONTWRITEBYTECODE is set, so no run compiles the sources again.)
$(BIN)/deliverscan: pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	PYTHONWARNINGS="ignore:Editable installation" $(BIN)/pip install -q -e '.[test]'
	$(BIN)/python -m compileall -q scanner detectors
	touch $@

# ExifTool drives the deep metadata tier; ffmpeg is only needed to regenerate fixtures.
system-deps:
	@sh scripts/install-system-deps.sh

test: $(BIN)/deliverscan
	$(BIN)/ruff check scanner detectors tests fixtures bench
	$(BIN)/mypy
	$(BIN)/pytest

lint:
	$(BIN)/ruff check scanner detectors tests fixtures bench
	$(BIN)/mypy

scan: $(BIN)/deliverscan
	-$(BIN)/deliverscan scan fixtures

fixtures: $(BIN)/deliverscan
	DELIVERSCAN_FIXTURE_TOOLS=1 sh scripts/install-system-deps.sh
	$(BIN)/python -m fixtures.make_fixtures

clean:
	rm -rf build *.egg-info .pytest_cache .ruff_cache test-artifacts

bench: $(BIN)/deliverscan
	$(BIN)/python -m bench.run_bench

FUZZ_SECONDS ?= 1800
fuzz: $(BIN)/deliverscan
	$(BIN)/python -m bench.fuzz --seconds $(FUZZ_SECONDS)

bench-metadata: $(BIN)/deliverscan
	$(BIN)/python -m bench.bench_metadata

bench-register: $(BIN)/deliverscan
	$(BIN)/python -m bench.bench_register
