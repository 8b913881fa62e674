# Two commands: `make demo` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test bench lint venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	@echo "==> creating $(VENV) and installing geuse_nb[dev,dask] (first run only)"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --upgrade pip
	@$(PY) -m pip install --quiet -e '.[dev,dask]'
	@touch $(STAMP)

lint: venv
	@echo "==> ruff check"
	@$(VENV)/bin/ruff check .

test: venv lint
	@echo "==> pytest"
	@$(VENV)/bin/pytest -q

demo: venv
	@echo "==> demo: sandbox, calls, parallel fan-out, report into reports/"
	@$(PY) -m geuse_nb.demo --out reports

bench: venv
	@echo "==> benchmarks (ratios measured side by side)"
	@$(PY) -m bench

clean:
	rm -rf $(VENV) reports .pytest_cache .ruff_cache
