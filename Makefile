# The two commands of the README, and a few more for developers.
#   make demo   create .venv, install the hub and its built-in plugins, run the end-to-end demo
#   make test   create/update .venv with the test extras, run ruff and mypy, the install check and the whole suite
#               (then the running-hub suites that depend most on the store again, on PostgreSQL)
#   make faults   the fault matrix at full length, with its figures (docs/reliability.md)
#   make install-check   build the hub and plugins as wheels, install them (not editable) into a fresh venv in
#                        a temporary folder, run `hub demo` from outside the checkout (.ci/install-check)
#   make fuzz    the API and parser fuzzers of `make test`, run longer with fresh inputs (docs/reliability.md)
#   make fuzz-atheris   coverage-guided fuzzing of the parsers (atheris), FUZZ_SECONDS per parser
#   make audit   known vulnerabilities in the hub's environment (pip-audit; .ci/audit, .ci/audit-allow.toml);
#                AUDIT_ADVISORIES=FOLDER: a copy of an OSV advisory database, for where pip-audit cannot get advisories
#   make sbom    a CycloneDX SBOM of the hub and its built-in plugins as installed from this checkout

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PLUGINS := plugins/nhs plugins/council plugins/hostels plugins/airflow
# Example third-party plugins: installed for the tests through their entry points, like anyone's (docs/integrators.md)
EXAMPLES := examples/charity-crm
PIP_FLAGS ?= --disable-pip-version-check --quiet

.PHONY: demo test screenshots lint install-check bench install clean faults fuzz fuzz-atheris audit sbom ui-assets

# The dashboard's look: the NHS.UK frontend from npm (package.json, package-lock.json), its built CSS, JS and
# images copied into hub/ui/static/nhsuk so they ship in the wheel (no CDN at run time); axe-core, from the same
# install, is what the browser tests check accessibility with.
UI_ASSETS := hub/ui/static/nhsuk/nhsuk-frontend.min.css
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

$(UI_ASSETS): node_modules/.installed .ci/ui-assets
	$(PYTHON) .ci/ui-assets

ui-assets: $(UI_ASSETS)

# The dashboard's browser tests drive Debian's chromium through Playwright (no browser download); CI runs as root.
/usr/bin/chromium:
	apt-get update
	apt-get install -y chromium

# The clock-step fault test runs `hub serve` under libfaketime (LD_PRELOAD), whose wall clock it steps by an hour.
LIBFAKETIME := /usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1
$(LIBFAKETIME):
	apt-get update
	apt-get install -y libfaketime

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "the hub needs Python 3.11 or newer; set PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)

# pip and setuptools come with the venv at Python's bundled versions (pip 23.2.1, setuptools 65.5.0 for 3.11.7), each
# with known vulnerabilities (docs/reliability.md, Supply chain): they are raised to fixed versions first.
VENV_TOOLS := 'pip>=26.1.2,<27' 'setuptools>=83,<85'
$(VENV)/.installed: pyproject.toml $(addsuffix /pyproject.toml,$(PLUGINS)) $(UI_ASSETS) | $(BIN)/python
	$(BIN)/pip install $(PIP_FLAGS) --upgrade $(VENV_TOOLS)
	$(BIN)/pip install $(PIP_FLAGS) -e . $(addprefix -e ,$(PLUGINS))
	@touch $@

# The MESH tests run the real mesh-sandbox server, which pins its own FastAPI: it gets its own environment.
.mesh-sandbox/bin/uvicorn:
	$(PYTHON) -m venv .mesh-sandbox
	.mesh-sandbox/bin/pip install $(PIP_FLAGS) mesh-sandbox==1.0.137

# The pathway's Airflow tests start a real `airflow standalone` (plugins/airflow/hub_airflow/testing.py), which
# brings hundreds of pinned dependencies: it gets its own environment too (about 40 s to build from PyPI).
# The hub's environment only holds the REST client (hub-plugin-airflow's apache-airflow-client 3.3.x).
AIRFLOW_VERSION ?= 3.3.2
.airflow/bin/airflow:
	$(PYTHON) -m venv .airflow
	.airflow/bin/pip install $(PIP_FLAGS) apache-airflow==$(AIRFLOW_VERSION)

