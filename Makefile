# The two commands of the README: `make demo` and `make test`; plus `make lint` and `make conda`.
# Each bootstraps .venv with pip and installs every package editable with the dev tools.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PACKAGES := fermi-sciencetools-shim fermi-core fermi-ingest fermi-halfpipe fermi-l1 fermi-latsim fermi-isoc
STAMP := $(VENV)/.installed

.PHONY: venv demo test lint conda channel image bench bench-chain clean

venv: $(STAMP)

$(STAMP): requirements-dev.txt requirements-fermipy.txt $(foreach p,$(PACKAGES),packages/$(p)/pyproject.toml)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt \
		$(foreach p,$(PACKAGES),-e packages/$(p))
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -r requirements-fermipy.txt
	touch $(STAMP)

demo: venv
	$(VENV)/bin/fermi-latsim demo $(DEMO_ARGS)

# pytest exits 5 when it collected no test: that is a failure here, said so plainly.
# PYTEST_WORKERS test processes (pytest-xdist; each test file runs whole in one of them, so its
# module and session fixtures are made once); PYTEST_WORKERS=0 runs everything in one process.
PYTEST_WORKERS ?= 2
test: venv
	@$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "ERROR: pytest collected no tests"; exit 1; fi; exit $$rc

lint: venv
	PATH="$(abspath $(VENV))/bin:$$PATH" $(VENV)/bin/pre-commit run --all-files --show-diff-on-failure
	$(PY) ci/check_workflows.py
	$(PY) ci/check_recipes.py

conda: venv
	$(PY) ci/conda_build.py

# Local channel of the packages (reuses `make conda`'s while the sources are unchanged), the farm
# lock resolved from it, and a fresh prefix made from the lock alone running the demo.
channel: venv
	$(PY) ci/channel.py

# The farm container image (needs root and mmdebstrap): Debian minbase + the farm lock in /opt/fermi,
# an OCI archive and an Apptainer definition file; checked with chroot (gtselect, the demo).
image: venv
	$(PY) ci/image.py

bench: venv
	$(PY) packages/fermi-sciencetools-shim/bench/bench_tools.py

# The whole chain on simulated hours (ingest -> merge -> L1 -> outbox, each stage in its own
# process) against each stage's kernel floor measured on the same data (docs/performance.md).
# HOURS (default 3), PROFILE (flight|light), BENCH_ARGS (e.g. --json out.json, --profile-stage l1).
HOURS ?= 3
PROFILE ?= flight
bench-chain: venv
	$(PY) ci/bench_chain.py --hours $(HOURS) --profile $(PROFILE) $(BENCH_ARGS)

clean:
	rm -rf $(VENV) demo-output
