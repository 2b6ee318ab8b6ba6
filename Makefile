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

.PHONY: venv demo test faults bench clean firmware firmware-tools netns-tools

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

test: venv firmware netns-tools
	$(BIN)/python -m pytest -q test

# The fault campaign alone (also part of `make test`), with the measured recovery times in
# runs/faults/report.md.
faults: venv firmware
	rm -f runs/faults/report.json
	PAINDIFFUSION_FAULTS_REPORT=runs/faults/report.json $(BIN)/python -m pytest -q -m faults test
	@cat runs/faults/report.md

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

# test/test_two_hosts.py builds two network namespaces with iproute2's `ip` (as root; without
# root or `ip` it is skipped and says why).
netns-tools:
	@command -v ip >/dev/null || [ "$$(id -u)" != 0 ] || \
	  { apt-get update -q && apt-get install -y -q iproute2; } || \
	  echo "test/test_two_hosts.py needs iproute2: apt-get install iproute2"

clean:
	rm -rf $(VENV) runs *.egg-info firmware/build