$(VENV)/.installed-test: $(VENV)/.installed $(addsuffix /pyproject.toml,$(EXAMPLES))
	$(BIN)/pip install $(PIP_FLAGS) -e '.[test]' $(addprefix -e ,$(EXAMPLES))
	@touch $@

install: $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/hub demo

lint: $(VENV)/.installed-test
	$(BIN)/ruff check hub plugins tests bench examples conftest.py
	$(BIN)/ruff format --check hub plugins tests bench examples conftest.py
	$(BIN)/mypy
	# the hub's tests and the root conftest.py in runs of their own: test folders are not packages, so each
	# conftest.py is a module named "conftest", and one run may hold only one of them ([tool.mypy] in pyproject.toml)
	MYPYPATH=tests $(BIN)/mypy --explicit-package-bases tests
	MYPYPATH=plugins/airflow/tests $(BIN)/mypy --explicit-package-bases plugins/airflow/tests
	$(BIN)/mypy conftest.py
	$(BIN)/lint-imports

# Schemas, XSDs, example config and code tables must ship in the distributions, not be found in the checkout.
install-check: $(UI_ASSETS)
	PYTHON=$(PYTHON) PIP_FLAGS="$(PIP_FLAGS)" .ci/install-check

# The running-hub suites that depend most on the store run a second time on PostgreSQL (HUB_TEST_STORE, see
# tests/conftest.py); the store contract suite already covers both backends in the first run (the index rebuild's
# included).
PG_SUITES := tests/test_reliability.py tests/test_fault_matrix.py tests/test_fault_disk_full.py tests/test_fault_clock_step.py \
             tests/test_isolation.py tests/test_protection.py tests/test_pathway.py \
             tests/pathway plugins/council/tests plugins/nhs/tests \
             plugins/hostels/tests/test_directory_api.py plugins/hostels/tests/test_hostels_conformance.py \
             plugins/hostels/tests/test_offers_at_once_and_navigator.py plugins/hostels/tests/test_offers_withdrawal_after_crash.py \
             tests/test_key_rotation.py tests/test_index_rebuild_resume.py tests/test_fingerprint_rotation.py

# The audit in `make test` warns, where `make audit` fails, when the advisories cannot be fetched (.ci/audit).
test: $(VENV)/.installed-test .mesh-sandbox/bin/uvicorn .airflow/bin/airflow /usr/bin/chromium $(LIBFAKETIME) lint \
      install-check
	$(MAKE) --no-print-directory audit AUDIT_FLAGS=--allow-unaudited
	$(BIN)/python -m pytest
	HUB_TEST_STORE=postgresql $(BIN)/python -m pytest $(PG_SUITES)

# The dashboard's pictures in docs/dashboard.md, taken by its browser tests (make test takes none).
screenshots: $(VENV)/.installed-test /usr/bin/chromium
	HUB_UI_SCREENSHOTS=docs/dashboard $(BIN)/python -m pytest tests/dashboard

# The fault matrix at full length (docs/reliability.md): `make test` runs the same tests shorter (a burst of 500
# messages, a partner flapping for 20 s, 1,000 messages through the worker kill, 3 s watched after each clock step).
FAULT_SUITES := tests/test_fault_matrix.py tests/test_fault_disk_full.py tests/test_fault_slow_clients.py \
                tests/test_store_faults.py tests/test_fault_clock_step.py tests/pathway/test_clock_steps.py \
                plugins/nhs/tests/test_mllp_slow_clients.py
FAULTS_FULL := HUB_FAULTS_BURST=2000 HUB_FAULTS_FLAP_SECONDS=60 HUB_FAULTS_MESSAGES=5000 HUB_FAULTS_CLOCK_WATCH=15

faults: $(VENV)/.installed-test $(LIBFAKETIME)
	$(FAULTS_FULL) $(BIN)/python -m pytest -s $(FAULT_SUITES)
	$(FAULTS_FULL) HUB_TEST_STORE=postgresql $(BIN)/python -m pytest -s tests/test_fault_matrix.py \
		tests/test_fault_disk_full.py tests/test_fault_clock_step.py

