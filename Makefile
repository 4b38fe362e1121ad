# Dowse developer tasks. Every target creates .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

export QT_QPA_PLATFORM ?= offscreen

.PHONY: run test lint bench screenshots setup clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# Pin torch first: the CPU wheel. A loose 'torch' would pull GBs of CUDA packages.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	QT_QPA_PLATFORM= $(BIN)/dowse gui

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check engine desktop tests bench
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python bench/index_throughput.py

screenshots: $(STAMP)
	$(BIN)/python -m desktop.screenshots docs/screenshots

clean:
	rm -rf $(VENV) build *.egg-info
