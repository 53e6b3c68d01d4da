# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
DEMO_SPEC := specs-examples/hello/job.yaml

.PHONY: install test lint typecheck unit demo bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -c 'import sys; sys.exit(sys.version_info < (3, 10))' || \
		{ echo "jobctl needs Python >= 3.10 (set PYTHON=...)"; exit 1; }
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@# byte-compile now: start-up time matters and PYTHONDONTWRITEBYTECODE may be set
	@$(BIN)/python -m compileall -q jobctl
	@touch $(STAMP)

install: $(STAMP)

lint: install
	$(BIN)/ruff check jobctl tests benchmarks

typecheck: install
	$(BIN)/mypy --strict jobctl

# The suite runs on 2 workers (pytest-xdist): every test has its own $JOBCTL_HOME, fake OCI and ports.
PYTEST_WORKERS ?= 2
unit: install
	$(BIN)/pytest -q -n $(PYTEST_WORKERS)

test: lint typecheck unit

demo: install
	$(BIN)/jobctl validate $(DEMO_SPEC)
	$(BIN)/jobctl apply $(DEMO_SPEC)
	$(BIN)/jobctl run hello --env MODEL=xgb --follow

bench: install
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