# The fuzzers of `make test` with more inputs, drawn afresh each run (the suite's runs are fixed and short):
# schemathesis over every operation of the OpenAPI document for each identity (FUZZ_EXAMPLES each), then every
# parser's hypothesis fuzz test (FUZZ_PARSER_EXAMPLES inputs each). A failure prints the seed and the input.
FUZZ_EXAMPLES ?= 300
FUZZ_PARSER_EXAMPLES ?= 5000
FUZZ_SEED ?= $(shell date +%s)
PARSER_FUZZ := tests/fuzz/test_parser_fuzz_core.py plugins/nhs/tests/test_mllp_fuzz.py \
               plugins/hostels/tests/test_directory_import_fuzz.py plugins/hostels/tests/test_form_reply_fuzz.py \
               plugins/council/tests/test_email_reply_fuzz.py
ADAPTER_FUZZ := tests/test_conformance_defaults.py plugins/nhs/tests/test_nhs_conformance.py \
                plugins/council/tests/test_council_conformance.py examples/charity-crm/tests/test_charity_crm.py
fuzz: $(VENV)/.installed-test
	HUB_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) HUB_FUZZ_SEED=$(FUZZ_SEED) $(BIN)/python -m pytest -x tests/fuzz/test_api_fuzz.py
	HUB_FUZZ_PARSER_EXAMPLES=$(FUZZ_PARSER_EXAMPLES) $(BIN)/python -m pytest -x $(PARSER_FUZZ)
	HUB_FUZZ_PARSER_EXAMPLES=$(FUZZ_PARSER_EXAMPLES) $(BIN)/python -m pytest -x -k fuzzed_bodies $(ADAPTER_FUZZ)

# Coverage-guided fuzzing (atheris, libFuzzer) of each parser for FUZZ_SECONDS, from the valid bodies the adapters
# render; crashing inputs are written to var/atheris/ (tests/fuzz/atheris_parsers.py).
FUZZ_SECONDS ?= 120
$(VENV)/.installed-fuzz: $(VENV)/.installed-test
	$(BIN)/pip install $(PIP_FLAGS) -e '.[fuzz]'
	@touch $@

fuzz-atheris: $(VENV)/.installed-fuzz
	$(BIN)/python tests/fuzz/atheris_parsers.py --all --seconds $(FUZZ_SECONDS) --out var/atheris

# Supply chain: pip-audit and cyclonedx-py in an environment of their own, so the audit and the SBOM see the
# hub's environment and not the tools' (PyYAML reads the OSV advisories of AUDIT_ADVISORIES).
# Live advisories (pip-audit asking PyPI) come first; where it gets none, AUDIT_ADVISORIES names a folder holding a
# copy of an OSV advisory database (the Python Packaging Advisory Database's vulns/ folder), kept outside this
# repository (docs/reliability.md). Without either, `make audit` fails and `make test` warns.
AUDIT_TOOLS := 'pip-audit>=2.10,<3' 'cyclonedx-bom>=7.5,<8' 'PyYAML>=6,<7'
AUDIT_ADVISORIES ?=
.audit/.installed:
	$(PYTHON) -m venv .audit
	.audit/bin/pip install $(PIP_FLAGS) $(AUDIT_TOOLS)
	@touch $@

audit: $(VENV)/.installed-test .audit/.installed
	.audit/bin/python .ci/audit --pip-audit .audit/bin/pip-audit --python $(BIN)/python \
		--allow .ci/audit-allow.toml $(if $(AUDIT_ADVISORIES),--advisories $(AUDIT_ADVISORIES)) $(AUDIT_FLAGS)

# The SBOM describes what an operator installs: the hub and its built-in plugins (not editable) with their
# runtime dependencies, in a fresh environment under var/ (test tools left out). Written to var/sbom.cdx.json.
sbom: .audit/.installed
	rm -rf var/sbom-env
	$(PYTHON) -m venv var/sbom-env
	var/sbom-env/bin/pip install $(PIP_FLAGS) '.[postgresql]' $(PLUGINS)
	.audit/bin/cyclonedx-py environment var/sbom-env/bin/python --pyproject pyproject.toml --of JSON \
		--output-reproducible -o var/sbom.cdx.json
	@echo "SBOM: var/sbom.cdx.json"

bench: $(VENV)/.installed
	$(BIN)/python bench/throughput.py

clean:
	rm -rf $(VENV) .mesh-sandbox .airflow .audit var .pytest_cache .ruff_cache node_modules hub/ui/static/nhsuk
