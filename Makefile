# The two commands: `make demo` and `make test` (both create .venv on first use).
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO_OUT ?= runs/demo
DEMO_SECONDS ?= 30
# Where pip finds torch: empty = the configured indexes (here the local CPU wheel). On a
# bench PC, TORCH_INDEX=https://download.pytorch.org/whl/cpu (or a CUDA one) picks the build.
TORCH_INDEX ?=

.PHONY: venv demo test bench clean

venv: $(STAMP)

$(STAMP): setup.py requirements-ros.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0 $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(BIN)/python -m pip install -q -r requirements-ros.txt
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

demo: venv
	$(BIN)/paindiffusion demo --duration $(DEMO_SECONDS) --out $(DEMO_OUT)

test: venv
	$(BIN)/python -m pytest -q test

bench: venv
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) runs *.egg-info
