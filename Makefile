# The README documents each target. `make run` and `make test` are all a newcomer needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Two steps: the runtime dependencies (all `make run` needs), then the development ones
# (tests, lint, benchmarks) on top: `make install` is both.
RUN_STAMP := $(VENV)/.installed-base
STAMP := $(VENV)/.installed
# --no-compile: bytecode is written on first import, only for the modules that are imported.
PIP := $(BIN)/pip install --quiet --require-virtualenv --no-compile

# The port `make run` serves on. Passed to the web process by name: honcho gives every
# Procfile process its own PORT (5000, 5100…), which is not used. SITE_URL (links in
# e-mails and on PDFs) follows it unless set (config/settings.py).
WEB_PORT ?= 8000
export WEB_PORT

.PHONY: install python-version run seed test test-fast bench lint typecheck format lock messages diagrams clean

install: $(STAMP)

# The project runs on Python 3.11 only (pyproject.toml): say so before pip fails obscurely.
# Checked at the start of `make install` and `make run`, and on any venv already there.
python-version:
	@v=$$($(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null); \
	if [ "$$v" != "3.11" ]; then \
	  if [ -n "$$v" ]; then found="is Python $$v"; else found="was not found"; fi; \
	  echo "This project needs Python 3.11; PYTHON=$(PYTHON) $$found." >&2; \
	  echo "Install Python 3.11, then: make $(or $(firstword $(MAKECMDGOALS)),install) PYTHON=python3.11" >&2; \
	  exit 1; \
	fi
	@if [ -x $(BIN)/python ] && ! $(BIN)/python -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then \
	  echo "$(VENV)/ was made with another Python than 3.11: remove it (rm -rf $(VENV)) and run make again." >&2; \
	  exit 1; \
	fi

$(RUN_STAMP): requirements/base.txt | python-version
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(PIP) -r requirements/base.txt
	$(BIN)/python scripts/compile_messages.py
	touch $@

$(STAMP): $(RUN_STAMP) requirements/dev.txt
	$(PIP) -r requirements/base.txt -r requirements/dev.txt
	touch $@

# The product on its embedded default (SQLite, filesystem broker, e-mails in var/mail),
# as its users see it: DEBUG off (the product's 403/404/500 pages; whitenoise serves the
# collected static files). `make run DEBUG=true` shows Django's debug pages instead.
# scripts/prepare_run.py migrates, seeds the demo and collects static files, each only
# when needed; `make seed` re-runs the demo seeding (idempotent, resets the passwords).
run: export DEBUG ?= false
run: python-version $(RUN_STAMP)
	$(BIN)/python scripts/prepare_run.py
	@echo ""
	@echo "  Appels à projets: http://127.0.0.1:$(WEB_PORT)/  (Ctrl-C stops web, workers and beat)"
	@echo ""
	$(BIN)/honcho start -f Procfile

seed: python-version $(RUN_STAMP)
	$(BIN)/python manage.py seed_demo $(SEED_ARGS)

# The whole suite, on PostgreSQL and Redis (DATABASE_URL / REDIS_URL, else 127.0.0.1).
test: install
	$(BIN)/pytest $(PYTEST_ARGS)

bench: install
	$(BIN)/python -m bench.run $(BENCH_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Regenerate the lock files after editing requirements/*.in.
lock:
	cd requirements && ../$(BIN)/pip-compile -q --strip-extras --allow-unsafe -o base.txt base.in
	cd requirements && ../$(BIN)/pip-compile -q --strip-extras --allow-unsafe -o dev.txt dev.in

messages: install
	$(BIN)/python manage.py makemessages -l en -l fr --ignore '.venv/*' --ignore 'var/*'
	$(BIN)/python scripts/compile_messages.py

diagrams: install
	$(BIN)/python manage.py write_diagrams

clean:
	rm -rf var/ .pytest_cache .mypy_cache .ruff_cache
