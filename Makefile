# enhancerlm: `make demo` runs the pipeline on the bundled data, `make test` runs the test suite, `make images` builds
# the container images the Nextflow modules name. The virtual environment is made on first use with every
# dependency at the version containers/constraints.txt pins; `make test` also installs headless Chromium (Debian's
# chromium and chromium-driver packages) for the report's browser check. TORCH is the CPU wheel; on a GPU machine
# set TORCH="torch==2.13.0" (PyPI's CUDA 13.0 build).

VENV    ?= .venv
PYTHON  ?= python3
TORCH   ?= torch==2.13.0
BIN     := $(VENV)/bin
OUTDIR  ?= results
PINS    := containers/constraints.txt
VERSION := $(shell sed -n 's/^__version__ = "\(.*\)"/\1/p' src/enhancerlm/__init__.py)
IMAGE   ?= ghcr.io/enhancerlm/enhancerlm
CUDA    := $(shell sed -n 's/^ARG CUDA_VERSION=//p' containers/Dockerfile.cuda)
# Where Nextflow looks for Singularity/Apptainer images before pulling (NXF_SINGULARITY_CACHEDIR)
SIF_DIR ?= $(or $(NXF_SINGULARITY_CACHEDIR),$(NXF_APPTAINER_CACHEDIR),work/singularity)

SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install browser demo test benchmark images sif constraints clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml $(PINS)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -c $(PINS) $(TORCH)
	$(BIN)/pip install --quiet -c $(PINS) -e '.[test]'
	touch $@

browser:
	@command -v chromedriver >/dev/null && command -v chromium >/dev/null || { \
		$(SUDO) apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver; }

demo: install
	$(BIN)/enhancerlm run --profile demo --outdir $(OUTDIR)

test: install browser
	$(BIN)/python -m pytest -q

benchmark: install
	$(BIN)/enhancerlm run --profile test_full --outdir benchmarks/out/ienhancer2l

# The two images, tagged as the modules name them (the release workflow pushes the same tags)
images:
	docker build -f containers/Dockerfile --build-arg VERSION="$(VERSION)" -t "$(IMAGE):$(VERSION)" .
	docker build -f containers/Dockerfile.cuda --build-arg VERSION="$(VERSION)" -t "$(IMAGE):$(VERSION)-cuda$(CUDA)" .

# Singularity/Apptainer images converted from the local Docker images, under the file names Nextflow's image cache
# gives these tags (so -profile singularity finds them instead of pulling)
sif: images
	mkdir -p "$(SIF_DIR)"
	apptainer build --force "$(SIF_DIR)/$(subst /,-,$(IMAGE))-$(VERSION).img" "docker-daemon://$(IMAGE):$(VERSION)"
	apptainer build --force "$(SIF_DIR)/$(subst /,-,$(IMAGE))-$(VERSION)-cuda$(CUDA).img" "docker-daemon://$(IMAGE):$(VERSION)-cuda$(CUDA)"

# Re-pin every runtime dependency after a change to pyproject.toml: resolve in a fresh environment, write the pins
constraints:
	rm -rf .constraints-venv && $(PYTHON) -m venv .constraints-venv
	.constraints-venv/bin/pip install --quiet $(TORCH) . packaging
	.constraints-venv/bin/python containers/pin_constraints.py > $(PINS)
	rm -rf .constraints-venv

clean:
	rm -rf $(VENV) $(OUTDIR) .pytest_cache benchmarks/out
