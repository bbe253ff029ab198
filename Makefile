# Two commands for a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
PYTHON := $(BIN)/python
STAMP := $(VENV)/.installed-$(shell sha1sum requirements.txt | cut -c1-12)
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint format migrate seed system-deps check-postgres messages clean

$(STAMP): requirements.txt
	@test -x $(PYTHON) || $(PY) -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -r requirements.txt
	@rm -f $(VENV)/.installed-* && touch $(STAMP)

## make run: virtual environment, install, migrate, demo data if empty, then web + Celery worker +
## beat on :8000 (honcho, Procfile) when Redis answers at REDIS_URL, else the web server alone
run: $(STAMP)
	$(PYTHON) manage.py migrate --noinput
	$(PYTHON) manage.py seed_demo --if-empty
	@echo "Portal: http://$(HOST):$(PORT)/   (demo logins in README.md)"
	@export DEBUG=$${DEBUG:-1} HOST=$(HOST); \
	if url=$$($(PYTHON) scripts/check-redis.py); then \
	  export REDIS_URL="$$url" PATH="$(CURDIR)/$(BIN):$$PATH"; \
	  exec $(BIN)/honcho start --port $(PORT); \
	else \
	  exec $(PYTHON) manage.py runserver $(HOST):$(PORT); \
	fi

## make test: lint, then the whole pytest suite on PostgreSQL (browser tests included)
test: $(STAMP) lint system-deps check-postgres
	$(BIN)/pytest $(PYTEST_ARGS)

## make lint: the same checks as .pre-commit-config.yaml (tests/test_lint_config.py keeps them so)
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/djlint templates --lint
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .
	$(BIN)/djlint templates --reformat

migrate: $(STAMP)
	$(PYTHON) manage.py migrate --noinput

seed: $(STAMP)
	$(PYTHON) manage.py seed_demo

system-deps:
	@bash scripts/system-deps.sh

check-postgres: $(STAMP)
	@$(PYTHON) scripts/check-postgres.py

## make messages: refresh the English catalogue and compile it (needs gettext)
messages: $(STAMP)
	$(PYTHON) manage.py makemessages -l en --ignore=.venv --ignore=staticfiles
	$(PYTHON) manage.py compilemessages -l en -l zh_Hans --ignore=.venv

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles artifacts .pytest_cache
