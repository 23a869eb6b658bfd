# rtsite: `make run` starts the site, `make test` runs the whole suite.
# Needs only Python 3.11; everything else is installed into .venv/.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# Frames over this are closed by daphne with 1009 before the site reads them (the same
# limit as the site's own RT_MAX_FRAME_BYTES check).
MAX_FRAME ?= $(or $(RT_MAX_FRAME_BYTES),32768)
# Tests run with DEBUG off (as in production), a throwaway key, and (unless REDIS_URL
# names a server) an embedded Redis of their own, which the suite stops at its end.
TEST_ENV := SECRET_KEY=test-only-secret-key DEBUG=false RTSITE_REDIS_DIR=$(CURDIR)/var/test-redis

.PHONY: install run serve restart deploy-check capacity hops memory migrate demo test test-suite lint format clean stop-redis bench bench-targets bench-frames protocol chaos

$(BIN)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

install: $(BIN)/.installed

migrate: install
	DEBUG=$${DEBUG:-true} $(BIN)/python manage.py migrate --no-input

demo: migrate
	DEBUG=$${DEBUG:-true} $(BIN)/python manage.py seed_demo

# Emails (digests of what people missed) go to files in var/mail/ (one file per sending
# pass), written by `send_digests --loop` running beside daphne; EMAIL_BACKEND and the
# other EMAIL_* settings send them to a real server instead.
MAIL_DIR := $(or $(RTSITE_VAR_DIR),$(CURDIR)/var)/mail
RUN_ENV = DEBUG=$${DEBUG:-true} SITE_URL=$${SITE_URL:-http://$(HOST):$(PORT)} \
	EMAIL_BACKEND=$${EMAIL_BACKEND:-django.core.mail.backends.filebased.EmailBackend} \
	EMAIL_FILE_PATH=$${EMAIL_FILE_PATH:-$(MAIL_DIR)}

run: demo
	@echo
	@echo "  rtsite is running at http://$(HOST):$(PORT)/   (Ctrl+C stops it)"
	@echo "  Emails it sends are written to files in $(MAIL_DIR)/"
	@echo
	@$(RUN_ENV) $(BIN)/python manage.py send_digests --loop & digests=$$!; \
	trap 'kill $$digests 2>/dev/null' EXIT INT TERM; \
	$(RUN_ENV) $(BIN)/python -m realtime.server.rundaphne -v 0 \
		-e tcp:port=$(PORT):interface=$(HOST):backlog=2048 --max-frame $(MAX_FRAME) \
		rtsite.asgi:application

# Production-like on this host: WORKERS daphne processes (default: one per core) on one
# listening socket under supervisor, DEBUG off, static files collected, the embedded
# defaults unless DATABASE_URL / REDIS_URL (or REDIS_SENTINELS) say otherwise. A
# SECRET_KEY is made once in var/ unless one is given. SIGTERM or Ctrl+C drains and
# stops; `make restart` restarts the workers one at a time. Behind a proxy, set
# RT_TRUSTED_PROXY_COUNT (the client's address; 0, the default, ignores X-Forwarded-For).
# See docs/deploy.md.
WORKERS ?= $(shell nproc 2>/dev/null || echo 2)
VAR := $(or $(RTSITE_VAR_DIR),$(CURDIR)/var)
SERVE_ENV = DEBUG=false SECRET_KEY="$${SECRET_KEY:-$$(cat $(VAR)/secret-key)}"

$(VAR)/secret-key:
	@mkdir -p $(VAR)
	@umask 077 && $(PYTHON) -c "import secrets; print(secrets.token_urlsafe(50))" > $@

serve: install $(VAR)/secret-key
	$(SERVE_ENV) $(BIN)/python manage.py migrate --no-input
	$(SERVE_ENV) $(BIN)/python manage.py collectstatic --no-input --verbosity 0
	$(SERVE_ENV) exec $(BIN)/python manage.py serve --workers $(WORKERS) --host $(HOST) \
		--port $(PORT) --max-frame $(MAX_FRAME)

# The running serve's workers, one at a time. On a host set up by docs/deploy.md it reads
# the service's environment file (ENV_FILE) through bin/manage, as the service's user
# (sudo -u rtsite make restart); elsewhere make serve's settings. It installs nothing:
# the running site's .venv is the one to restart.
ENV_FILE ?= /etc/rtsite/env

restart:
	@if [ -e "$(ENV_FILE)" ]; then \
		echo 'RTSITE_ENV_FILE=$(ENV_FILE) bin/manage serve --restart'; \
		RTSITE_ENV_FILE="$(ENV_FILE)" bin/manage serve --restart; \
	else \
		echo '$(BIN)/python manage.py serve --restart'; \
		$(SERVE_ENV) $(BIN)/python manage.py serve --restart; \
	fi

test: install
	$(MAKE) test-suite

# The suite alone, for an installed .venv (.ci/run calls it again with DATABASE_URL/REDIS_URL),
# then the browser modules' unit tests (tests/js, node's own runner: no npm packages).
# Without node they are skipped, except under CI, where they must run.
JS_TESTS = $(shell find tests/js -name '*.test.js' | sort)

test-suite:
	$(TEST_ENV) $(BIN)/python -m pytest --durations=30 $(PYTEST_ARGS)
	@if command -v node >/dev/null 2>&1; then \
		echo "node --test tests/js/"; node --test $(JS_TESTS); \
	else case "$${CI:-}" in \
		""|false|0) echo "tests/js skipped: node not installed (apt-get install nodejs)";; \
		*) echo "tests/js cannot run: node not installed, and CI must run them" >&2; exit 1;; \
	esac; fi

