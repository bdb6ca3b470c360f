# `make run` serves the game; `make test` runs every test. Both set up what they need first.
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
# The Procfile's web server (uvicorn won the benchmark over daphne: docs/PERFORMANCE.md).
WEB_FLAGS := --ws websockets-sansio --ws-max-size 4096 --ws-ping-interval 10 --ws-ping-timeout 20 \
	--ws-per-message-deflate false --lifespan off --loop uvloop --http httptools --limit-concurrency 2000

.PHONY: run test lint install

$(VENV)/.installed: requirements.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

install: $(VENV)/.installed

# Embedded by default (SQLite, in-memory layer, engine in the web process). With REDIS_URL set,
# an engine process runs beside the web process and stops with it.
run: $(VENV)/.installed
	DJANGO_DEBUG=$${DJANGO_DEBUG:-1} $(PY) manage.py migrate --noinput
	@set -e; export DJANGO_DEBUG=$${DJANGO_DEBUG:-1}; \
	if [ -n "$$REDIS_URL" ]; then \
		$(PY) manage.py runengine & ENGINE=$$!; trap 'kill $$ENGINE 2>/dev/null' EXIT INT TERM; \
	fi; \
	echo "gameserver on http://127.0.0.1:$(PORT)"; \
	$(VENV)/bin/uvicorn gameserver.asgi:application --host 127.0.0.1 --port $(PORT) $(WEB_FLAGS)

# redis-server and Chromium come from Debian when missing and we are root; the tests start a
# throwaway redis-server on a free port when REDIS_URL is unset or does not answer.
test: $(VENV)/.installed
	@command -v redis-server >/dev/null || sh -c '[ "$$(id -u)" = 0 ] && apt-get update -qq && apt-get install -y -qq redis-server' || { echo "redis-server is missing: install it (apt-get install redis-server)"; exit 1; }
	@command -v chromium >/dev/null || sh -c '[ "$$(id -u)" = 0 ] && apt-get update -qq && apt-get install -y -qq chromium' || { echo "chromium is missing: install it (apt-get install chromium)"; exit 1; }
	@command -v redis-sentinel >/dev/null || sh -c '[ "$$(id -u)" = 0 ] && apt-get update -qq && apt-get install -y -qq redis-sentinel' || { echo "redis-sentinel is missing: install it (apt-get install redis-sentinel)"; exit 1; }
	@command -v nginx >/dev/null || sh -c '[ "$$(id -u)" = 0 ] && apt-get update -qq && apt-get install -y -qq nginx' || { echo "nginx is missing: install it (apt-get install nginx)"; exit 1; }
	$(PY) -m pytest

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .
