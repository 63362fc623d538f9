# Everything a fresh clone needs, with only Node and npm installed.
#   make run    build what is missing, then serve on 127.0.0.1:8000 (embedded PostgreSQL unless DATABASE_URL is set)
#   make test   the whole suite: the unit tier, then the integration tier on PGlite always and on a real PostgreSQL too when one can be had
SHELL := /bin/bash
# `prisma generate` only checks that an engine file exists; it never runs it (no download here).
export PRISMA_SCHEMA_ENGINE_BINARY ?= $(CURDIR)/package.json
COVERAGE_DIR := artifacts/contract-coverage

# vitest's usual output, plus a JSON report that scripts/test-summary.ts adds up.
REPORT = --reporter=default --reporter=json --outputFile.json=artifacts/vitest-$(1).json

SOURCES := $(shell find src generated/openapi.ts -name '*.ts' 2>/dev/null)

.PHONY: up down build run test test-smoke test-unit test-pglite test-postgres test-pooler lint lint-spec lint-imports lint-style lint-deploy lint-docs api-compat format typecheck typecheck-app typecheck-bench contract-coverage generate migrate admin clean

# Two installs. `make run` installs only what the service needs to start (node_modules/.installed-run:
# npm ci --omit=dev --omit=optional, about 170 packages): no TypeScript (scripts/build.mjs builds with
# Node's own type stripping), no Prisma CLI (generated/prisma/ is committed), and none of the
# optionalDependencies: the tracing packages, installed by `make run` when OTEL_* turns tracing on,
# and Redoc, of which the docs page serves one file (scripts/redoc-bundle.mjs unpacks it alone).
# The test and lint tools (Prism, newman, Portman, Redocly, Playwright, dependency-cruiser, vitest,
# Biome…) come with the first `make test` (node_modules/.installed: npm ci, everything).
NPM_QUIET := --no-audit --no-fund --loglevel=error
# The full install covers the run's: marked with the time of the newer of package.json and
# package-lock.json, so that what was generated and built from the run's install stays up to date.
MARK_RUN_INSTALLED = touch -r "$$(ls -t package.json package-lock.json | head -1)" node_modules/.installed-run
# The full install from inside a recipe that finds it needs more than the run's install has.
INSTALL_EVERYTHING = npm ci --prefer-offline $(NPM_QUIET) && touch node_modules/.installed && $(MARK_RUN_INSTALLED)

node_modules/.installed-run: package.json package-lock.json
	@if [ node_modules/.installed -nt package-lock.json ] && [ node_modules/.installed -nt package.json ]; then \
		$(MARK_RUN_INSTALLED); \
	elif [ -e node_modules/.installed ]; then \
		echo "package.json or package-lock.json changed since the full install: installing everything again (npm ci), so that the test and lint tools stay"; \
		$(INSTALL_EVERYTHING) || exit 1; \
	else \
		echo "Installing the service's dependencies only (npm ci --omit=dev --omit=optional); the test and lint tools come with the first make test, the tracing packages when OTEL_* turns tracing on"; \
		npm ci --omit=dev --omit=optional --prefer-offline $(NPM_QUIET) || exit 1; \
		node scripts/redoc-bundle.mjs || exit 1; \
		touch $@; \
	fi

node_modules/.installed: package.json package-lock.json
	@echo "Installing every dependency, the test and lint tools included (npm ci)"
	npm ci $(NPM_QUIET)
	@touch $@
	@$(MARK_RUN_INSTALLED)

# generated/prisma/ is committed. When the schema or the install is newer (a fresh clone's file
# times say nothing), scripts/prisma-client-current.mjs compares what the client was generated from
# with prisma/schema.prisma and @prisma/client's version: the same, the file is only marked current;
# else it is regenerated, with the Prisma CLI of the full install.
generated/prisma/client.ts: prisma/schema.prisma node_modules/.installed-run
	@if node scripts/prisma-client-current.mjs; then \
		touch $@; \
	else \
		if [ ! -e node_modules/prisma/package.json ]; then \
			echo "Regenerating it needs the Prisma CLI, which comes with the full install: installing everything (npm ci)"; \
			$(INSTALL_EVERYTHING) || exit 1; \
		fi; \
		echo "Regenerating generated/prisma/ (prisma generate): commit it with the schema"; \
		npx prisma generate || exit 1; \
	fi

generate: node_modules/.installed
	npx tsx scripts/generate-types.ts
	npx prisma generate

# TypeScript to JavaScript file by file by Node itself, without type checking and without installing
# TypeScript (scripts/build.mjs: types stripped); `make typecheck`, part of `make test`, checks the types.
dist/src/server.js: node_modules/.installed-run generated/prisma/client.ts $(SOURCES) tsconfig.json tsconfig.build.json scripts/build.mjs
	@node --disable-warning=ExperimentalWarning scripts/build.mjs || { status=$$?; [ $$status -eq 3 ] || exit $$status; \
		echo "Building on this Node needs TypeScript, which comes with the full install: installing everything (npm ci)"; \
		$(INSTALL_EVERYTHING) && node scripts/build.mjs; }

