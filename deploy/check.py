#!/usr/bin/env python3
"""Checks the Kubernetes deployment artifacts with real tools, offline.

    python3 deploy/check.py --kustomize BIN --helm BIN

* renders deploy/kubernetes with kustomize and deploy/helm/centinela with `helm template`;
* the chart's default values must render the same objects as the kustomize base;
* every object of both renders (and of the chart with its options switched) is validated
  against the Kubernetes OpenAPI schemas shipped by kubernetes-validate, strictly, for the
  oldest and newest Kubernetes versions listed below;
* references the schemas cannot see: volume mounts name a volume, ConfigMaps and Secrets
  used by the pod exist (unless optional), probes and the ServiceMonitor name real ports,
  and the sidecar keeps its hardening (non-root, read-only root, no privilege escalation,
  read-only mounts of the database's volumes, resource requests and limits).

Exits 1 with every problem found.
"""
import argparse
import base64
import pathlib
import subprocess
import sys

import kubernetes_validate
import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
KUBERNETES_VERSIONS = ["1.28.0", "1.37.0"]
# Kinds of the Prometheus Operator: no schema in kubernetes-validate; checked by hand below.
CRD_KINDS = {"ServiceMonitor", "PodMonitor", "PrometheusRule"}

problems = []


def problem(where, text):
    problems.append(f"{where}: {text}")


def render(cmd):
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{out.stderr}")
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def key(obj):
    return (obj["kind"], obj["metadata"]["name"])


def normalise(value):
    """Order-free lists of named items; Secret data decoded (kustomize wraps base64)."""
    if isinstance(value, dict):
        out = {k: normalise(v) for k, v in value.items()}
        if out.get("kind") == "Secret" and isinstance(out.get("data"), dict):
            out["data"] = {k: base64.b64decode("".join(v.split())).decode() for k, v in out["data"].items()}
        return out
    if isinstance(value, list):
        items = [normalise(v) for v in value]
        if items and all(isinstance(i, dict) and "name" in i for i in items):
            items.sort(key=lambda i: str(i["name"]))
        return items
    return value


