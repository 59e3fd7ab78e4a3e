# Two entry points on a fresh machine: `make run` and `make test`. Both create .venv and
# install what they need; re-running installs nothing new unless a requirements file changed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
FLASK  := $(BIN)/flask --app stopsync
EXAMPLE_PLUGIN := tests/plugins/examples/stopsync-example-nearest
CATALOGUES := $(wildcard stopsync/translations/*/LC_MESSAGES/messages.po)
COMPILED_CATALOGUES := $(CATALOGUES:.po=.mo)
HOST   ?= 127.0.0.1
PORT   ?= 5001

.PHONY: run serve test lint typecheck pytest vendor vendor-check messages translations clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.run-deps: requirements/base.txt requirements/web.txt requirements/scheduler.txt pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements/web.txt -r requirements/scheduler.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

$(VENV)/.test-deps: $(VENV)/.run-deps requirements/test.txt $(EXAMPLE_PLUGIN)/pyproject.toml
	$(BIN)/pip install --quiet -r requirements/test.txt
	$(BIN)/pip install --quiet --no-deps -e $(EXAMPLE_PLUGIN)
	touch $@

## run: embedded mode (SQLite in instance/): migrate, run the pipeline once, serve on :5001.
run: $(VENV)/.run-deps translations
	$(BIN)/python -m stopsync.setup_instance instance
	$(FLASK) db upgrade
	@$(FLASK) pipeline run || echo "pipeline run failed (see the reason above); serving what is published"
	$(MAKE) --no-print-directory serve

serve: $(VENV)/.run-deps translations
	@echo "stopsync on http://$(HOST):$(PORT)/"
	ROLE=all GUNICORN_BIND=$(HOST):$(PORT) $(BIN)/gunicorn --config python:stopsync.gunicorn_conf stopsync.wsgi:app

## test: lint, type-check and the full pytest suite.
test: lint typecheck pytest

lint: $(VENV)/.test-deps
	$(BIN)/ruff check .

typecheck: $(VENV)/.test-deps
	$(BIN)/mypy stopsync

pytest: $(VENV)/.test-deps translations
	$(BIN)/pytest

## translations: compile the message catalogues (.po -> .mo); run by run, serve and pytest.
translations: $(COMPILED_CATALOGUES)

%.mo: %.po | $(VENV)/.run-deps
	$(BIN)/pybabel compile -i $< -o $@

## messages: re-extract the interface strings and merge them into every catalogue.
messages: $(VENV)/.run-deps
	$(BIN)/pybabel extract -F babel.cfg --no-location --sort-output --project=stopsync \
		-o stopsync/translations/messages.pot stopsync
	$(BIN)/pybabel update -i stopsync/translations/messages.pot -d stopsync/translations --no-location \
		--width=100 --ignore-pot-creation-date

## vendor: refresh stopsync/static/vendor/ from the npm registry (needs node/npm).
vendor:
	npm ci --ignore-scripts
	$(BIN)/python scripts/sync_vendor.py

vendor-check:
	$(BIN)/python scripts/sync_vendor.py --check

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
