# `make demo`, `make test` and, while developing, `make quick`; all create .venv when missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test quick bench lint lab venv browser clean
# 4 workers on 2 cores: the tests wait on sandboxes, kernels and a browser about half the
# time (pytest -n 2: 350 s wall for 395 s of CPU); a module's tests (a notebook's cells)
# stay on one worker (tests/conftest.py). Handing the longest modules out first
# (--no-loadscope-reorder, ordered by cost) did not help: pytest took 311 and 289 s on
# fresh clones against 279 s, the heavy modules contending with each other at the start.
XDIST := -n 4 --dist loadfile
# Bytecode is cached, in .venv (not beside the sources): with PYTHONDONTWRITEBYTECODE=1
# in the environment and pip's --no-compile, every process (pytest workers, kernels,
# sandboxes, `geuse-nb` runs) compiled pandas, botocore and IPython again from source,
# and a fresh clone's pytest took 342 s against 285 s with bytecode.
export PYTHONDONTWRITEBYTECODE :=
export PYTHONPYCACHEPREFIX := $(CURDIR)/$(VENV)/pycache

venv: $(STAMP)

$(STAMP): pyproject.toml
	@echo "==> creating $(VENV) and installing geuse_nb[dev,dask] (first run only, 1-2 min)"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "    pip's progress every 5 s (full log: $(VENV)/pip-install.log)"
	@# --no-compile: modules are compiled when first imported, only those used (65 -> 43 s)
	@$(PY) -m pip install --no-compile --progress-bar off -e '.[dev,dask]' \
	  > $(VENV)/pip-install.log 2>&1 & \
	pid=$$!; n=0; while kill -0 $$pid 2>/dev/null; do sleep 1; n=$$((n + 1)); \
	  [ $$((n % 5)) = 0 ] || continue; \
	  printf '    %3s packages collected | %s\n' "$$(grep -c '^Collecting' $(VENV)/pip-install.log)" \
	    "$$(tail -n 1 $(VENV)/pip-install.log | cut -c1-70)"; done; \
	wait $$pid || { tail -n 30 $(VENV)/pip-install.log; exit 1; }
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

# mypy runs beside pytest, not before it: cold (a fresh clone) it takes 16 s of one core,
# and the tests leave a third of the two cores idle (they wait on kernels and sandboxes).
# Its verdict is printed after the tests' and fails the target as before.
test: venv browser
	@echo "==> ruff check"
	@$(VENV)/bin/ruff check .
	@echo "==> mypy in the background (settings in pyproject.toml; log: $(VENV)/mypy.log)"
	@echo "==> pytest: tests/ and the notebooks in notebooks/ (nbval, real kernels), 4 workers"
	@$(VENV)/bin/mypy > $(VENV)/mypy.log 2>&1 & types=$$!; \
	$(VENV)/bin/pytest -q $(XDIST); tests=$$?; \
	wait $$types; typed=$$?; echo "==> mypy"; cat $(VENV)/mypy.log; \
	[ $$tests = 0 ] && [ $$typed = 0 ]

# The inner loop (<= 60 s): lint, types and the unit tests; no kernels, browser, sandbox
# clocks, process starts or the reliability suite (`heavy`: tests/conftest.py). nbval is
# off (no notebooks here; its nbformat imports jsonschema, whose optional rfc3987_syntax
# builds a lark grammar on import: ~1 s in each pytest process), and 3 workers, not 2:
# the unit tests spend ~40 % of their wall waiting on sandboxes (53.6, 53.3 s → 46.9, 49.5
# s, alternated).
quick: venv lint
	@echo "==> pytest: unit tests (not heavy), 3 workers"
	@$(VENV)/bin/pytest -q -n 3 --dist loadfile -p no:nbval -o addopts=-ra \
	  -m "not heavy and not slow" tests --ignore=tests/reliability

demo: venv
	@echo "==> demo: every runbook in notebooks/ on the sandbox, into reports/ (index.html)"
	@$(VENV)/bin/geuse-nb demo

bench: venv
	@echo "==> benchmarks: geuse-nb bench (ratios measured side by side, bench/README.md)"
	@$(VENV)/bin/geuse-nb bench --json reports/bench.json --html reports/bench.html

# The runbooks in JupyterLab (the `lab` extra; dev includes it), live widgets.
lab: venv
	@$(VENV)/bin/geuse-nb lab

clean:
	rm -rf $(VENV) reports .pytest_cache .ruff_cache
