# The README documents each target. `make run` and `make test` are all a newcomer needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
REQS := requirements/base.txt requirements/dev.txt

.PHONY: install run test test-fast bench lint typecheck format lock messages diagrams seed clean

install: $(STAMP)

$(STAMP): $(REQS)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --require-virtualenv -r requirements/base.txt -r requirements/dev.txt
	$(BIN)/python scripts/compile_messages.py
	touch $(STAMP)

# The product on its embedded default (SQLite, filesystem broker, e-mails in var/mail).
run: install
	$(BIN)/python manage.py migrate --noinput -v0
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py collectstatic --noinput -v0
	@echo ""
	@echo "  Appels à projets: http://127.0.0.1:$${PORT:-8000}/  (Ctrl-C stops web, worker and beat)"
	@echo ""
	$(BIN)/honcho start -f Procfile

# The whole suite, on PostgreSQL and Redis (DATABASE_URL / REDIS_URL, else 127.0.0.1).
test: install
	$(BIN)/pytest $(PYTEST_ARGS)

bench: install
	$(BIN)/python -m bench.run $(BENCH_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

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
