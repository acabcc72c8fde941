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
	.venv/bin/pytest -q

bench:
	@scripts/setup.sh
	.venv/bin/python bench/run_all.py

clean:
	rm -rf .venv .pytest_cache .mypy_cache .ruff_cache
