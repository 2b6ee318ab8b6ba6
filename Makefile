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

# The browser tests drive Debian's chromium through its chromedriver.
BROWSER_PACKAGES := chromium chromium-driver

.PHONY: venv demo test bench clean browser screenshots

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

test: venv browser
	$(BIN)/python -m pytest -q test

# chromium + chromedriver for test/test_console_browser.py: installed with apt-get when missing.
browser:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing $(BROWSER_PACKAGES) for the browser tests"; \
	  (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(BROWSER_PACKAGES)) || \
	  { echo "could not install $(BROWSER_PACKAGES) with apt-get; install them, then run make test again" >&2; exit 1; }; \
	else echo "the browser tests need Debian's $(BROWSER_PACKAGES): run sudo apt-get install $(BROWSER_PACKAGES)" >&2; exit 1; fi

# Retake the README's console, trainee page and example-report pictures (docs/img/).
screenshots: venv browser
	PAINDIFFUSION_SCREENSHOTS=docs/img $(BIN)/python -m pytest -q test/test_console_browser.py

bench: venv
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) runs *.egg-info
