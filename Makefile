# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Triton's Python backend needs numpy < 2: its models run in an environment of their own.
TRITON_VENV := .venv-triton
TRITON_STAMP := $(TRITON_VENV)/.installed
TRITON_PROJECT := $(TRITON_VENV)/.project
DEMO_DIR ?= demo-output

.PHONY: install triton-env demo test test-fast test-images container-tools browser lint bench proto clean \
	client-install-check \
	parity parity-giants encoders-doc docs

install: $(STAMP)

# torch first (from local disk here), then sam2 built against it without CUDA extensions.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip setuptools wheel
	$(PY) -m pip install --quiet torch==2.14.1 torchvision==0.29.1
	SAM2_BUILD_CUDA=0 $(PY) -m pip install --quiet --no-build-isolation sam2==1.1.0
	$(PY) -m pip install --quiet -e '.[all,dev]'
	# MOOZY's slide encoder; --no-deps: its model code needs only torch, timm, h5py, numpy and
	# huggingface-hub (installed above), not the training extras it declares (wandb, ...).
	$(PY) -m pip install --quiet --no-deps moozy==0.1.1
	# AtlasPatch 1.1.0's released code, the parity harness's oracle (tests/parity), with the
	# packaged copy of CONCH's code its conch_v1 imports. In a folder of their own: in the venv
	# its `atlaspatch` command would replace ours. Both non-commercial (CC BY-NC-SA 4.0,
	# CC BY-NC-ND 4.0): test tools only, never dependencies.
	$(PY) -m pip install --quiet --no-deps --upgrade --target $(VENV)/reference \
		atlas-patch==1.1.0 conch-fork==0.1.0
	touch $(STAMP)

# For deploy/triton/run-local.sh and the Triton tests; same torch, sam2 built the same way.
triton-env: $(TRITON_PROJECT)

# Triton's Python backend ignores PYTHONPATH: this project is installed there (its code only;
# the models' libraries are the environment's).
$(TRITON_PROJECT): $(TRITON_STAMP) pyproject.toml
	$(TRITON_VENV)/bin/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(TRITON_PROJECT)

$(TRITON_STAMP): deploy/triton/requirements.txt deploy/triton/model-requirements.txt
	$(PYTHON) -m venv $(TRITON_VENV)
	$(TRITON_VENV)/bin/python -m pip install --quiet --upgrade pip setuptools wheel
	$(TRITON_VENV)/bin/python -m pip install --quiet torch==2.14.1 torchvision==0.29.1 numpy==1.26.4
	SAM2_BUILD_CUDA=0 $(TRITON_VENV)/bin/python -m pip install --quiet --no-build-isolation sam2==1.1.0
	$(TRITON_VENV)/bin/python -m pip install --quiet -r deploy/triton/requirements.txt
	touch $(TRITON_STAMP)

demo: install
	test -f $(DEMO_DIR)/slides/demo-slide.tiff || \
		$(PY) -m atlaspatch.orchestrator.synthetic $(DEMO_DIR)/slides/demo-slide.tiff --width 16000 --height 12000
	$(VENV)/bin/atlaspatch process $(DEMO_DIR)/slides/demo-slide.tiff \
		--output $(DEMO_DIR)/output --patch-size 256 --target-mag 20 --tissue-model otsu \
		--feature-extractors efficientnet_lite0 --device cpu \
		--visualize-mask --visualize-contours --visualize-grids --force
	@echo "HDF5 (coords + features/efficientnet_lite0): $(DEMO_DIR)/output/patches/demo-slide.h5"
	@echo "pictures: $(DEMO_DIR)/output/visualization/"

# The Triton and browser tests run here too (ATLASPATCH_REQUIRE_*: fail, never skip, without
# them).
test: install triton-env browser
	ATLASPATCH_REQUIRE_TRITON=1 ATLASPATCH_REQUIRE_BROWSER=1 $(PY) -m pytest -q

# Skips the SAM2 forward passes and the big synthetic slides.
test-fast: install
	$(PY) -m pytest -q -m "not slow"

# The images built from nothing and run (tests/images/): a Debian base from debootstrap, the
# services, orchestrator and Triton images built on it with buildah, their containers, the
# compose stack and the chart's workloads run with podman. About 10 minutes and 20 GiB of disk
# at the peak (with less than 21 GiB free it stops at once, saying so); everything it makes is
# removed at its end. Needs root (debootstrap, podman) and ../shared/data. IMAGE_WHEELS: folders
# of local wheels for the builds (':' between them); IMAGE_CA: a CA bundle for a TLS-intercepting
# proxy.
IMAGE_WHEELS ?= $(wildcard /opt/pypi-more/files)
IMAGE_CA ?= $(firstword $(PIP_CERT) $(wildcard /etc/ssl/certs/ca-certificates.crt))

