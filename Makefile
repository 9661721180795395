# Two commands do all set-up on a fresh machine (see README):
#   make run   — install, initialise the embedded default (SQLite + local folder), register the
#                example study, create the demo study the first time (`fieldvault demo`: prints
#                the dashboard's address and login), and start fieldvault
#   make test  — install with the test tools, lint, type-check and run the whole test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | sha256sum | cut -c1-12)
EXAMPLE := fieldvault/config/examples/nav-veileder.toml

.PHONY: run install test lint catalogs chromium importers bench bench-transcription bench-web bench-web-researcher bench-scale clean-venv

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
	$(BIN)/fieldvault demo --if-missing
	$(BIN)/fieldvault serve

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# Re-extract every marked text (bot, web) and rewrite the nb/nn/en catalogs from the tables in
# fieldvault/config/locale/translations.py and fieldvault/config/locale/researcher/.
catalogs: $(STAMP)
	$(BIN)/pybabel extract --no-location --omit-header -k _ -F fieldvault/web/consent/babel.cfg \
	  -o fieldvault/config/locale/fieldvault.pot fieldvault/bot fieldvault/web
	$(BIN)/python -m fieldvault.config.locale.translations

# The browser tests (tests/e2e) drive Debian's Chromium: installed when missing and make runs
# as root (CI); otherwise those tests are skipped outside CI and say why.
chromium:
	@if [ ! -x /usr/bin/chromium ] && [ "$$(id -u)" = 0 ]; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	fi

# REFI-QDA importers that are not ours (qualitative-coding's `qc`, pyrefiqda) for
# tests/integration/test_refi_importers.py, in a venv of their own: their pins clash with ours
# (tests/importers/venv.py says why). Rebuilt only when tests/importers/requirements.txt changes.
importers: $(STAMP)
	$(BIN)/python -m tests.importers.venv

test: $(STAMP) chromium importers lint
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python bench/crypto_stream.py

bench-transcription: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python bench/transcription.py

bench-web: $(STAMP)
	$(BIN)/python bench/web_consent.py

# 50 researchers browsing a study of 500 participants, the review editor of a 60-minute transcript
# in Chromium, audio seek (about 5 min on 2 cores); exits 1 when a target is missed.
bench-web-researcher: $(STAMP) chromium
	$(BIN)/python bench/web_researcher.py

# Worker processes x threads against the engine alone, and uploads through two web processes
# against a bare aiohttp sink, on PostgreSQL, Redis and SeaweedFS (about 7 min on 2 cores);
# bench/scale_gpu.sh is the GPU variant.
bench-scale: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python bench/scale.py --repeat 2

clean-venv:
	rm -rf $(VENV)
