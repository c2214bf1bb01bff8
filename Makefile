# enhancerlm: `make demo` runs the pipeline on the bundled benchmark, `make test` runs the test suite.
# Both create the virtual environment on first use. TORCH pins the CPU wheel; on a GPU machine set
# TORCH="torch --index-url https://download.pytorch.org/whl/cu128" (or your CUDA version's index).

VENV    ?= .venv
PYTHON  ?= python3
TORCH   ?= torch==2.13.0
BIN     := $(VENV)/bin
OUTDIR  ?= results

.PHONY: install demo test benchmark clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet $(TORCH)
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

demo: install
	$(BIN)/enhancerlm run --outdir $(OUTDIR)

test: install
	$(BIN)/python -m pytest -q

benchmark: install
	$(BIN)/enhancerlm run --profile test_full --outdir benchmarks/out/ienhancer2l

clean:
	rm -rf $(VENV) $(OUTDIR) .pytest_cache benchmarks/out
