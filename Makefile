# enhancerlm: `make demo` runs the pipeline on the bundled benchmark, `make test` runs the test suite.
# Both create the virtual environment on first use; `make test` also installs headless Chromium (Debian's
# chromium and chromium-driver packages) for the report's browser check. TORCH pins the CPU wheel; on a GPU
# machine set TORCH="torch --index-url https://download.pytorch.org/whl/cu128" (or your CUDA version's index).

VENV    ?= .venv
PYTHON  ?= python3
TORCH   ?= torch==2.13.0
BIN     := $(VENV)/bin
OUTDIR  ?= results

SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install browser demo test benchmark clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet $(TORCH)
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

browser:
	@command -v chromedriver >/dev/null && command -v chromium >/dev/null || { \
		$(SUDO) apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver; }

demo: install
	$(BIN)/enhancerlm run --outdir $(OUTDIR)

test: install browser
	$(BIN)/python -m pytest -q

benchmark: install
	$(BIN)/enhancerlm run --profile test_full --outdir benchmarks/out/ienhancer2l

clean:
	rm -rf $(VENV) $(OUTDIR) .pytest_cache benchmarks/out