test-images: install container-tools
	ATLASPATCH_TEST_IMAGES=1 ATLASPATCH_IMAGE_WHEELS="$(IMAGE_WHEELS)" \
		ATLASPATCH_IMAGE_CA="$(IMAGE_CA)" $(PY) -m pytest -v -rs -o log_cli=true --log-cli-level=INFO tests/images

# Debian's Chromium, for the QC page's browser tests, installed where it is missing.
browser:
	@command -v chromium >/dev/null || { \
		echo "installing chromium"; \
		apt-get update -q && apt-get install -y -q chromium \
			|| { echo "install chromium (Debian: apt-get install chromium)" >&2; exit 1; }; }

# Debian's podman, buildah, runc and debootstrap, installed where any is missing.
container-tools:
	@missing=$$(for tool in podman buildah runc debootstrap; do \
		command -v $$tool >/dev/null || echo $$tool; done); \
	if [ -n "$$missing" ]; then \
		echo "installing $$missing"; \
		apt-get update -q && apt-get install -y -q $$missing \
			|| { echo "install $$missing (Debian: apt-get install $$missing)" >&2; exit 1; }; \
	fi

# The parity harness on every encoder `make test` checks, rows into docs/parity.json.
parity: install
	$(PY) -m tests.parity.run $$($(PY) -c "from tests.parity.cases import all_cases; \
		print(' '.join(n for n, c in all_cases().items() if not c.giant))") --json docs/parity.json

# The parity harness on the encoders too big for `make test` (ViT-g, ViT-H, 7B; hours on 2
# cores, 40 GiB of disk for the 7B), rows into docs/parity-giants.json. NAMES= picks some.
GIANTS = $(shell $(PY) -c "from tests.parity.cases import all_cases; \
	print(' '.join(n for n, c in all_cases().items() if c.giant))" 2>/dev/null)
NAMES ?= $(GIANTS)
parity-giants: install
	$(PY) -m tests.parity.run $(NAMES) --json docs/parity-giants.json

# docs/encoders.md from the catalogue and the harness's last rows.
encoders-doc: install
	$(VENV)/bin/atlaspatch encoders --markdown --parity docs/parity.json \
		--parity docs/parity-giants.json > docs/encoders.md

# The documentation site in build/site: the option reference generated from the commands
# (docs/reference/, not committed), then MkDocs, where a broken link or a page missing from
# the nav fails the build.
docs: install
	$(PY) docs/generate.py
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

# mypy cannot follow the editable install's import hook: it reads `atlaspatch` through links.
TYPECHECK := build/typecheck

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	rm -rf $(TYPECHECK) && mkdir -p $(TYPECHECK)/atlaspatch
	ln -s $(CURDIR)/proto/atlaspatch_api $(TYPECHECK)/atlaspatch/api
	for part in client orchestrator encoder_service segmenter_service; do \
		ln -s $(CURDIR)/$$part $(TYPECHECK)/atlaspatch/$$part; done
	MYPYPATH=$(TYPECHECK) $(VENV)/bin/mypy -p atlaspatch

bench: install triton-env
	$(PY) bench/coords.py
	$(PY) bench/features.py
	$(PY) bench/serve.py

# Regenerate proto/atlaspatch_api/v1/ from proto/atlaspatch/v1/*.proto (a test checks they agree).
proto: install
	$(PY) proto/generate.py

clean:
	rm -rf $(VENV) $(TRITON_VENV) $(DEMO_DIR) .pytest_cache .mypy_cache .ruff_cache

# The client alone in a fresh environment (packages from the registry): no torch, no
# top-level `client`, and the CLI starts. About a minute; prints the packages it installed.
CLIENT_VENV ?= build/client-venv
client-install-check:
	rm -rf $(CLIENT_VENV) && $(PYTHON) -m venv $(CLIENT_VENV)
	$(CLIENT_VENV)/bin/python -m pip install --quiet './[client]'
	$(CLIENT_VENV)/bin/python -m pip list --format=freeze
	cd /tmp && ! $(CURDIR)/$(CLIENT_VENV)/bin/python -c 'import torch' 2>/dev/null
	cd /tmp && ! $(CURDIR)/$(CLIENT_VENV)/bin/python -c 'import client' 2>/dev/null
	$(CLIENT_VENV)/bin/atlaspatch --help > /dev/null
	du -sh $(CLIENT_VENV)
