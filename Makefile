# Two commands for a fresh machine:
#   make demo   create .venv, install, run the whole pipeline offline (dvc repro) and show metrics
#   make test   create or reuse .venv and run the test suite
#   make gpu-smoke   on a CUDA machine: install vLLM, run a tiny bf16 pipeline with vLLM rollouts
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
VENV ?= .venv
PY := $(VENV)/bin/python
export PATH := $(abspath $(VENV))/bin:$(PATH)
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export DO_NOT_TRACK := 1

.PHONY: demo test install mlflow-ui clean mlflow-server prefect-server worker gpu-smoke

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml requirements.lock
	test -x $(PY) || python3 -m venv $(VENV)
	@echo "installing pinned dependencies into $(VENV) (a few minutes the first time)"
	$(PY) -m pip install -q -r requirements.lock 2>&1 | { grep -v "^WARNING: Location" || true; }
	$(PY) -m pip install -q --no-deps --no-build-isolation -e . 2>&1 | { grep -v "^WARNING: Location" || true; }
	touch $@

demo: install
	dvc repro
	@echo "== metrics/evaluate.json (accuracy per checkpoint: base, sft, dpo) =="
	@$(PY) -m json.tool metrics/evaluate.json
	@echo "Next: dvc plots show (loss curves, accuracy per checkpoint); make mlflow-ui (http://127.0.0.1:5000)"

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

# GPU smoke run (bench/gpu_smoke.py): the GPU check comes first, so a machine without one stops
# at once with one line, before anything is installed. vLLM brings the CUDA torch build it pins.
gpu-smoke:
	@python3 -m bench.gpu_smoke --check
	$(MAKE) install
	$(PY) -m pip install -q vllm
	$(PY) -m bench.gpu_smoke

clean:
	rm -rf data models metrics plots mlflow.db mlruns mlartifacts .dvc/cache .dvc/tmp
