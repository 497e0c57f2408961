# Tessera build. Every target installs what it needs (Bun comes from npm when missing).
SHELL := /bin/bash
.DEFAULT_GOAL := build

NODE_BIN := $(CURDIR)/node_modules/.bin
# Use a Bun on PATH if there is one, else the one npm installs.
BUN := $(or $(shell command -v bun 2>/dev/null),$(NODE_BIN)/bun)
BUF := $(NODE_BIN)/buf
PROTO := $(wildcard proto/tessera/v1/*.proto proto/google/api/*.proto)
GEN_STAMP := src/gen/.stamp
# The web page's HTML and CSS are bundled into the binary too.
SOURCES := $(shell find src cli \( -name '*.ts' -o -name '*.html' -o -name '*.css' \) -not -path 'src/gen/*' 2>/dev/null) package.json
MIGRATIONS := $(wildcard src/control/store/sqlite/migrations/*.sql src/control/store/sqlite/migrations/meta/*.json src/control/store/postgres/migrations/*.sql src/control/store/postgres/migrations/meta/*.json)

.PHONY: build deps proto dev test system-packages typecheck migrations fixtures bench clean

# npm install (not ci: npm drops optional platform packages of buf from the lock, and ci then
# refuses it). Versions are pinned exactly in package.json; the stamp runs it once per change.
node_modules/.stamp: package.json package-lock.json
	npm install --no-audit --no-fund
	@touch $@

deps: node_modules/.stamp

# src/gen is generated, never committed: TypeScript (ts-proto) plus the descriptor set the
# binary embeds for strict proto3 JSON parsing and the HTTP API's routes, and the OpenAPI
# document of that API (cli/gen-openapi.ts). cli/gen-own-keys.ts keeps map keys such as
# `__proto__` that ts-proto's decoder would drop.
$(GEN_STAMP): $(PROTO) proto/buf.yaml proto/buf.gen.yaml cli/gen-own-keys.ts cli/gen-openapi.ts src/control/http/http-routes.ts src/core/events/event-stream.ts node_modules/.stamp
	cd proto && $(BUF) lint && rm -rf ../src/gen && $(BUF) generate
	$(BUN) cli/gen-own-keys.ts src/gen
	$(BUF) build proto -o src/gen/tessera.binpb
	$(BUN) cli/gen-openapi.ts src/gen/openapi.json
	@touch $@

proto: $(GEN_STAMP)

# cli/build.ts: bun build --compile --minify --bytecode --splitting, plus inlining the .proto
# files that grpc-health-check and @grpc/reflection would otherwise read from node_modules at
# run time.
dist/tessera: $(GEN_STAMP) $(SOURCES) $(MIGRATIONS)
	@mkdir -p dist
	$(BUN) cli/build.ts dist/tessera

build: dist/tessera

typecheck: $(GEN_STAMP)
	$(NODE_BIN)/tsc --noEmit -p .

# Runs the main job: a control plane and a local agent, zero config.
dev: build
	./dist/tessera dev

# The Debian packages the tests need (test/system-packages/packages.ts): as root with apt-get,
# the missing ones are installed and a Docker engine started; elsewhere their tests skip, each
# saying which package brings what it lacks (under TESSERA_CI=1 they fail instead).
system-packages: deps
	$(BUN) test/system-packages/install.ts

# Every test, including end-to-end tests through dist/tessera. JUNIT=path also writes a JUnit report.
test: system-packages build typecheck
	$(BUN) test --timeout 60000 $(if $(JUNIT),--reporter=junit --reporter-outfile=$(JUNIT))

# Benchmarks: writes BENCHMARKS.md and bench-results/*.json (medians, min, max, ratios).
bench: build
	$(BUN) test/bench/run.ts

# Re-records the golden event logs in test/fixtures; only when a change of decisions is intended.
fixtures: $(GEN_STAMP)
	$(BUN) test/fixtures/record.ts

# Regenerates SQL migrations after a change to src/control/store/sqlite/schema.ts and its mirror,
# src/control/store/postgres/schema.ts: one folder of migrations per dialect.
migrations: node_modules/.stamp
	$(NODE_BIN)/drizzle-kit generate --config src/control/store/sqlite/drizzle.config.ts
	$(NODE_BIN)/drizzle-kit generate --config src/control/store/postgres/drizzle.config.ts

clean:
	rm -rf dist src/gen
