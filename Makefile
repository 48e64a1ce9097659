# polyloly — the two commands a new user needs:
#   make demo   runs the offline demo against the local simulators
#   make test   runs the lock check, lint (ruff, and lint-imports: the layer contracts in
#               pyproject.toml), type checks and the whole test suite
# Each creates or updates .venv with exactly the locked versions in requirements/ (hashes
# checked), installed by uv; uv itself is bootstrapped from the registry with pip, pinned.
#   make soak     the fault soak: the live bot under faults and SIGKILLs, audited (~23 min;
#                 ARGS="--short" is the ~1 min CI run)
#   make lock     re-lock after editing pyproject.toml (keeps every pin that still fits)
#   make upgrade  move every pin to the newest release, then run the suite

PYTHON ?= python3
# The web console's browser tests drive Debian's Chromium (Playwright's own browser download is
# not used); `make test` installs the package when it is missing.
CHROMIUM ?= /usr/bin/chromium
export POLYLOLY_CHROMIUM := $(CHROMIUM)
VENV   := .venv
BIN    := $(VENV)/bin
UV     := $(BIN)/uv
STAMP  := $(VENV)/.installed
# The local chain for the on-chain tests and `polyloly sim chain`: anvil and solc-js from the npm
# registry, exactly as locked in package-lock.json (npm ci; no registry URL is written in the lock).
NPM_STAMP := node_modules/.installed
LOCKS  := $(addprefix requirements/,dev.txt runtime.txt build.txt bootstrap.txt)
# Lock for every platform, from the oldest Python the project supports; no index URL is written.
LOCK_ARGS := --universal --python-version 3.11 --generate-hashes --quiet \
             --custom-compile-command "make lock"
export UV_PYTHON_DOWNLOADS := never
export UV_NO_PROGRESS := 1

.PHONY: chain-tools demo test lint lock-check typecheck pytest bench bench-smoke bench-profile soak lock upgrade clean

$(STAMP): pyproject.toml $(LOCKS)
	@echo "set-up: .venv with the locked dependencies (requirements/dev.txt)..."
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(UV) --version 2>/dev/null | grep -qF "$$(sed -n 's/^uv==\([^ ]*\).*/\1/p' requirements/bootstrap.txt)" \
	  || { echo "set-up: bootstrapping uv (requirements/bootstrap.txt)..."; \
	       $(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps \
	         --require-hashes -r requirements/bootstrap.txt 2>&1 | grep -v "^WARNING: Location" || true; }
	@$(UV) --version >/dev/null
	@echo "set-up: installing $$(grep -c '^[a-zA-Z].*==' requirements/dev.txt) locked packages..."
	@$(UV) pip sync --quiet --compile-bytecode --python $(BIN)/python --require-hashes requirements/dev.txt
	@$(UV) pip install --quiet --python $(BIN)/python --no-deps --no-build-isolation -e .
	@touch $(STAMP)
	@echo "set-up: done"

$(NPM_STAMP): package.json package-lock.json
	@echo "set-up: anvil and solc-js (package-lock.json)..."
	@npm ci --no-audit --no-fund --loglevel=error
	@touch $(NPM_STAMP)

chain-tools: $(NPM_STAMP)

demo: $(STAMP) $(NPM_STAMP)
	$(BIN)/polyloly demo $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

$(CHROMIUM):
	@echo "set-up: installing Chromium (Debian's package) for the web console's browser tests..."
	@command -v apt-get >/dev/null || { echo "set-up: no apt-get: install Chromium at $(CHROMIUM) (or set CHROMIUM=)"; exit 1; }
	@SUDO=$$(test "$$(id -u)" = 0 || echo sudo); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null
	@test -x $(CHROMIUM)

pytest: $(STAMP) $(NPM_STAMP) $(CHROMIUM)
	$(BIN)/pytest $(ARGS)

lock-check: $(STAMP)
	$(BIN)/python scripts/check_lock.py

test: lock-check lint typecheck pytest

bench: $(STAMP)
	$(BIN)/python -m bench run $(ARGS)

bench-smoke: $(STAMP)
	$(BIN)/python -m bench run --smoke

bench-profile: $(STAMP)
	$(BIN)/python -m bench profile $(ARGS)

soak: $(STAMP)
	$(BIN)/python -m bench.soak $(ARGS)

lock: $(STAMP)
	$(UV) pip compile pyproject.toml requirements/tools.in requirements/build.in --extra dev -o requirements/dev.txt $(LOCK_ARGS)
	$(UV) pip compile pyproject.toml -c requirements/dev.txt -o requirements/runtime.txt $(LOCK_ARGS)
	$(UV) pip compile requirements/build.in -c requirements/dev.txt -o requirements/build.txt $(LOCK_ARGS)
	$(UV) pip compile requirements/bootstrap.in -c requirements/dev.txt -o requirements/bootstrap.txt $(LOCK_ARGS)
	$(BIN)/python scripts/check_lock.py

upgrade: $(STAMP)
	$(UV) pip compile pyproject.toml requirements/tools.in requirements/build.in --extra dev -o requirements/dev.txt $(LOCK_ARGS) --upgrade
	$(UV) pip compile pyproject.toml -c requirements/dev.txt -o requirements/runtime.txt $(LOCK_ARGS)
	$(UV) pip compile requirements/build.in -c requirements/dev.txt -o requirements/build.txt $(LOCK_ARGS)
	$(UV) pip compile requirements/bootstrap.in -c requirements/dev.txt -o requirements/bootstrap.txt $(LOCK_ARGS)
	$(MAKE) test

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
