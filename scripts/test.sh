#!/usr/bin/env bash
# Installs what the tests need (from Debian's packages) and runs every test: formatting,
# lints, unit tests, integration tests against real PostgreSQL, Redis, pgBackRest and
# promtool, and a smoke run of scripts/demo.sh.
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
  python3:python3

log "cargo fmt --check"
cargo fmt --all -- --check
log "cargo clippy"
cargo clippy --all-targets --quiet -- -D warnings
log "cargo test"
cargo test --all-targets
log "demo smoke run"
cargo build --quiet
CENTINELA_BIN=target/debug/centinela scripts/demo.sh --once
