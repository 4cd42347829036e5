# The front door. Settings come from the environment:
#   KUBESPRAY_REF     ref to run (tag, branch, sha); empty: the scenario's default pair
#   KUBESPRAY_REPO    Kubespray URL or local clone (default: upstream GitHub)
#   HARNESS_CACHE_DIR clone, venvs (default: $XDG_CACHE_HOME/kubespray-harness)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
KUBESPRAY_REF ?=
REF_ARGS := $(if $(KUBESPRAY_REF),--ref $(KUBESPRAY_REF))

.PHONY: setup molecule-files images scenario scenario-upgrade scenario-scale matrix nightly repro corpus bench test test-all test-reliability test-engine-stop test-unit test-integration lint clean-runs

# setup also renders each scenario's molecule.yml from its scenario.yml, so that
# `molecule test -s NAME` works on its own (`harness run` renders before each run).
setup: $(VENV)/.installed molecule-files

molecule-files: $(VENV)/.installed
	@$(BIN)/harness molecule-files >/dev/null

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

images: setup
	$(BIN)/harness images

# make scenario NAME=upgrade-node-based-nginx [KUBESPRAY_REF=v2.27.1]
scenario: setup
	@test -n "$(NAME)" || { echo "give NAME=<scenario> (harness list shows them)" >&2; exit 2; }
	$(BIN)/harness run $(NAME) $(REF_ARGS)

scenario-upgrade:
	@$(MAKE) --no-print-directory scenario NAME=upgrade-node-based

scenario-scale:
	@$(MAKE) --no-print-directory scenario NAME=scale-limit

JOBS ?= 1
matrix: setup
	$(BIN)/harness matrix -j $(JOBS) --markdown runs/matrix.md --junit runs/matrix-junit.xml --html runs/matrix.html --report-json runs/matrix.json

# make nightly BASELINE=runs/nightly.json: the matrix against last night's report; cells gone
# bad are rerun, regressions bisected (BISECT_BUDGET runs each). Tonight's report is the next
# night's baseline: runs/nightly.json is overwritten only once the night is done.
BISECT_BUDGET ?= 8
nightly: setup
	@test -n "$(BASELINE)" || { echo "give BASELINE=<last night's report json, e.g. runs/nightly.json>" >&2; exit 2; }
	$(BIN)/harness matrix -j $(JOBS) --baseline $(BASELINE) --bisect-budget $(BISECT_BUDGET) \
		--summary runs/nightly.md --markdown runs/matrix.md --junit runs/matrix-junit.xml \
		--html runs/matrix.html --report-json runs/nightly.json.new; \
	status=$$?; mv runs/nightly.json.new runs/nightly.json 2>/dev/null; exit $$status

# make repro REPORT=issue.md [REPRO_ARGS="--ref v2.27.1"]
repro: setup
	@test -n "$(REPORT)" || { echo "give REPORT=<bug report .md or .yaml>" >&2; exit 2; }
	$(BIN)/harness repro $(REPORT) $(REPRO_ARGS)

# make corpus [JOBS=2]: every real report of tests/data/reports/corpus/ on its buggy commit
# (reproduced) and on its fix (not reproduced, the reported task exercised); runs/corpus.md is
# the README's table.
corpus: setup
	$(BIN)/harness corpus -j $(JOBS) --table runs/corpus.md --markdown runs/corpus-cells.md \
		--junit runs/corpus-junit.xml --html runs/corpus.html --report-json runs/corpus.json

# make bench [BENCH_RUNS=3]: scenarios/bench.yml's cases, a cold run then BENCH_RUNS warm runs
# each, phase by phase, and its matrix cells at -j 1 and -j 2 (about an hour on 2 cores; run it
# alone). runs/bench.json (README "Performance" documents it) and runs/bench.md, the README's table.
BENCH_RUNS ?= 3
bench: setup
	$(BIN)/harness bench --runs $(BENCH_RUNS) --cold --matrix --json runs/bench.json --markdown runs/bench.md

# make test: unit tests, lint, and the integration tier that proves every command for real
# (25 minutes at most on a 2-core machine). Two lanes at a time (tests/conftest.py): the
# integration modules run whole scenarios (minutes each, a little less than a core each), one
# lane runs a two-cell matrix, and more runs at once than that thrash two cores.
# make test-all adds the long tests (bisections, every report); the nightly workflow runs it.
LANES ?= 2
test: setup lint
	$(BIN)/pytest tests -m "not long" -n $(LANES) --dist loadfile

# (Not the test that stops the Docker engine: it would stop the other lane's runs too.)
test-all: setup lint
	$(BIN)/pytest tests -m "not engine_stop" -n $(LANES) --dist loadfile

# make test-reliability [RELIABILITY_INTERRUPTIONS=20 RELIABILITY_REPEATS=10]: runs interrupted at
# random points, side by side and repeated, and the Docker engine stopped mid-run; its figures go to
# runs/reliability.json and runs/engine-stop.json. Alone on the machine's engine: it stops it.
test-reliability: setup
	$(BIN)/pytest tests/reliability -m "reliability or engine_stop" -p no:xdist

test-engine-stop: setup
	$(BIN)/pytest tests/reliability -m engine_stop -p no:xdist

test-unit: setup
	$(BIN)/pytest tests -m "not integration"

test-integration: setup
	$(BIN)/pytest tests -m "integration and not long" -n $(LANES) --dist loadfile

lint: setup
	$(BIN)/ruff check harness tests scenarios
	$(BIN)/ruff format --check harness tests scenarios
	$(BIN)/yamllint -s scenarios images .github .config .yamllint.yml
	$(BIN)/ansible-lint --offline scenarios/shared/create.yml scenarios/shared/destroy.yml scenarios/shared/prepare.yml scenarios/shared/converge.yml
	$(BIN)/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/nightly.yml

clean-runs:
	rm -rf runs
