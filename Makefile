# Two commands: `make demo` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test bench lint venv browser clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	@echo "==> creating $(VENV) and installing geuse_nb[dev,dask] (first run only)"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --quiet --upgrade pip
	@$(PY) -m pip install --quiet --quiet -e '.[dev,dask]'
	@touch $(STAMP)

lint: venv
	@echo "==> ruff check"
	@$(VENV)/bin/ruff check .
	@echo "==> mypy (settings in pyproject.toml)"
	@$(VENV)/bin/mypy

# The HTML report is checked in a real headless browser: Debian's chromium.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "==> installing Debian's chromium for the report test (first run only)"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq chromium >/dev/null; \
	  else echo "run as root or: sudo apt-get install chromium"; exit 1; fi; }

test: venv lint browser
	@echo "==> pytest: tests/ and the notebooks in notebooks/ (nbval, real kernels)"
	@$(VENV)/bin/pytest -q

demo: venv
	@echo "==> demo: sandbox, calls, parallel fan-out, report into reports/"
	@$(VENV)/bin/geuse-nb demo --out reports

bench: venv
	@echo "==> benchmarks (ratios measured side by side)"
	@$(PY) -m bench

clean:
	rm -rf $(VENV) reports .pytest_cache .ruff_cache
