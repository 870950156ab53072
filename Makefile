# `make run` starts the app on the demo portfolio; `make test` runs every test.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
PORT ?= 8501

.PHONY: run test setup setup-test chromium fonts java poppler lint bench bench-reference demo

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed requirements-dev.txt
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

setup: $(VENV)/.installed chromium fonts

setup-test: $(VENV)/.installed-test chromium fonts java poppler

# Debian's Chromium for the browser tests and the report charts (Playwright's own browser download cannot work here).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; }

# PDF reports: Chromium (above) renders the charts through kaleido; DejaVu is the embedded Unicode font.
# Noto Color Emoji: the lights' 🟢🟡🔴 are boxes in a browser on a machine without an emoji font.
fonts:
	@dpkg -s fonts-dejavu-core fonts-noto-color-emoji >/dev/null 2>&1 || { \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq fonts-dejavu-core fonts-noto-color-emoji \
		>/dev/null; }
# pdftotext and pdftoppm: the tests read the PDF reports as text, and a person looks at them as images.
poppler:
	@command -v pdftotext >/dev/null 2>&1 || { \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq poppler-utils >/dev/null; }
# A Java runtime for pyspark (the statistics SQL is tested on Spark in local mode).
java:
	@command -v java >/dev/null 2>&1 || { \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq openjdk-17-jre-headless >/dev/null; }

# A random privacy key, as every home gets (`--reproducible`, the fixed key, is for tests and benchmarks only).
demo: setup
	$(PY) -m ethics demo --if-empty

run: demo
	$(PY) -m streamlit run app.py --server.port $(PORT) --server.headless true

lint: setup-test
	$(PY) -m ruff check .

test: setup-test lint
	$(PY) -m pytest -q

bench: setup
	$(PY) benchmarks/run_all.py

# The reference library of benchmarks/aequitas_audit.py in a virtualenv of its own: Aequitas 1.1.0 needs pandas < 3
# (and altair, matplotlib, seaborn, fastparquet), so it cannot share .venv (pandas 3.1). pyarrow reads the Parquet.
REFERENCE_VENV := .venv-reference

$(REFERENCE_VENV)/.installed:
	$(PYTHON) -m venv $(REFERENCE_VENV)
	$(REFERENCE_VENV)/bin/python -m pip install -q --upgrade pip
	$(REFERENCE_VENV)/bin/python -m pip install -q aequitas==1.1.0 "pandas<3" pyarrow
	touch $@

bench-reference: $(REFERENCE_VENV)/.installed