# docs/deploy.md followed as written, as root on a fresh Debian 12 (debootstrap's, kept in
# /var/cache/rtsite-deploy-check) from a clone of HEAD: apt, pip, systemd's units, nginx,
# 2 workers, this machine's PostgreSQL and Redis (a few minutes; needs root).
deploy-check: install
	$(TEST_ENV) $(BIN)/python -m pytest -p no:cacheprovider -m deploy tests/deploy $(PYTEST_ARGS)

# ESLint and its rules, as package-lock.json pins them (needs node and npm).
node_modules/.installed: package.json package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "npm not found: apt-get install nodejs npm" >&2; exit 1; }
	npm ci --no-audit --no-fund
	touch $@

# mypy reads the settings (django-stubs): they need a key with DEBUG off, and a Redis URL
# (nothing connects to it) so that setting Django up starts no embedded Redis server.
# ESLint checks the browser modules and their tests (eslint.config.js).
lint: install node_modules/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	SECRET_KEY=mypy-only-key DEBUG=false REDIS_URL=redis://127.0.0.1:6379/15 $(BIN)/mypy
	$(BIN)/lint-imports --no-cache
	npx --no-install eslint static tests/js

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Every scenario against ours and both peers (several minutes); BENCH_ARGS narrows it,
# e.g. BENCH_ARGS="--scenario fanout --stacks ours,tornado".
bench: install
	$(BIN)/python -m bench.run $(BENCH_ARGS)
	$(MAKE) bench-frames

# Only the rows of docs/performance.md's table, ours beside Tornado (a few minutes).
bench-targets: install
	$(BIN)/python -m bench.run --targets --stacks ours,tornado $(BENCH_ARGS)

# What is generated from the frame declarations (realtime/protocol_docs.py):
# static/realtime/protocol.js and docs/protocol.md's frame tables. A Redis URL nothing
# connects to: setting Django up starts no embedded Redis.
protocol: install
	DEBUG=false SECRET_KEY=protocol-only-key REDIS_URL=redis://127.0.0.1:6379/15 \
		$(BIN)/python manage.py protocol

# What a frame costs to encode and to decode and validate, json + the old rules vs msgspec.
# A Redis URL nothing connects to: setting Django up starts no embedded Redis.
bench-frames: install
	DEBUG=false SECRET_KEY=bench-only-key REDIS_URL=redis://127.0.0.1:6379/15 \
		$(BIN)/python -m bench.frames

# Where a chat message's time goes in a normal room, hop by hop (bench/hops.py), and what
# an idle socket holds, by owner (bench/memory.py, tracemalloc).
hops: install
	$(BIN)/python -m bench.hops $(HOPS_ARGS)

memory: install
	$(BIN)/python -m bench.memory $(MEMORY_ARGS)

# What one process holds on this machine (idle sockets, a reconnect storm after a process
# is killed), for the capacity model in docs/deploy.md; CAPACITY_ARGS narrows it.
capacity: install
	$(BIN)/python -m bench.capacity $(CAPACITY_ARGS)

# The reliability suite at full size (about 20 minutes): Redis killed and paused under
# 200 clients at 100 messages/s, a daphne process killed, 10,000 bad frames per socket
# type, 1,000 game sequences, a ten-minute soak, abuse and XSS. `make test` (and CI) runs
# the same tests at smaller sizes. Each prints what it measured; the summary is at the end.
chaos: install
	RT_CHAOS=1 RT_FUZZ_FRAMES=10000 RT_GAME_SEQUENCES=1000 $(TEST_ENV) $(BIN)/python -m pytest \
		-p no:cacheprovider -q tests/reliability tests/e2e/test_xss.py \
		tests/rtsite/test_settings.py tests/chat/test_live_server.py $(PYTEST_ARGS)

stop-redis: install
	DEBUG=true $(BIN)/python manage.py embedded_redis stop

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache node_modules
