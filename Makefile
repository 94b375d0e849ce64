# Two commands do all the set-up: `make forecast` and `make test`.
PYTHON_VERSION := $(shell cat .python-version)
PY ?= $(shell command -v python$(PYTHON_VERSION) 2>/dev/null || (command -v pyenv >/dev/null && echo "$$(pyenv root)/versions/$$(pyenv latest $(PYTHON_VERSION) 2>/dev/null)/bin/python") || echo python3)
VENV := .venv
BIN := $(VENV)/bin
# The stamp depends on pyproject.toml: a changed pyproject makes the venv stale and it is rebuilt.
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
MONTH ?=
# extra options for `forecast run`, e.g. make forecast ARGS="--quick --force"
ARGS ?=

.PHONY: forecast test test-all bench data clean venv

# Python may cache the bytecode of what it imports in .venv and the checkout: where the
# environment forbids it (PYTHONDONTWRITEBYTECODE, set on some machines), every process
# compiles the ~800 modules it imports again, 14.5 s against 6 s per process here
# (docs/decisions/0023-bytecode-cache.md). uv installs without compiling them.
unexport PYTHONDONTWRITEBYTECODE

# The installer uv, as the `installer` extra of pyproject.toml pins it.
UV_REQ = $(shell $(PY) -c "import tomllib; print(tomllib.load(open('pyproject.toml', 'rb'))['project']['optional-dependencies']['installer'][0])")

# uv installs the same packages as pip in a sixth of the time on a machine with no download
# cache (docs/decisions/0014-installer.md); where uv cannot, pip does.
$(STAMP): pyproject.toml .python-version
	@echo ">> creating $(VENV) with $(PY)"
	rm -rf $(VENV)
	$(PY) -m venv $(VENV)
	( $(BIN)/python -m pip install --quiet "$(UV_REQ)" \
	  && $(BIN)/python -m uv pip install --quiet --python $(BIN)/python -e ".[dev]" ) \
	|| ( echo ">> uv failed; installing with pip" \
	  && $(BIN)/python -m pip install --quiet --upgrade pip \
	  && $(BIN)/python -m pip install --quiet -e ".[dev]" )
	touch $(STAMP)

venv: $(STAMP)

forecast: $(STAMP)
	$(BIN)/forecast run $(if $(MONTH),--month $(MONTH),) $(ARGS)

# The tests also run the JAX path (numpyro on the CPU) and backtests on a Dask scheduler, so
# the suite installs the optional `gpu` and `distributed` extras, which the monthly run does
# not need (they would lengthen a first `make forecast`). Where they cannot be installed
# their tests are skipped.
GPU_STAMP := $(VENV)/.installed-gpu
$(GPU_STAMP): $(STAMP)
	( $(BIN)/python -m uv pip install --quiet --python $(BIN)/python -e ".[dev,distributed]" \
	  || $(BIN)/python -m pip install --quiet -e ".[dev,distributed]" ) \
	|| echo ">> the distributed extra (dask) could not be installed: its tests are skipped"
	( $(BIN)/python -m uv pip install --quiet --python $(BIN)/python -e ".[dev,gpu,distributed]" \
	  || $(BIN)/python -m pip install --quiet -e ".[dev,gpu,distributed]" ) \
	|| echo ">> the gpu extra (jax, numpyro) could not be installed: its tests are skipped"
	touch $(GPU_STAMP)

# The suite CI runs: everything but the tests marked slow (model recovery and calibration
# fits, each minutes long), which `make test-all` adds.
test: $(GPU_STAMP)
	$(BIN)/python -m pytest -n 2 -m "not slow" $(PYTEST_ARGS)

test-all: $(GPU_STAMP)
	$(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py --workload S --repeat 3 --naive-repeat 1 \
	  --out benchmarks/results/S.json

data: $(STAMP)
	$(BIN)/python scripts/build_default_data.py

clean:
	rm -rf $(VENV) build dist *.egg-info