migrate: node_modules/.installed generated/prisma/client.ts
	npx tsx scripts/migrate.ts

admin: node_modules/.installed generated/prisma/client.ts
	npx tsx scripts/create-admin.ts

build: dist/src/server.js migrate admin

# The server migrates its embedded database and creates the development admin itself, after
# checking its port and data directory; a DATABASE_URL is migrated by the server too (--migrate),
# once it has checked that the port is free. `exec`: the recipe's shell becomes node, so make's
# only child is the service (make forwards SIGTERM to it; SIGINT to make alone is noticed by the
# service itself, src/infra/startup/stop-signals.ts). GNU make still reports a refusal as
# "Error 1" and exits 2: it cannot pass on its recipe's exit code (see docs/guides/configuration.md).
# The command that serves; `make run SERVE_COMMAND=…` replaces it (tests run the sources, not the build).
SERVE_COMMAND := node --import ./dist/src/instrumentation.js dist/src/server.js
# The tracing packages are optionalDependencies, which the run's install leaves out: added here
# (npm install --omit=dev: what the image has) when an OTEL_* variable turns tracing on. Without
# any OTEL_* variable the line is empty and nothing runs.
TRACING_REQUESTED := node --input-type=module -e 'import { tracingRequested } from "./dist/src/platform/tracing-switch.js"; process.exit(tracingRequested(process.env) ? 0 : 1)'
# The Node running make when it is older than package.json's engines (">=22.20"), else empty. Asked
# only by the recipes that use it (a recursive variable), not at every make.
NODE_TOO_OLD = $(shell node -e 'const [major, minor] = process.versions.node.split(".").map(Number); if (major < 22 || (major === 22 && minor < 20)) process.stdout.write(process.version)')
# On an unsupported Node the service still starts (docs/guides/installing.md), but argon2's prebuilt
# binary crashes it there (a segmentation fault, no message): npm builds argon2 from source when it
# installs on such a Node, not when a newer Node installed node_modules. That is checked and mended here.
run: dist/src/server.js
	$(if $(NODE_TOO_OLD),@echo "Node $(NODE_TOO_OLD) is older than the 22.20 this service supports (Node 24 LTS recommended: docs/guides/installing.md); starting anyway"; \
		if ! { node -e 'require("argon2")'; } 2>/dev/null; then \
			echo "argon2's prebuilt binary does not load on Node $(NODE_TOO_OLD): building it from source (npm rebuild argon2: needs a C++ compiler with make and Python)"; \
			npm rebuild argon2 $(NPM_QUIET) >/dev/null && node -e 'require("argon2")' || exit 1; \
		fi)
	$(if $(filter OTEL_%,$(.VARIABLES)),@if [ ! -e node_modules/@opentelemetry/sdk-node/package.json ] && $(TRACING_REQUESTED); then \
		echo "Tracing is on (OTEL_*): installing the tracing packages the first make run left out (npm install --omit=dev --no-save)"; \
		npm install --omit=dev --no-save --prefer-offline $(NPM_QUIET) || exit 1; \
	fi)
	@exec $(SERVE_COMMAND)$(if $(DATABASE_URL), --migrate)

# The checks and the unit tier are mostly single-threaded tools, so they share the two cores (-j2);
# each one's output is printed whole when it ends. The integration halves use both cores each.
test:
	$(if $(NODE_TOO_OLD),@echo "make test needs Node 22.20 or later (24 LTS recommended) and this is $(NODE_TOO_OLD): docs/guides/installing.md says how to get it (from the npm registry too)" >&2; exit 1)
	rm -rf $(COVERAGE_DIR) artifacts/vitest-*.json
	@# Installed and generated first, alone: two installs at once would rewrite node_modules under each other.
	$(MAKE) node_modules/.installed $(DEPLOY_CHECK)/node_modules/.installed generated/prisma/client.ts
	$(MAKE) -j2 --output-sync=target lint typecheck test-unit
	$(MAKE) test-pglite test-postgres
	$(MAKE) contract-coverage
	@npx tsx scripts/test-summary.ts

# On the lowest Node package.json promises (.ci/run): the build, the unit tier, and the files that
# run the service as its own process (start-up and its failures, the embedded database, tracing,
# worker processes, many users over TCP): what differs between Node versions is the runtime the
# service uses, not what the contract tools check.
SMOKE_FILES := tests/database/startup.pglite.test.ts tests/database/embedded-database.pglite.test.ts tests/operations/tracing.test.ts tests/deployment/workers.test.ts tests/resilience/many-users.test.ts
test-smoke: dist/src/server.js test-unit
	TEST_DB=pglite npx vitest run --project integration $(SMOKE_FILES)

# The import rules of docs/reference/architecture.md (.dependency-cruiser.cjs); Biome's lint rules and format (biome.json; `make format` fixes the format).
lint: lint-spec lint-imports lint-style lint-deploy lint-docs api-compat
lint-spec: node_modules/.installed
	npx redocly lint openapi.yaml --format=stylish
