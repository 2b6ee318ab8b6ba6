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

.PHONY: venv demo test bench clean firmware firmware-tools

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

test: venv firmware
	$(BIN)/python -m pytest -q test

bench: venv
	$(BIN)/python benchmarks/run_all.py

# The Arduino bridge for the Uno and Mega and its simavr harness (test/test_firmware.py runs it):
# Debian's AVR toolchain and simavr, installed with apt-get when missing.
FIRMWARE_DEBS := gcc libc6-dev gcc-avr avr-libc arduino-core-avr libsimavr-dev
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

firmware-tools:
	@$(MAKE) -s -C firmware check-tools >/dev/null || \
	  { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q $(FIRMWARE_DEBS); } || \
	  { echo "make test builds firmware/ with Debian's AVR toolchain and simavr: sudo apt-get install $(FIRMWARE_DEBS)"; exit 1; }

firmware: firmware-tools
	$(MAKE) -s -C firmware

clean:
	rm -rf $(VENV) runs *.egg-info firmware/build
