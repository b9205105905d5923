# Every developer command in one place; README.md documents each target.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup test test-fast lint chat bench bench-quality bench-reload bench-load bench-restart bench-idle bench-memory bench-question bench-replicas container-test

$(BIN)/reports-bot: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

setup: $(BIN)/reports-bot

test: setup
	$(BIN)/pytest

# Unit tests only: no `python -m bot` subprocesses (the tests marked slow, tests/e2e/).
test-fast: setup
	$(BIN)/pytest -m "not slow" -q

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

chat: setup
	$(BIN)/reports-bot chat

bench: setup
	$(BIN)/python -m benchmarks.bench_search

bench-quality: setup
	$(BIN)/python -m benchmarks.bench_quality

bench-reload: setup
	$(BIN)/python -m benchmarks.bench_reload

bench-load: setup
	$(BIN)/python -m benchmarks.load_bot

bench-restart: setup
	$(BIN)/python -m benchmarks.bench_restart

bench-idle: setup
	$(BIN)/python -m benchmarks.bench_idle

bench-memory: setup
	$(BIN)/python -m benchmarks.bench_memory

bench-question: setup
	$(BIN)/python -m benchmarks.bench_question

bench-replicas: setup
	$(BIN)/python -m benchmarks.bench_replicas

container-test: setup
	bash .ci/container-test
