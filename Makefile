# GapLens: `make run` serves the web page + API; `make test` runs every check. Both set up .venv first.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: setup system-packages run test lint typecheck pytest bench fuzz train eval clean

setup: $(STAMP)

# torch first and pinned: an unpinned torch would pull several GB of CUDA packages.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[dev,postgres,ray]"
	touch $(STAMP)

# Debian packages the tests use: Chromium for the browser tests (Playwright drives it, never downloads
# one) and tesseract with English and Dutch for OCR of scanned PDFs (optional for `make run`).
system-packages:
	@missing=""; \
	  command -v chromium >/dev/null || missing="chromium"; \
	  tesseract --list-langs 2>/dev/null | grep -qx nld || missing="$$missing tesseract-ocr tesseract-ocr-eng tesseract-ocr-nld"; \
	  [ -z "$$missing" ] || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; }

run: setup
	GAPLENS_AUTH=local $(BIN)/gaplens serve

# lint-imports checks the import rules in pyproject.toml ([tool.importlinter]) on this checkout's code.
lint: setup
	$(BIN)/ruff check service classifiers eval tests
	$(BIN)/ruff format --check service classifiers eval tests
	$(BIN)/hadolint Dockerfile
	PYTHONPATH=. $(BIN)/lint-imports

typecheck: setup
	$(BIN)/mypy

# A throwaway PostgreSQL on loopback for the one PostgreSQL test; stopped again afterwards.
pytest: setup system-packages
	@bash .ci/postgres.sh start
	@set -e; status=0; \
	  GAPLENS_TEST_POSTGRES_URL=$$(bash .ci/postgres.sh url) $(BIN)/pytest $(PYTEST_ARGS) || status=$$?; \
	  bash .ci/postgres.sh stop; exit $$status

test: lint typecheck pytest

bench: setup
	$(BIN)/python eval/bench_analyze.py
	$(BIN)/python eval/bench_classify.py
	$(BIN)/python eval/bench_batch.py
	$(BIN)/python eval/bench_load.py

# The deep fuzz run (tests/test_fuzz.py runs the same code with a small budget).
fuzz: setup
	$(BIN)/python eval/fuzz.py --api-examples 200 --pdf-examples 1000

# Rebuild the shipped classifiers: the tuned release (classifiers/models/tuned/, the default) and the first
# release's heads on frozen encoders (classifiers/models/). Times on 2 cores in eval/RESULTS.md.
train: setup
	$(BIN)/gaplens train tuned
	$(BIN)/gaplens train sdg
	$(BIN)/gaplens train dd

# Dev and locked-test scores of the tuned classifiers beside the first release and zero-shot, and the
# labellers' agreement (eval/RESULTS.md). The first release's own dev-set scripts: eval/eval_sdg.py, eval_dd.py.
# The previous release (twelve-layer tuned e5 for Dutch), scored beside this one from its own commit.
PREVIOUS_RELEASE ?= d014d59
eval: setup
	$(BIN)/python eval/eval_v2.py --previous $(PREVIOUS_RELEASE)
	$(BIN)/python eval/agreement.py
	$(BIN)/python eval/agreement.py eval/data/double_labelled_nl_r2.jsonl
	$(BIN)/python eval/expert_agreement.py corpora/labels_expert_sample/blind_v2.jsonl corpora/labels_expert_sample/blind_v3.jsonl
	$(BIN)/python eval/eval_readers.py --split test
	$(BIN)/python eval/expert_documents.py --split test --without-readers
	$(BIN)/python eval/expert_documents.py --split test
	$(BIN)/python eval/readings.py
	$(BIN)/python eval/indicator_check.py --rules-only
	$(BIN)/python eval/eval_rubric.py

clean:
	rm -rf $(VENV) data test-output .pytest_cache .ruff_cache .mypy_cache
