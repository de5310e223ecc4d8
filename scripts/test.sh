#!/usr/bin/env bash
# Installs what the tests need (Debian's packages; the PostgreSQL server builds of the
# version matrix from the npm registry, scripts/pg-builds.sh) and runs every test:
# formatting, lints, unit tests, integration tests against real PostgreSQL 14-18, Redis,
# pgBackRest, Prometheus, Alertmanager and Chromium (the pages), the fuzz targets' short
# run, the release build (the Dockerfile's build
# command), the deployment artifacts (scripts/check-deploy.sh) and a smoke run of
# scripts/demo.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/common.sh

ensure_rust
ensure_packages \
  '/usr/lib/postgresql/*/bin/initdb:postgresql' \
  psql:postgresql-client \
  promtool:prometheus \
  prometheus-alertmanager:prometheus-alertmanager \
  redis-server:redis-server \
  redis-cli:redis-tools \
  pgbackrest:pgbackrest \
  openssl:openssl \
  curl:curl \
  runuser:util-linux \
  python3:python3 \
  npm:npm \
  /usr/bin/chromium:chromium
log "PostgreSQL servers of the version matrix (scripts/pg-versions.txt)"
scripts/pg-builds.sh
log "playwright-core for the browser test (tests/browser/package-lock.json)"
(cd tests/browser && npm ci --no-audit --no-fund --silent)

log "cargo fmt --check"
cargo fmt --all -- --check
log "cargo clippy"
cargo clippy --all-targets --quiet -- -D warnings
log "cargo doc (intra-doc links)"
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --lib --quiet
log "cargo test"
cargo test --all-targets
log "release build (the Dockerfile's build stage)"
scripts/build-release.sh
scripts/check-deploy.sh
log "demo smoke run"
CENTINELA_BIN=target/release/centinela scripts/demo.sh --once
