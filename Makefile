# Shortcuts to `iacbench` (benchmark/cli.py), the front door. `make help` lists the targets and
# the variables they read: the `#:` lines below (tests/test_cli.py checks that none is missing).
#: PY=.venv/bin/python        the interpreter; `iacbench` is the console script beside it
#: IACBENCH=<PY's folder>/iacbench  the command every target below calls
#: MODELS=simulated/default,simulated/synthetic-truth  model ids, comma-separated (sweep, plan, experiment-*)
#: ITERS=10                   loop.max_iterations (sweep, plan, power, experiment-protocols, -languages)
#: PROMPTS=paper             prompt sets, comma-separated (sweep, plan); cdk when DATASET names a cdk dataset
#: DATASET=paper33            dataset name (sweep, plan, power); calibrate, validate-profile: only if given (default: the run's)
#: DIRS=                      check-datasets: dataset folders, e.g. datasets/local/mine (default: the shipped ones)
#: DESIGNS=raw,...,intent     feedback designs (experiment-feedback)
#: EXPERIMENT_DIR=runs/experiment-feedback-<time>  its run folder (experiment-feedback)
#: PROTOCOLS_DIR=runs/experiment-protocols-<time>  its run folder (experiment-protocols)
#: LANGUAGES_DIR=runs/experiment-languages-<time>  its run folder (experiment-languages)
#: ARGS=                      more arguments: Hydra overrides, or power's options
#: RUN=                       a run folder (report, frontier, calibrate, validate-profile)
#: BUDGET=                    frontier: dollars per problem, e.g. 0.05 (none: the whole front)
#: BASELINE= CANDIDATE=       compare's sides: a run folder, or paper for the baseline
#: BASELINE_WHERE= CANDIDATE_WHERE=  compare: pick one group of a side, e.g. prompt_set=paper
#: ALLOW_LINT_MISMATCH=       compare: 1 to compare runs linted by different cfn-lint releases
#: A= B=                      drift: a run and its rescore
#: RECORDED=                  drift: an imported run, its recorded findings against cfn-lint's
#: RAW=                       paper-figures: the authors' repository or raw-data folder
#: PAPER=                     import-paper: the authors' repository
#: OUT=                       import-paper's run folder, calibrate's profile file
#: CFN_LINT= AS_OF=           import-paper: lint.cfn_lint_version and lint.as_of
#: NAME=                      calibrate: the profile's name
#: HARVEST=                   calibrate: 1 to raise uncovered rules with fragments of the source (the profile then carries its text)
#: TRAIN= TEST=               calibrate: learn from these chains; validate-profile: compare on these (trials=1-3, samples=0-14)
#: PROFILE=                   validate-profile, power: a profile name or file
#: EFFECT=                    power: the effect to detect, e.g. k=+20%
#: SAMPLES=5                  power: samples per problem
#: EXTRAS=dev,docs            install: optional dependency groups, comma-separated (+security: checkov; +cdk: aws-cdk-lib, constructs, Node)
#: UV=uv UV_VERSION=0.13.9    install, lock, upgrade: the uv to use (pip installs it if missing)
#: TEST_WORKERS=auto PYTEST_ARGS=  test, test-all: pytest -n and more pytest arguments
#: BENCH_ARGS=                bench: arguments of tests.bench
#: SITE=site                  docs: the folder the site is built into
PY      ?= .venv/bin/python
IACBENCH ?= $(dir $(PY))iacbench
MODELS  ?= simulated/default,simulated/synthetic-truth
ITERS   ?= 10
# a CDK dataset (paper33-cdk) is answered with the CDK prompt set unless PROMPTS says otherwise
PROMPTS ?= $(if $(findstring cdk,$(DATASET)),cdk,paper)
DATASET ?= paper33
ARGS    ?=
DESIGNS ?= raw,structured,explained,excerpt,errors_only,intent
EXPERIMENT_DIR ?= runs/experiment-feedback-$(shell date -u +%Y-%m-%d_%H-%M-%S)
PROTOCOLS_DIR ?= runs/experiment-protocols-$(shell date -u +%Y-%m-%d_%H-%M-%S)
LANGUAGES_DIR ?= runs/experiment-languages-$(shell date -u +%Y-%m-%d_%H-%M-%S)
EXTRAS  ?= dev,docs
# uv on the PATH, else the uv module (pip's install of uv gives `python3 -m uv` at once, where a
# pyenv shim for the uv command would still need a rehash)
UV      ?= $(shell command -v uv 2>/dev/null || echo python3 -m uv)
UV_VERSION ?= 0.13.9
BENCH_ARGS ?=
PYTEST_ARGS ?=
TEST_WORKERS ?= auto
SITE    ?= site

comma := ,

