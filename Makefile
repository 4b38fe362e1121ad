# Dowse developer tasks. Every target creates .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

export QT_QPA_PLATFORM ?= offscreen

.PHONY: run test lint bench screenshots setup clean test-install bundle

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
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/python bench/index_throughput.py

screenshots: $(STAMP)
	$(BIN)/python -m desktop.screenshots docs/screenshots

clean:
	rm -rf $(VENV) build *.egg-info

# installer/install.sh end to end in a temporary HOME (slow: builds a private venv).
test-install: $(STAMP)
	$(BIN)/python -m pytest -m slow tests/install

# A one-folder app (PyInstaller, installer/dowse.spec) that runs without Python installed.
VERSION = $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
BUNDLE_TAR = dist/dowse-$(VERSION)-linux-$(shell uname -m).tar.gz

bundle: $(STAMP)
	$(BIN)/pip install --quiet -e '.[bundle]'
	$(BIN)/pyinstaller --noconfirm --clean --log-level WARN --distpath dist/bundle \
		--workpath build/pyinstaller installer/dowse.spec
	tar -C dist/bundle -czf $(BUNDLE_TAR) dowse
	@du -sh dist/bundle/dowse $(BUNDLE_TAR)
