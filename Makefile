# Everything installs itself: `make demo` and `make test` need only Python 3.11+ and a compiler.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TOOLS := agentlab.tools.demo:TOOLS

.PHONY: install st model demo test test-fast lint typecheck bench eval clean postgres postgres-stop server

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Optional: all-MiniLM-L6-v2 embeddings offline (PyTorch's CPU build, then the extra).
st: install
	$(BIN)/python -m pip install torch==2.13.0
	$(BIN)/python -m pip install -e '.[dev,st]'

model: install
	$(BIN)/agentlab models pull --all

demo: model
	$(BIN)/agentlab run react "What is the weather like in Oslo right now?" --tools $(TOOLS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# mypy sees the installed layout (agentlab.graphs -> graphs/) through a tree of symlinks.
typecheck: install
	rm -rf .typecheck && mkdir -p .typecheck
	cp -rs $(CURDIR)/agentlab .typecheck/agentlab
	ln -s $(CURDIR)/graphs .typecheck/agentlab/graphs
	ln -s $(CURDIR)/tools .typecheck/agentlab/tools
	ln -s $(CURDIR)/memory .typecheck/agentlab/memory
	cd .typecheck && ../$(BIN)/mypy --config-file ../pyproject.toml -p agentlab

test: model server lint typecheck
	$(BIN)/pytest -q

# No real model, nothing slow, no downloads from the package registry.
test-fast: install
	$(BIN)/pytest -q -m "not llm and not slow and not registry"

eval: model
	$(BIN)/agentlab eval examples/suites/tools.jsonl --pattern react --tools $(TOOLS)

bench: model
	$(BIN)/python bench/decode_bench.py

# llama.cpp's llama-server from the installed llama-cpp-python's sdist (build/llama-server/bin),
# for `agentlab serve-model` and its tests; 10 to 20 minutes on 2 cores the first time.
server: install
	scripts/build_llama_server.sh

# A local Postgres for development and tests (.data/postgres); its URL is the last line.
postgres:
	@scripts/postgres.sh start

postgres-stop:
	@scripts/postgres.sh stop

clean:
	rm -rf $(VENV) .typecheck .pytest_cache .mypy_cache .ruff_cache