lint-imports: node_modules/.installed
	npx depcruise src client bench scripts support tests --config .dependency-cruiser.cjs --output-type err
lint-style: node_modules/.installed
	npx biome ci --error-on-warnings .
# The deploy checker's tools have a lockfile of their own (scripts/deploy-check), installed here on first use.
DEPLOY_CHECK := scripts/deploy-check
$(DEPLOY_CHECK)/node_modules/.installed: $(DEPLOY_CHECK)/package.json $(DEPLOY_CHECK)/package-lock.json
	@echo "Installing the deploy checker's tools (npm ci in $(DEPLOY_CHECK): dockerfile-utils, dclint, kubernetes-models)"
	npm ci --prefix $(DEPLOY_CHECK) $(NPM_QUIET)
	@touch $@

lint-deploy: node_modules/.installed $(DEPLOY_CHECK)/node_modules/.installed
	bash scripts/validate-deploy.sh
# The relative links and #anchors of README.md, docs/ and deploy/README.md.
lint-docs: node_modules/.installed
	npx tsx scripts/check-doc-links.ts
# The breaking-change gate: openapi.yaml against openapi.released.yaml (Optic, then scripts/api-compat.ts);
# a breaking change needs info.version's major bumped and a CHANGELOG.md entry.
api-compat: node_modules/.installed
	npx tsx scripts/api-compat.ts

# Rewrites every file in Biome's style (biome.json).
format: node_modules/.installed
	npx biome format --write .

typecheck: typecheck-app typecheck-bench
typecheck-app: node_modules/.installed generated/prisma/client.ts
	npx tsc --noEmit -p tsconfig.json
typecheck-bench: node_modules/.installed generated/prisma/client.ts
	npx tsc --noEmit -p bench/tsconfig.json

# The pure modules, without a database (tests/unit/): seconds, so they run first.
test-unit: node_modules/.installed generated/prisma/client.ts
	npx vitest run --project unit $(call REPORT,unit)

test-pglite: node_modules/.installed generated/prisma/client.ts
	TEST_DB=pglite CONTRACT_COVERAGE_DIR=$(COVERAGE_DIR) npx vitest run --project integration $(call REPORT,pglite)

# Uses TEST_DATABASE_URL, or starts a throwaway cluster from the PostgreSQL binaries on this
# machine (PG_BIN_DIR, else PATH, else /usr/lib/postgresql/*/bin). Without either it says so and
# skips, unless REQUIRE_POSTGRES=1 (CI), where it fails.
HAVE_PG_BINARIES = { [ -n "$$PG_BIN_DIR" ] && [ -x "$$PG_BIN_DIR/pg_ctl" ]; } || { command -v pg_ctl && command -v initdb; } >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1
# Then a few files again through PgBouncer in transaction mode (POOLER_FILES; all of them: make
# test-pooler): placing orders, 120 orders racing for one product, the catalogue's reads and writes.
POOLER_FILES := tests/orders/orders.test.ts tests/orders/concurrency.test.ts tests/catalogue/products.test.ts
test-postgres: node_modules/.installed generated/prisma/client.ts
	@if [ -n "$$TEST_DATABASE_URL" ] || $(HAVE_PG_BINARIES); then \
		TEST_DB=postgres CONTRACT_COVERAGE_DIR=$(COVERAGE_DIR) npx vitest run --project integration $(call REPORT,postgres) && \
		TEST_DB=postgres TEST_POOLER=pgbouncer npx vitest run --project integration $(POOLER_FILES) $(call REPORT,pooler); \
	elif [ "$$REQUIRE_POSTGRES" = "1" ]; then \
		echo "PostgreSQL is required (REQUIRE_POSTGRES=1) but neither TEST_DATABASE_URL nor PostgreSQL binaries (PG_BIN_DIR, PATH, /usr/lib/postgresql) are available" >&2; exit 1; \
	else \
		echo "NOTE: no PostgreSQL here (install postgresql, or set PG_BIN_DIR or TEST_DATABASE_URL): the PostgreSQL run was skipped"; \
	fi

# The orders and catalogue suites and the many-users test again, every app reaching PostgreSQL
# through PgBouncer in transaction mode with the settings docs/guides/high-availability.md names
# (about 2 min on 2 quiet cores, so `make test` runs only POOLER_FILES). The prepared-statement
# tests are left out (vitest.config.ts): they check named statements, which this configuration turns off.
test-pooler: node_modules/.installed generated/prisma/client.ts
	TEST_DB=postgres TEST_POOLER=pgbouncer npx vitest run --project integration tests/orders tests/catalogue tests/resilience/many-users.test.ts

contract-coverage: node_modules/.installed
	CONTRACT_COVERAGE_DIR=$(COVERAGE_DIR) npx tsx scripts/contract-coverage.ts

# The compose stack: PostgreSQL, migrations, the API; add PROFILE=monitoring for Prometheus + Grafana.
up:
	docker compose $(if $(PROFILE),--profile $(PROFILE)) up -d --build

down:
	docker compose --profile monitoring down

clean:
	rm -rf .data dist coverage artifacts node_modules/.installed node_modules/.installed-run
