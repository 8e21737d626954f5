# Two commands for a fresh machine:
#   make demo   create .venv, install, run the whole pipeline offline (dvc repro), write reports/index.html
#   make test   create or reuse .venv and run the test suite
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
VENV ?= .venv
PY := $(VENV)/bin/python
export PATH := $(abspath $(VENV))/bin:$(PATH)
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export DO_NOT_TRACK := 1

.PHONY: demo test install plots mlflow-ui clean mlflow-server prefect-server worker

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml requirements.lock
	test -x $(PY) || python3 -m venv $(VENV)
	@echo "installing pinned dependencies into $(VENV) (a few minutes the first time)"
	$(PY) -m pip install -q -r requirements.lock 2>&1 | { grep -v "^WARNING: Location" || true; }
	$(PY) -m pip install -q --no-deps --no-build-isolation -e . 2>&1 | { grep -v "^WARNING: Location" || true; }
	touch $@

demo: install
	dvc repro --quiet   # no "git add dvc.lock" / "dvc push" hints; stages print their own summaries
	@$(PY) -m supercorrect.report
	@echo "Next: open reports/index.html; make plots (dvc plots, offline); make mlflow-ui (http://127.0.0.1:5000)"

# `dvc plots diff` (the workspace against HEAD) with vega inlined: DVC's own page loads it from a CDN.
plots: install
	@$(PY) -m supercorrect.report --dvc-template .dvc/tmp/plots_offline.html
	dvc plots diff --html-template $(abspath .dvc/tmp/plots_offline.html)

test: install
	$(PY) -m pytest

mlflow-ui: install
	$(PY) -m mlflow ui --backend-store-uri sqlite:///mlflow.db --host 127.0.0.1 --port 5000

# Operating it (README "Operating it"): each in its own terminal.
mlflow-server: install   ## MLflow tracking server; settings from the environment (mlflow/server.sh)
	bash mlflow/server.sh

prefect-server: install  ## Prefect server and UI on http://127.0.0.1:4200
	prefect server start --host 127.0.0.1 --port 4200

POOL ?= cpu
worker: install          ## a process worker: make worker POOL=cpu | make worker POOL=gpu
	prefect worker start --pool $(POOL) --type process

clean:
	rm -rf data models metrics plots reports dvc_plots mlflow.db mlruns mlartifacts .dvc/cache .dvc/tmp
