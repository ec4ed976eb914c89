# credflow: `make demo` and `make test` install whatever is missing, then run.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Offline Prefect: no analytics, no promotional content; the demo keeps its Prefect state in var/.
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export DO_NOT_TRACK := 1
export PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT := false
DEMO_ENV := PREFECT_HOME=$(CURDIR)/var/prefect

.PHONY: demo test test-future test-fast lint bench ui system-deps browser faketime install assets lock clean

## demo: install what is missing, then run the demo cohort end to end on the embedded defaults
demo: install
	$(DEMO_ENV) $(BIN)/credflow catalog check
	$(DEMO_ENV) $(BIN)/credflow demo

## test: install what is missing (plus Debian's chromium for the browser tests), then run the test suite
# Two pytest-xdist workers, a test file each at a time, the longest files first (tests/utils/scheduling.py;
# --no-loadscope-reorder keeps that order): the cluster test (its own Prefect server, workers and
# databases; about 2.5 minutes on credflow workers) starts at once in one worker while the other works through the rest.
TEST_DIST := -n 2 --dist loadfile --no-loadscope-reorder
test: install browser
	$(BIN)/pytest -q $(TEST_DIST)

## test-future: the whole suite (as `make test` runs it) with the system clock moved 400 days ahead by libfaketime
# Every clock is injected or read consistently, so no test may depend on today's date; this proves it.
# libfaketime 0.9.10 moves the monotonic clock too, so a timed wait (Event.wait(0.3), Lock.acquire(timeout=..))
# never times out under it: tests wait on events that are set, or poll with time.sleep and a deadline.
test-future: install browser faketime
	faketime -f '+400d' $(BIN)/pytest -q $(TEST_DIST)

## test-fast: domain and web tests in under 2 minutes (no browser, cluster, PostgreSQL, ffmpeg transcoding or Prefect flows)
test-fast: install
	$(BIN)/pytest -q -n 2 -m "not slow and not postgres"

## lint: ruff (lint and format) and mypy
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy credflow web flows tasks cli tests

## bench: the benchmarks (long; not part of `make test`)
bench: install
	$(BIN)/python -m bench

## ui: the Prefect UI on the demo's runs, at http://127.0.0.1:4200
ui: install
	$(DEMO_ENV) $(BIN)/prefect server start --host 127.0.0.1 --port 4200

install: system-deps $(STAMP) assets

# The browser's libraries (tus-js-client) from the npm registry, exactly as web/assets/package-lock.json pins them,
# copied to web/static/vendor/ where credflow serves them at /static/vendor/ (no CDN). Needs node and npm.
ASSETS := web/assets
VENDOR := web/static/vendor
VENDOR_STAMP := $(VENDOR)/.installed
assets: $(VENDOR_STAMP)

$(VENDOR_STAMP): $(ASSETS)/package.json $(ASSETS)/package-lock.json
	@command -v npm >/dev/null || { \
		echo "installing Debian's nodejs and npm for the browser assets"; \
		SUDO=""; [ "$$(id -u)" = 0 ] || SUDO="sudo"; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq nodejs npm; }
	cd $(ASSETS) && npm ci --ignore-scripts --no-audit --no-fund --silent
	mkdir -p $(VENDOR)
	cp $(ASSETS)/node_modules/tus-js-client/dist/tus.min.js $(VENDOR)/tus.min.js
	cp $(ASSETS)/node_modules/tus-js-client/LICENSE $(VENDOR)/tus-js-client.LICENSE
	@touch $(VENDOR_STAMP)

# Debian's ffmpeg/ffprobe and libmagic, through apt-get only when they are absent.
system-deps:
	@missing=""; \
	command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null || missing="$$missing ffmpeg"; \
	ldconfig -p 2>/dev/null | grep -q 'libmagic\.so\.1' || missing="$$missing libmagic1"; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		SUDO=""; [ "$$(id -u)" = 0 ] || SUDO="sudo"; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

# Pages are tested in Debian's chromium driven by Playwright (no browser downloads).
browser:
	@command -v chromium >/dev/null || { \
		echo "installing Debian's chromium for the browser tests"; \
		SUDO=""; [ "$$(id -u)" = 0 ] || SUDO="sudo"; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium; }

# Debian's libfaketime for `make test-future`, through apt-get only when it is absent.
faketime:
	@command -v faketime >/dev/null || { \
		echo "installing Debian's faketime for the clock-moved test run"; \
		SUDO=""; [ "$$(id -u)" = 0 ] || SUDO="sudo"; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq faketime; }

# Bytecode is compiled once at install: every flow run on a worker is a new Python process, and
# without .pyc files each one compiled ~650 modules again (about 2 s of CPU per run).
$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check uv==0.13.8
	$(BIN)/uv pip sync -q --compile-bytecode --python $(BIN)/python requirements.lock
	$(BIN)/uv pip install -q --python $(BIN)/python --no-deps -e .
	@touch $(STAMP)

## lock: re-resolve requirements.lock from pyproject.toml
lock:
	$(BIN)/uv pip compile -q pyproject.toml --extra dev --python-version 3.11 -o requirements.lock

clean:
	rm -rf var bench-out .pytest_cache .mypy_cache .ruff_cache $(VENDOR) $(ASSETS)/node_modules