.DEFAULT_GOAL := help
.PHONY: help install lock upgrade test test-all lint bench check-datasets sweep plan experiment-feedback experiment-protocols experiment-languages run report frontier compare drift paper-figures import-paper calibrate validate-profile power clean-runs clean-cache docs docs-serve

help:  ## list the targets and the variables they read
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "%-21s %s\n", $$1, $$2}'
	@echo
	@echo "variables (make TARGET VAR=value; default after =):"
	@sed -n 's/^#: /  /p' $(MAKEFILE_LIST)

# --compile-bytecode: every job, lint worker and test process imports from .pyc files, which it
# would otherwise compile afresh each time where PYTHONDONTWRITEBYTECODE is set or .venv is read-only
install:  ## .venv with exactly the versions in uv.lock, the project and EXTRAS (dev,docs), compiled
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet 'uv==$(UV_VERSION)'
	$(UV) sync --frozen --compile-bytecode --python python3 \
		$(foreach extra,$(subst $(comma), ,$(EXTRAS)),--extra $(extra))

lock:  ## re-resolve uv.lock after a change to pyproject.toml (keeps locked versions where it can)
	$(UV) lock

upgrade:  ## move every dependency to its newest allowed release in uv.lock, then make install
	$(UV) lock --upgrade
	$(MAKE) install

test:  ## the quick suite: all but tests marked slow (TEST_WORKERS=auto: one per core; 0: serial)
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup -m "not slow" $(PYTEST_ARGS)

test-all:  ## every test, the slow end-to-end ones too (what .ci/run runs)
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

docs:  ## the documentation site (mkdocs.yml, docs/) into SITE (site/), strict: a broken link fails
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict --site-dir $(SITE)

docs-serve:  ## the documentation site on http://127.0.0.1:8000, rebuilt on every edit
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs serve --dev-addr 127.0.0.1:8000

lint:  ## ruff check and format check
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

bench:  ## benchmark suite: lint, sweep, resume, memory, cost, rate limits, batch resume, cdk -> runs/bench/
	$(PY) -m tests.bench $(BENCH_ARGS)

check-datasets:  ## every reference template (or CDK app, synthesized) lint-clean and passing its own intent checks (DIRS=: other folders)
	$(IACBENCH) check $(DIRS)

sweep:  ## Hydra multirun: MODELS x ITERS x PROMPTS on DATASET (ARGS: more overrides); default: two simulator profiles
	$(IACBENCH) sweep model.id=$(MODELS) loop.max_iterations=$(ITERS) \
		prompts=$(PROMPTS) dataset=$(DATASET) $(ARGS)

plan:  ## calls, tokens and cost of `make sweep` (same MODELS ITERS PROMPTS DATASET ARGS), no call made
	$(IACBENCH) plan model.id=$(MODELS) loop.max_iterations=$(ITERS) \
		prompts=$(PROMPTS) dataset=$(DATASET) $(ARGS)

experiment-feedback:  ## feedback designs x both protocols on paper33 into one run folder
	$(IACBENCH) sweep model.id=$(MODELS) dataset=paper33 prompts=$(DESIGNS) \
		loop.protocol=stateless,conversation security.enabled=true \
		hydra.sweep.dir=$(EXPERIMENT_DIR) $(ARGS)

experiment-protocols:  ## stateless, conversation and agent side by side on paper33 into one run folder
	$(IACBENCH) sweep +experiment=protocols model.id=$(MODELS) loop.max_iterations=$(ITERS) \
		hydra.sweep.dir=$(PROTOCOLS_DIR) $(ARGS)

experiment-languages:  ## CloudFormation (paper33) beside CDK apps (paper33-cdk) into one run folder (cdk extra)
	$(IACBENCH) sweep +experiment=languages model.id=$(MODELS) loop.max_iterations=$(ITERS) \
		hydra.sweep.dir=$(LANGUAGES_DIR) $(ARGS)

run:  ## a single job with the defaults (ARGS: overrides)
	$(IACBENCH) run $(ARGS)

report:  ## HTML + Markdown report of a sweep: make report RUN=runs/<sweep>
	@test -n "$(RUN)" || { echo "usage: make report RUN=<run folder>"; exit 2; }
	$(IACBENCH) report $(RUN)

frontier:  ## most clean templates for a budget: make frontier RUN=runs/<sweep> [BUDGET=<usd per problem>]
	@test -n "$(RUN)" || { echo "usage: make frontier RUN=<run folder> [BUDGET=<usd per problem>]"; exit 2; }
	$(IACBENCH) frontier $(RUN) $(if $(BUDGET),--budget $(BUDGET))