def differences(a, b, path=""):
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b), key=str):
            if k not in a:
                yield f"{path}.{k}: only in the Helm chart"
            elif k not in b:
                yield f"{path}.{k}: only in the kustomize base"
            else:
                yield from differences(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            yield from differences(x, y, f"{path}[{i}]")
    elif a != b:
        yield f"{path}: kustomize {a!r} != helm {b!r}"


def validate(name, objects):
    for obj in objects:
        where = f"{name} {obj['kind']}/{obj['metadata']['name']}"
        if obj["kind"] in CRD_KINDS:
            continue
        for version in KUBERNETES_VERSIONS:
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.ValidationError as e:
                problem(where, f"Kubernetes {version}: {e.message} at {'.'.join(map(str, e.path))}")
            except kubernetes_validate.SchemaNotFoundError as e:
                problem(where, f"no schema: {e}")


def check_references(name, objects):
    by_kind = {}
    for obj in objects:
        by_kind.setdefault(obj["kind"], {})[obj["metadata"]["name"]] = obj
    sets = list(by_kind.get("StatefulSet", {}).values())
    if not sets:
        problem(name, "no StatefulSet")
    services = by_kind.get("Service", {}).values()
    for sts in sets:
        where = f"{name} StatefulSet/{sts['metadata']['name']}"
        pod = sts["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        claims = {c["metadata"]["name"] for c in sts["spec"].get("volumeClaimTemplates", [])}
        for v in volumes.values():
            if "configMap" in v and v["configMap"]["name"] not in by_kind.get("ConfigMap", {}):
                problem(where, f"volume {v['name']}: no ConfigMap {v['configMap']['name']}")
            if "secret" in v and not v["secret"].get("optional") and v["secret"]["secretName"] not in by_kind.get("Secret", {}):
                problem(where, f"volume {v['name']}: no Secret {v['secret']['secretName']}")
        containers = {c["name"]: c for c in pod["containers"]}
        for c in containers.values():
            for m in c.get("volumeMounts", []):
                if m["name"] not in volumes and m["name"] not in claims:
                    problem(where, f"container {c['name']} mounts unknown volume {m['name']}")
        c = containers.get("centinela")
        if c is None:
            problem(where, "no centinela container")
            continue
        ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
        if ports.get("metrics") != 9432:
            problem(where, f"centinela's port `metrics` is not 9432: {ports}")
        for probe, path in (("livenessProbe", "/health"), ("readinessProbe", "/ready")):
            get = c.get(probe, {}).get("httpGet", {})
            if get.get("path") != path or get.get("port") not in ("metrics", 9432):
                problem(where, f"centinela {probe} is not GET {path} on metrics: {get}")
        sc = c.get("securityContext", {})
        for field, want in (("runAsNonRoot", True), ("readOnlyRootFilesystem", True), ("allowPrivilegeEscalation", False)):
            if sc.get(field) is not want:
                problem(where, f"centinela securityContext.{field} is not {want}")
        if "ALL" not in sc.get("capabilities", {}).get("drop", []):
            problem(where, "centinela does not drop all capabilities")
        res = c.get("resources", {})
        if not res.get("requests", {}).get("memory") or not res.get("limits", {}).get("memory"):
            problem(where, "centinela has no memory request and limit")
        for m in c.get("volumeMounts", []):
            if m["name"] != "centinela-state" and not m.get("readOnly"):
                problem(where, f"centinela mounts {m['name']} writable")
        if not any(m["mountPath"] == "/var/lib/centinela" for m in c.get("volumeMounts", [])):
            problem(where, "no writable volume at /var/lib/centinela (alerting.state_dir)")
        labels = sts["spec"]["template"]["metadata"]["labels"]
        exposing = [s for s in services
                    if all(labels.get(k) == v for k, v in s["spec"].get("selector", {}).items())
                    and any(p.get("name") == "metrics" and p.get("targetPort") in ("metrics", 9432) for p in s["spec"]["ports"])]
        if not exposing:
            problem(where, "no Service selects the pod with a port named metrics")
    for sm in by_kind.get("ServiceMonitor", {}).values():
        where = f"{name} ServiceMonitor/{sm['metadata']['name']}"
        if sm.get("apiVersion") != "monitoring.coreos.com/v1":
            problem(where, f"apiVersion {sm.get('apiVersion')}")
        selector = sm["spec"]["selector"]["matchLabels"]
        matched = [s for s in services if all(s["metadata"].get("labels", {}).get(k) == v for k, v in selector.items())]
        if not matched:
            problem(where, f"selects no Service: {selector}")
        for ep in sm["spec"]["endpoints"]:
            for s in matched:
                if ep["port"] not in {p.get("name") for p in s["spec"]["ports"]}:
                    problem(where, f"Service {s['metadata']['name']} has no port {ep['port']}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kustomize", required=True)
    ap.add_argument("--helm", required=True)
    args = ap.parse_args()

    kustomized = render([args.kustomize, "build", "deploy/kubernetes"])
    chart = "deploy/helm/centinela"
    helmed = render([args.helm, "template", "centinela", chart])
    variants = {
        "helm (serviceMonitor off, own Secret)": render(
            [args.helm, "template", "centinela", chart, "--set", "serviceMonitor.enabled=false",
             "--set", "secrets.create=false", "--set", "image.pullPolicy=Always"]),
    }

    k = {key(o): normalise(o) for o in kustomized}
    h = {key(o): normalise(o) for o in helmed}
    for missing in sorted(set(k) - set(h)):
        problem("helm defaults", f"{missing[0]}/{missing[1]} rendered by kustomize only")
    for missing in sorted(set(h) - set(k)):
        problem("helm defaults", f"{missing[0]}/{missing[1]} rendered by helm only")
    for name in sorted(set(k) & set(h)):
        for d in differences(k[name], h[name]):
            problem(f"{name[0]}/{name[1]}", d)

    for name, objects in [("kustomize", kustomized), ("helm", helmed), *variants.items()]:
        validate(name, objects)
    check_references("kustomize", kustomized)
    check_references("helm", helmed)
    own_secret = variants["helm (serviceMonitor off, own Secret)"]
    kinds = [key(o) for o in own_secret]
    if ("ServiceMonitor", "centinela") in kinds or ("Secret", "centinela-secrets") in kinds:
        problem("helm variant", f"switched-off objects still rendered: {kinds}")

    total = len(kustomized) + len(helmed) + sum(len(v) for v in variants.values())
    if problems:
        print("\n".join(problems), file=sys.stderr)
        sys.exit(f"deploy check: {len(problems)} problem(s)")
    print(f"deploy check: {len(kustomized)} kustomize objects equal the Helm chart's defaults; "
          f"{total} objects valid for Kubernetes {', '.join(KUBERNETES_VERSIONS)}")


if __name__ == "__main__":
    main()
