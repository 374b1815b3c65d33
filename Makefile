# Verbs for people: `make setup`, `make test`, `make demo`, `make release`, `make collect`,
# `make grade`, `make lab`.
# Nothing here needs the venv activated: .venv/bin goes first on PATH for every recipe
# (nbgrader shells out to `alembic`, which must be found there).

PYTHON ?= python3
VENV := .venv
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export VIRTUAL_ENV := $(CURDIR)/$(VENV)
# Notebooks and kernels must use the venv's Python, never a user-wide kernelspec.
export JUPYTER_PLATFORM_DIRS := 1
export PYDEVD_DISABLE_FILE_VALIDATION := 1
STAMP := $(VENV)/.installed

SUBMISSIONS ?=
OUT ?= build/grade

.PHONY: setup test test-fast test-browser lint release collect grade demo lab clean

setup: $(STAMP)

# Re-installs only when pyproject.toml changes (or the venv is missing).
$(STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e ".[test]"
	$(VENV)/bin/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (gradient checking)"
	touch $@

lint: setup
	ruff check course_utils tests benchmarks instructor student nbgrader_config.py notebooks

# One pytest worker per core; a file's tests stay on one worker (they share class fixtures).
test: setup lint
	python -m pytest -n auto --dist loadfile

test-fast: setup
	python -m pytest -m "not slow and not browser"

test-browser: setup
	python -m pytest -m browser

release: setup
	python -m instructor.release

# An LMS download (Canvas or Moodle zip) into SUBMISSIONS, mapped through the roster.
collect: setup
	@test -n "$(ZIP)" -a -n "$(ROSTER)" -a -n "$(SUBMISSIONS)" || { echo "usage: make collect ZIP=<LMS download .zip> ROSTER=roster.csv SUBMISSIONS=<dir>"; exit 2; }
	python -m instructor.collect --zip "$(ZIP)" --roster "$(ROSTER)" --submissions "$(SUBMISSIONS)"

# Optional: WORKERS=N (1 = one student after another), SCHEDULER=tcp://HOST:PORT (a Dask
# cluster), DB_URL=postgresql+psycopg://... (gradebook), ROSTER=roster.csv (Canvas file),
# NO_SANDBOX=1 (only for a class whose code you trust).
grade: setup
	@test -n "$(SUBMISSIONS)" || { echo "usage: make grade SUBMISSIONS=<dir> OUT=<dir> [WORKERS=N] [SCHEDULER=tcp://host:port] [DB_URL=...] [ROSTER=roster.csv] [NO_SANDBOX=1]"; exit 2; }
	python -m instructor.grade --submissions "$(SUBMISSIONS)" --out "$(OUT)" \
		$(if $(DB_URL),--db-url "$(DB_URL)") $(if $(WORKERS),--workers "$(WORKERS)") \
		$(if $(SCHEDULER),--scheduler "$(SCHEDULER)") $(if $(ROSTER),--roster "$(ROSTER)") \
		$(if $(NO_SANDBOX),--no-sandbox)

demo: setup
	python -m instructor.demo

# ARGS=--no-browser on a machine without a screen.
lab: setup
	python -m student.lab $(ARGS)

clean:
	rm -rf build .pytest_cache .ruff_cache gradebook.db
