# The front door. `make help` lists the targets.
PY      ?= .venv/bin/python
MODELS  ?= simulated/default
ITERS   ?= 10
PROMPTS ?= paper,structured
DATASET ?= paper33
ARGS    ?=
DESIGNS ?= raw,structured,explained,excerpt,errors_only,intent
EXPERIMENT_DIR ?= runs/experiment-feedback-$(shell date -u +%Y-%m-%d_%H-%M-%S)
EXTRAS  ?= dev
UV      ?= uv
UV_VERSION ?= 0.13.9
BENCH_ARGS ?=
PYTEST_ARGS ?=
TEST_WORKERS ?= auto

comma := ,

.DEFAULT_GOAL := help
.PHONY: help install lock upgrade test test-all lint bench check-datasets sweep plan experiment-feedback run report compare drift paper-figures import-paper calibrate validate-profile power clean-runs

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "%-21s %s\n", $$1, $$2}'

# --compile-bytecode: every job, lint worker and test process imports from .pyc files, which it
# would otherwise compile afresh each time where PYTHONDONTWRITEBYTECODE is set or .venv is read-only
install:  ## .venv with exactly the versions in uv.lock, the project and EXTRAS (dev,security), compiled
	@command -v $(UV) >/dev/null || python3 -m pip install --quiet 'uv==$(UV_VERSION)'
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

lint:  ## ruff check and format check
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

bench:  ## benchmark suite: lint, sweep, resume, memory, cost, rate limits, batch resume -> runs/bench/
	$(PY) -m tests.bench $(BENCH_ARGS)

check-datasets:  ## every reference template lint-clean and passing its own intent checks
	$(PY) -m benchmark.problems check

sweep:  ## Hydra multirun: MODELS x ITERS x PROMPTS on DATASET (ARGS: more overrides)
	$(PY) -m benchmark.run -m model.id=$(MODELS) loop.max_iterations=$(ITERS) \
		prompts=$(PROMPTS) dataset=$(DATASET) $(ARGS)

plan:  ## calls, tokens and cost of `make sweep` (same MODELS ITERS PROMPTS DATASET ARGS), no call made
	$(PY) -m benchmark.run -m model.id=$(MODELS) loop.max_iterations=$(ITERS) \
		prompts=$(PROMPTS) dataset=$(DATASET) plan=true $(ARGS)

experiment-feedback:  ## feedback designs x both protocols on paper33 into one run folder
	$(PY) -m benchmark.run -m model.id=$(MODELS) dataset=paper33 prompts=$(DESIGNS) \
		loop.protocol=stateless,conversation security.enabled=true \
		hydra.sweep.dir=$(EXPERIMENT_DIR) $(ARGS)
	@echo "next: make report RUN=$(EXPERIMENT_DIR)"

run:  ## a single job with the defaults (ARGS: overrides)
	$(PY) -m benchmark.run $(ARGS)

report:  ## HTML + Markdown report of a sweep: make report RUN=runs/<sweep>
	@test -n "$(RUN)" || { echo "usage: make report RUN=<run folder>"; exit 2; }
	$(PY) -m analysis.report $(RUN)

compare:  ## make compare BASELINE=<run|paper> CANDIDATE=<run> [CANDIDATE_WHERE=k=v] [ALLOW_LINT_MISMATCH=1]
	@test -n "$(BASELINE)" -a -n "$(CANDIDATE)" || \
		{ echo "usage: make compare BASELINE=<run|paper> CANDIDATE=<run>"; exit 2; }
	$(PY) -m analysis.compare --baseline $(BASELINE) --candidate $(CANDIDATE) \
		$(if $(BASELINE_WHERE),--baseline-where $(BASELINE_WHERE)) \
		$(if $(CANDIDATE_WHERE),--candidate-where $(CANDIDATE_WHERE)) \
		$(if $(filter 1 true yes,$(ALLOW_LINT_MISMATCH)),--allow-lint-mismatch)

drift:  ## same templates linted two ways: make drift A=<run> B=<its rescore> | RECORDED=<imported run>
	@test -n "$(RECORDED)" -o \( -n "$(A)" -a -n "$(B)" \) || \
		{ echo "usage: make drift A=<run> B=<rescored run>, or make drift RECORDED=<imported run>"; exit 2; }
	$(PY) -m analysis.drift $(if $(RECORDED),$(RECORDED) --recorded,$(A) $(B))

paper-figures:  ## the paper's Fig. 5: RAW=<their repository, its JSON_run_v2, or trial*/> or the shipped table
	$(PY) -m analysis.paper_figures $(if $(RAW),--raw $(RAW))

import-paper:  ## the authors' run as a run folder: make import-paper PAPER=<their repo> [OUT=runs/paper-gpt-4o]
	@test -n "$(PAPER)" || \
		{ echo "usage: make import-paper PAPER=<their repository root> [OUT=runs/paper-gpt-4o] [CFN_LINT=1.x.y] [AS_OF=YYYY-MM-DD]"; exit 2; }
	$(PY) -m benchmark.replication.import_paper $(PAPER) --out $(or $(OUT),runs/paper-gpt-4o) \
		$(if $(CFN_LINT),--cfn-lint $(CFN_LINT)) $(if $(AS_OF),--as-of $(AS_OF))

calibrate:  ## simulator profile from a run: make calibrate RUN=<run> OUT=<profile.yaml> [NAME=..]
	@test -n "$(RUN)" -a -n "$(OUT)" || \
		{ echo "usage: make calibrate RUN=<run folder> OUT=<profile.yaml> [NAME=<name>]"; exit 2; }
	$(PY) -m studies calibrate $(RUN) --out $(OUT) $(if $(NAME),--name $(NAME))

validate-profile:  ## a profile against its source run: make validate-profile PROFILE=<p> RUN=<run>
	@test -n "$(PROFILE)" -a -n "$(RUN)" || \
		{ echo "usage: make validate-profile PROFILE=<name or file> RUN=<source run>"; exit 2; }
	$(PY) -m studies validate $(PROFILE) --run $(RUN)

power:  ## SIMULATED power of make compare: make power PROFILE=<p> EFFECT=k=+20% [SAMPLES ITERS DATASET ARGS]
	@test -n "$(PROFILE)" -a -n "$(EFFECT)" || \
		{ echo "usage: make power PROFILE=<profile name or file> EFFECT=<k=+20% | C=-0.05 | clean@5=+0.1> [SAMPLES=5] [ITERS=10] [DATASET=paper33] [ARGS=...]"; exit 2; }
	$(PY) -m studies power $(PROFILE) --effect $(EFFECT) \
		--samples $(or $(SAMPLES),5) --iterations $(ITERS) --dataset $(DATASET) $(ARGS)

clean-runs:  ## delete everything under runs/ except its README
	find runs -mindepth 1 -not -name README.md -delete
