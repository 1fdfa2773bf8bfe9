# quantload: every chore is one command. The venv is created and filled on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
TEST_WORKERS ?= 4

.PHONY: install demo test bench calibrate screenshot lint format clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# The main job against the embedded reference target: the default population for 30 s,
# leaving its run directory and quantload's report in results/demo/.
demo: $(STAMP)
	rm -rf results/demo
	$(VENV)/bin/locust -f locustfile.py --headless -u 20 -r 5 -t 30s --only-summary \
		--run-dir results/demo
	@echo "open results/demo/report.html"

# Two phases: every test not marked `timing` on $(TEST_WORKERS) pytest-xdist workers (a module's tests
# stay together), then the timing tests alone, serially, so no other load distorts them.
# Fails if either phase fails or runs no test (pytest's exit 5).
test: $(STAMP)
	@start=$$(date +%s); \
	$(PY) -m pytest -m "not timing" -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS); a=$$?; \
	$(PY) -m pytest -m timing -p no:xdist $(PYTEST_ARGS); b=$$?; \
	echo "make test: $$(( $$(date +%s) - start )) s wall (not timing: exit $$a, timing: exit $$b)"; \
	for rc in $$a $$b; do \
		if [ $$rc -eq 5 ]; then echo "make test: a phase ran no test" >&2; exit 1; fi; \
		if [ $$rc -ne 0 ]; then exit $$rc; fi; \
	done

bench: $(STAMP)
	$(PY) -m bench.target_throughput
	$(PY) -m bench.generator_overhead
	$(PY) -m bench.hook_overhead
	$(PY) -m bench.recording_cost
	$(PY) -m bench.import_cost
	$(PY) -m bench.report_render
	$(PY) -m bench.history_scale
	$(PY) -m bench.answer_check_cost
	$(PY) -m bench.generator_ceiling
	$(PY) -m bench.generator_memory

# Accuracy against the reference target's known truths (minutes; not part of make test).
calibrate: $(STAMP)
	$(PY) -m bench.breakpoint_accuracy
	$(PY) -m bench.report_accuracy
	$(PY) -m bench.history_accuracy
	$(PY) -m bench.history_calibration
	$(PY) -m bench.master_loss
	$(PY) -m bench.saturation_accuracy
	$(PY) -m bench.job_capacity_accuracy
	$(PY) -m bench.correctness_accuracy
	$(PY) -m bench.generator_capacity

# The README's report screenshots (docs/report*.png) from a real 1-minute stepped run.
screenshot: $(STAMP)
	$(PY) -m bench.report_screenshot

# ruff (check and format --check), mypy (strict on metrics, rundir, reports.analysis) and
# the import-linter contracts of docs/architecture.md's layering, all in pyproject.toml.
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) results .pytest_cache .ruff_cache *.egg-info
