#!/usr/bin/env bash
# The release build: the Dockerfile's build stage and CI (scripts/test.sh) run this same
# script, so the image is built the way CI builds and tests it.
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo build --release --locked --bin centinela