compare:  ## make compare BASELINE=<run|paper> CANDIDATE=<run> [BASELINE_WHERE=k=v] [CANDIDATE_WHERE=k=v] [ALLOW_LINT_MISMATCH=1]
	@test -n "$(BASELINE)" -a -n "$(CANDIDATE)" || \
		{ echo "usage: make compare BASELINE=<run|paper> CANDIDATE=<run> [BASELINE_WHERE=k=v] [CANDIDATE_WHERE=k=v]"; \
		  echo "  two groups of one sweep: make compare BASELINE=runs/demo BASELINE_WHERE=model=simulated/default CANDIDATE=runs/demo CANDIDATE_WHERE=model=simulated/synthetic-truth"; exit 2; }
	$(IACBENCH) compare --baseline $(BASELINE) --candidate $(CANDIDATE) \
		$(if $(BASELINE_WHERE),--baseline-where $(BASELINE_WHERE)) \
		$(if $(CANDIDATE_WHERE),--candidate-where $(CANDIDATE_WHERE)) \
		$(if $(filter 1 true yes,$(ALLOW_LINT_MISMATCH)),--allow-lint-mismatch)

drift:  ## same templates linted two ways: make drift A=<run> B=<its rescore> | RECORDED=<imported run>
	@test -n "$(RECORDED)" -o \( -n "$(A)" -a -n "$(B)" \) || \
		{ echo "usage: make drift A=<run> B=<rescored run>, or make drift RECORDED=<imported run>"; exit 2; }
	$(IACBENCH) drift $(if $(RECORDED),$(RECORDED) --recorded,$(A) $(B))

paper-figures:  ## the paper's Fig. 5: RAW=<their repository, its JSON_run_v2, or trial*/> or the shipped table
	$(IACBENCH) paper-figures $(if $(RAW),--raw $(RAW))

import-paper:  ## the authors' run as a run folder: make import-paper PAPER=<their repo> [OUT=runs/paper-gpt-4o]
	@test -n "$(PAPER)" || \
		{ echo "usage: make import-paper PAPER=<their repository root> [OUT=runs/paper-gpt-4o] [CFN_LINT=1.x.y] [AS_OF=YYYY-MM-DD]"; exit 2; }
	$(IACBENCH) import paper-run $(PAPER) --out $(or $(OUT),runs/paper-gpt-4o) \
		$(if $(CFN_LINT),--cfn-lint $(CFN_LINT)) $(if $(AS_OF),--as-of $(AS_OF))

# DATASET is passed on only when given (its default, paper33, is the sweep's, not the run's)
given_dataset = $(if $(filter command line environment,$(origin DATASET)),--dataset $(DATASET))

calibrate:  ## simulator profile from a run: make calibrate RUN=<run> OUT=<profile.yaml> [NAME= HARVEST=1 TRAIN= DATASET=]
	@test -n "$(RUN)" -a -n "$(OUT)" || \
		{ echo "usage: make calibrate RUN=<run folder> OUT=<profile.yaml> [NAME=<name>] [HARVEST=1] [TRAIN=trials=1-3] [DATASET=<name or folder>]"; exit 2; }
	$(IACBENCH) calibrate $(RUN) --out $(OUT) $(if $(NAME),--name $(NAME)) \
		$(if $(HARVEST),--harvest) $(if $(TRAIN),--train $(TRAIN)) $(given_dataset)

validate-profile:  ## a profile against its source run: make validate-profile PROFILE=<p> RUN=<run> [TEST= DATASET=]
	@test -n "$(PROFILE)" -a -n "$(RUN)" || \
		{ echo "usage: make validate-profile PROFILE=<name or file> RUN=<source run> [TEST=trials=4-6] [DATASET=<name or folder>]"; exit 2; }
	$(IACBENCH) validate-profile $(PROFILE) --run $(RUN) $(if $(TEST),--test $(TEST)) $(given_dataset)

power:  ## SIMULATED power of make compare: make power PROFILE=<p> EFFECT=k=+20% [SAMPLES ITERS DATASET ARGS]
	@test -n "$(PROFILE)" -a -n "$(EFFECT)" || \
		{ echo "usage: make power PROFILE=<profile name or file> EFFECT=<k=+20% | C=-0.05 | clean@5=+0.1> [SAMPLES=5] [ITERS=10] [DATASET=paper33] [ARGS=...]"; exit 2; }
	$(IACBENCH) power $(PROFILE) --effect $(EFFECT) \
		--samples $(or $(SAMPLES),5) --iterations $(ITERS) --dataset $(DATASET) $(ARGS)

clean-runs:  ## delete everything under runs/ except its README
	find runs -mindepth 1 -not -name README.md -delete

clean-cache:  ## empty the persistent lint cache (lint.cache_path: runs/.cache/lint.sqlite; ARGS: --path FILE)
	$(IACBENCH) clean-cache $(ARGS)
