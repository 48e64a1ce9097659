# polyloly — the two commands a new user needs:
#   make demo   runs the offline demo against the local simulators
#   make test   runs lint, type checks and the whole test suite
# Each creates or updates .venv from pyproject.toml by itself.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest bench bench-smoke bench-profile clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade pip
	@$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/polyloly demo $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest $(ARGS)

test: lint typecheck pytest

bench: $(STAMP)
	$(BIN)/python -m bench run $(ARGS)

bench-smoke: $(STAMP)
	$(BIN)/python -m bench run --smoke

bench-profile: $(STAMP)
	$(BIN)/python -m bench profile $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
