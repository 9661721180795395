# Two commands do all set-up on a fresh machine (see README):
#   make run   — install, initialise the embedded default (SQLite + local folder), register the
#                example study, and start fieldvault
#   make test  — install with the test tools, lint, type-check and run the whole test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | sha256sum | cut -c1-12)
EXAMPLE := fieldvault/config/examples/nav-veileder.toml

.PHONY: run install test lint bench bench-transcription clean-venv

$(STAMP):
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	$(BIN)/fieldvault models install base
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/fieldvault init
	$(BIN)/fieldvault study check $(EXAMPLE)
	$(BIN)/fieldvault study list | grep -q nav-veileder || $(BIN)/fieldvault study create $(EXAMPLE)
	$(BIN)/fieldvault serve

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

test: $(STAMP) lint
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python bench/crypto_stream.py

bench-transcription: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python bench/transcription.py

clean-venv:
	rm -rf $(VENV)
