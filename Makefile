# The two commands in README.md:
#   make demo   set up, index this project's own source tree, and search it
#   make test   set up everything and run the whole test suite (what .ci/run calls)
VENV ?= .venv
BIN := $(VENV)/bin
QUERY ?= write a file atomically
PATH_TO_INDEX ?= server

.PHONY: demo test setup setup-dev lint typecheck pytest wheel-check extension bench-quick clean

demo: setup
	$(BIN)/codequest index $(PATH_TO_INDEX)
	$(BIN)/codequest search "$(QUERY)" --path $(PATH_TO_INDEX) -k 5

setup:
	scripts/setup.sh

setup-dev:
	scripts/setup.sh dev

test: setup-dev lint typecheck pytest wheel-check extension bench-quick

lint:
	$(BIN)/ruff check server tests benchmarks scripts
	$(BIN)/ruff check --select C90 server tests
	$(BIN)/ruff format --check server tests

typecheck:
	$(BIN)/mypy

pytest:
	$(BIN)/python -m pytest -q -ra

# Build the wheel, install it without extras into a fresh venv with an empty
# CODEQUEST_HOME, and use it as a new user would (scripts/check_wheel.py says what it
# checks). The checked wheel is left in dist/.
wheel-check:
	$(BIN)/python scripts/check_wheel.py --dist dist

extension:
	cd vscode-extension && npm run typecheck && npm run lint && npm test \
		&& CODEQUEST_PYTHON=$(abspath $(BIN)/python) npm run test:wire && npm run package

bench-quick:
	$(BIN)/codequest bench --quick --output-dir $(or $(TMPDIR),/tmp)/codequest-bench-quick

clean:
	rm -rf $(VENV) vscode-extension/node_modules vscode-extension/out
