# Dowse developer tasks. Every target creates .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

export QT_QPA_PLATFORM ?= offscreen

.PHONY: run test lint bench screenshots setup clean test-install test-torture bundle

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# Pin torch first: the CPU wheel. A loose 'torch' would pull GBs of CUDA packages.
	$(BIN)/pip install --quiet torch==2.13.0
	# int8: OpenVINO and NNCF, which precision = "auto" takes on a CPU without bf16 units.
	$(BIN)/pip install --quiet -e '.[test,int8]'
	touch $(STAMP)

setup: $(STAMP)

# OCR (images, scanned PDFs) uses Tesseract, a system package: without it Dowse runs, leaves
# pictures of pages unread, and the OCR tests skip, each saying why.
OCR_NOTE = @command -v tesseract >/dev/null || echo "note: tesseract is not installed, so images \
and scanned PDFs are not read and their tests skip (apt-get install tesseract-ocr)"

run: $(STAMP)
	$(OCR_NOTE)
	QT_QPA_PLATFORM= $(BIN)/dowse gui

test: $(STAMP)
	$(OCR_NOTE)
	$(BIN)/python -m pytest

# The slow fault tests: 100 SIGKILLs while indexing, a storm of 10,000 file events, a full
# re-index after rebuilding a damaged database (tens of minutes on a laptop).
test-torture: $(STAMP)
	$(BIN)/python -m pytest -m slow -s tests/e2e/test_kill.py tests/e2e/test_event_storm.py \
		tests/e2e/test_damaged_data_dir.py

lint: $(STAMP)
	$(BIN)/ruff check engine desktop tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/python bench/index_throughput.py
	$(BIN)/python bench/ocr_throughput.py

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
