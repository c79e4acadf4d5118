# Tracker: `make run` serves the app with a demo login; `make test` runs the whole suite. Both set up
# everything first (deploy/provision.sh), idempotently.
HOST ?= 127.0.0.1
PORT ?= 8000
# ASGI server: uvicorn or daphne (see README, "Choices"); uvicorn fanned out fastest in `make bench`.
SERVER ?= uvicorn
PY := .venv/bin/python
# provision.sh may put a Node.js into .venv/bin (when the machine's is too old); it must win there too.
export PATH := $(CURDIR)/.venv/bin:$(PATH)

.PHONY: setup run test test-python test-frontend bench clean

setup:
	bash deploy/provision.sh --no-demo

run:
	bash deploy/provision.sh
	bash deploy/serve.sh $(SERVER) $(HOST) $(PORT)

test: setup test-python test-frontend

test-python:
	$(PY) -m pytest

test-frontend:
	cd frontend && npm test --silent

bench: setup
	$(PY) -m bench.run_all

clean:
	rm -rf .venv staticfiles frontend/node_modules frontend/dist
