# The two commands of the README: `make demo` and `make test`. Each installs what it needs.
.PHONY: demo demo-experiment test lint typecheck unit bench clean

demo:
	@scripts/setup.sh
	@.venv/bin/python scripts/demo.py

demo-experiment:
	@scripts/setup.sh
	@.venv/bin/python scripts/demo_experiment.py

test:
	@scripts/setup.sh test
	.venv/bin/ruff check src tests bench scripts
	.venv/bin/ruff format --check src tests bench scripts
	.venv/bin/mypy
	.venv/bin/pytest -q -n 2

bench:
	@scripts/setup.sh
	.venv/bin/python bench/run_all.py

# The control fuzzer's long profile (tests/integration/fuzz; its fast profile is in `make test`):
# AGENTLOOP_FUZZ_SEQUENCES walks (default 1000), AGENTLOOP_FUZZ_MINUTES bounds the time,
# AGENTLOOP_FUZZ_SEED=N [AGENTLOOP_FUZZ_PROFILE=fast] replays one walk; reports in AGENTLOOP_FUZZ_OUT.
.PHONY: fuzz
fuzz:
	@scripts/setup.sh
	PYTHONPATH=tests .venv/bin/python -m integration.fuzz.walker

clean:
	rm -rf .venv .pytest_cache .mypy_cache .ruff_cache
