# agent-gateway: two commands.
#   make run   create .venv, install, serve .mcp.json.example over HTTP on 127.0.0.1:8765
#   make test  create .venv, install the test extra and the npm test server, run ruff, import-linter, mypy, pytest

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8765
# Test processes: most tests wait on real server subprocesses, so three share two cores well.
PYTEST_WORKERS ?= 3

.PHONY: run test install install-test haproxy lint typecheck pytest bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# Installs are stamped: they run again only when what they install from changed
# (PYTHONWARNINGS=ignore: no setuptools banners about editable installs).
# Both take the semantic extra (the embedding ranker), so both rankers run in CI.
RUN_STAMP := $(VENV)/.installed-run
TEST_STAMP := $(VENV)/.installed-test

install: $(RUN_STAMP)

$(RUN_STAMP): pyproject.toml | $(BIN)/python
	PYTHONWARNINGS=ignore $(BIN)/python -m pip install -q -e '.[semantic]' mcp-server-time
	@touch $@

install-test: $(TEST_STAMP) haproxy

# The two-replica test (tests/test_replicas_e2e.py) puts HAProxy from Debian's packages in
# front of two gateways. Installed when missing and we are root with apt-get; otherwise
# that test skips, saying why.
haproxy:
	@command -v haproxy >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy >/dev/null 2>&1 || { \
				apt-get update -qq >/dev/null && \
				DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy >/dev/null; } \
			|| echo "note: could not install haproxy: the two-replica test will skip"; \
		else echo "note: haproxy is missing (needs root and apt-get): the two-replica test will skip"; fi; }

$(TEST_STAMP): pyproject.toml tests/npm/package.json $(wildcard tests/npm/package-lock.json) | $(BIN)/python
	PYTHONWARNINGS=ignore $(BIN)/python -m pip install -q -e '.[test,semantic]'
	cd tests/npm && npm install --no-audit --no-fund --loglevel=error
	@touch $@

run: install
	@echo ""
	@echo "agent-gateway is serving .mcp.json.example at http://$(HOST):$(PORT)/mcp"
	@echo "Connect an MCP client there, e.g. in Claude Code:"
	@echo "  claude mcp add --transport http gateway http://$(HOST):$(PORT)/mcp"
	@echo "Or try it: $(BIN)/agent-gateway tools --config .mcp.json.example"
	@echo "Stop with Ctrl-C."
	@echo ""
	$(BIN)/agent-gateway serve --config .mcp.json.example --policies policies \
		--transport http --host $(HOST) --port $(PORT)

lint:
	$(BIN)/ruff check agent_gateway tests bench examples
	$(BIN)/ruff format --check agent_gateway tests bench examples
	$(BIN)/lint-imports

typecheck:
	$(BIN)/mypy

# The end-to-end tests that go through call_tool (results of every kind, progress and
# logs, policies, identities, both eras, HTTP), once more with the fast route off
# (fastmcp's own tools/call route): both routes must keep the same contract.
SLOW_ROUTE_TESTS := tests/test_gateway.py tests/test_access_e2e.py tests/test_http_e2e.py
SLOW_ROUTE_ONLY := meta_tools_end_to_end or everything_server or alice or declared_unknown \
	or both_eras_list_and_call or bearer_token_binds

pytest:
	$(BIN)/pytest -q -n $(PYTEST_WORKERS) --durations=15
	AGENT_GATEWAY_FAST_ROUTE=0 $(BIN)/pytest -q -n $(PYTEST_WORKERS) $(SLOW_ROUTE_TESTS) -k "$(SLOW_ROUTE_ONLY)"

test: install-test lint typecheck pytest

bench: install-test
	$(BIN)/python bench/run_all.py
	$(BIN)/python bench/search_eval.py
	$(BIN)/python bench/tokens.py

clean:
	rm -rf $(VENV) tests/npm/node_modules .mypy_cache .ruff_cache .pytest_cache
