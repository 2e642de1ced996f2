# The two commands of the README: `make run` and `make test`.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= $(shell command -v python3.11 || command -v python3)
# The suite spreads over three processes (pytest-xdist) on two cores: many tests wait (on Chromium,
# a Celery worker, a subprocess starting), and a third process fills that time; an idle process
# steals queued tests from a busy one. Each worker has its own test database.
PYTEST_ARGS ?= -n 3 --dist worksteal

.PHONY: install run test lint format bench simulate cluster clean demo-totp demo-token

$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

# The Nu HTML checker (tests/quality) at the version package.json pins, from the npm registry; no lock
# file is kept (it would record the registry's address).
VNU := node_modules/vnu-jar/build/dist/vnu.jar
$(VNU): package.json
	@if command -v npm >/dev/null 2>&1; then \
		npm install --no-package-lock --no-audit --no-fund --loglevel=error && touch $@; \
	else echo "npm is not installed: the Nu HTML checker is missing (apt-get install -y npm, then make install)"; fi

install: $(VENV)/.installed $(VNU)

# Where `make run` serves: `make run ADDR=127.0.0.1:9000`, or `make run PORT=9000` (on 127.0.0.1).
PORT ?= 8000
ADDR ?= 127.0.0.1:$(PORT)

## Embedded default: SQLite under .data/, filesystem broker, demo data, web+worker+beat.
## ADDR is exported: the settings make SITE_URL (links in e-mails, the demo's webhooks) from it.
run: install
	export DEBUG=$${DEBUG:-true} ADDR='$(ADDR)'; \
	$(PY) manage.py compile_catalogues && \
	$(PY) manage.py migrate --noinput && \
	$(PY) manage.py seed_demo && \
	exec $(PY) manage.py run_embedded --addr '$(ADDR)'

## The demo admin's current two-factor code (the admin asks staff for one).
demo-totp: install
	@DEBUG=$${DEBUG:-true} $(PY) manage.py demo_totp

## An API token of the demo buyer (made once, the same after), for trying the API at /api/docs/.
demo-token: install
	@DEBUG=$${DEBUG:-true} $(PY) manage.py demo_token

## The whole suite against PostgreSQL and Redis (DATABASE_URL, REDIS_URL); it also runs Chromium,
## nginx and Java, and stops at once, with the command that installs each, if one is missing.
test: install
	@$(PY) scripts/check_services.py --test
	$(VENV)/bin/pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .
	$(VENV)/bin/lint-imports
	DEBUG=true $(PY) manage.py lint_migrations
	DEBUG=true $(PY) manage.py check_catalogues
	$(VENV)/bin/check-jsonschema --builtin-schema vendor.compose-spec docker-compose.yml

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: install
	@$(PY) scripts/check_services.py
	$(PY) -m bench

## The fault simulation of the money path (simulate/): SEED=1 STEPS=10000 by default.
simulate: install
	@$(PY) scripts/check_services.py
	$(PY) -m simulate --seed $${SEED:-1} --steps $${STEPS:-10000}

## The production topology on this machine (deploy/cluster.py): nginx with TLS on https://localhost:8443,
## two gunicorn webs, two workers, beat, S3 (moto), against PostgreSQL and Redis. Ctrl-C stops it.
cluster: install
	@$(PY) scripts/check_services.py
	$(PY) -m deploy.cluster

clean:
	rm -rf .data
