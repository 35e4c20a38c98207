# stackpolicy — every target installs what it needs into .venv first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SOURCES ?=
SP      := $(BIN)/stackpolicy

SRC_ARGS := $(foreach s,$(SOURCES),--sources $(s))

.PHONY: install prebuilt compiled policy inventory evals check export test test-corpora test-ecosystem bench clean

install: $(STAMP) prebuilt compiled

# The editable install adds the repo to sys.path with a plain .pth line ("compat" mode): the
# default import-hook finder costs every Python start (each hook call) 10-100 ms of imports.
# The C extensions are built by the install: an edit of their source installs again.
$(STAMP): pyproject.toml setup.py inventory/scanners/_cyaml.c inventory/_cbuild.c Makefile
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test,compile]' --config-settings editable_mode=compat
	@touch $(STAMP)

# What an installed package has and an editable checkout lacks: byte-compiled modules (with
# PYTHONDONTWRITEBYTECODE set, every start would compile the sources again, ~0.1 s of every
# `stackpolicy classify` or hook call) and the JSON copy of the bundled rules (parsing the
# YAML costs another ~0.05 s). Both are checked against their sources on use; a stale one is
# ignored, never trusted. Cheap when nothing changed.
prebuilt: $(STAMP)
	@$(BIN)/python -m compileall -q inventory generators prompts >/dev/null
	@$(BIN)/python -m generators.risk.rules >/dev/null
# The scan's pure-Python modules compiled with Cython, beside their sources: the same results,
# ~8 % faster. Only what changed is compiled again; without a C compiler it says so and the
# scan runs as Python. An edited module runs from its source until then (inventory/compiled.py).
# A module that fails to compile is reported (exit 1) and runs as Python: the jobs go on
# (the test suite fails on it, see tests/test_compiled.py).
compiled: $(STAMP)
	-@$(BIN)/python -m inventory.compiled build

## The main job: scan the sources, then write output/policy.md and output/evals.md.
policy: $(STAMP) compiled
	$(SP) policy $(SRC_ARGS)

inventory: $(STAMP) compiled
	$(SP) scan $(SOURCES)

evals: $(STAMP) compiled
	$(SP) evals $(SRC_ARGS)

check: $(STAMP) compiled
	$(SP) check $(SRC_ARGS)

export: $(STAMP)
	$(SP) export all

test: $(STAMP) compiled
	$(BIN)/python -m pytest -q -n auto -m "not corpora and not ecosystem"

## Scanner tests against ../shared/corpora (skip cleanly when it is absent).
test-corpora: $(STAMP) compiled
	$(BIN)/python -m pytest -q -m corpora

## The exports and eval suites in the real tools (Claude Code, Codex, a Rego engine, promptfoo,
## Inspect), installed from the registries into .cache/ecosystem; each test skips with a
## visible message when its tool cannot be installed.
test-ecosystem: $(STAMP)
	$(BIN)/python -m pytest -q -rs -m ecosystem

bench: $(STAMP) compiled prebuilt
	$(BIN)/python bench/run.py --json --repeat 3
	$(BIN)/python bench/hook_latency.py --json bench/out/hook.json
	$(BIN)/python bench/classify_speed.py --lines 10000
	$(BIN)/python bench/summary.py

clean:
	-@test -x $(BIN)/python && $(BIN)/python -m inventory.compiled clean
	rm -rf $(VENV) .stackpolicy .pytest_cache .cache build
