"""Copy the real-chart corpus (tests/fixtures/charts-corpus/) out of local git mirrors.

Each entry names a repository, the chart's folder in it and whether its workload templates are
copied too (values.yaml and Chart.yaml always are, byte for byte). Templates copied are the
files that define containers plus every ``_*.tpl`` helper; nothing else. The commit of every
repository is written into the corpus README, so a file can always be traced to its source.

Usage:
    python scripts/copy_charts_corpus.py MIRRORS_DIR

``MIRRORS_DIR`` holds one bare-ish git directory per repository, named ``owner+name/repo``.
The ``helm create`` starter is extracted from the Go string constants of helm's create.go.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "fixtures" / "charts-corpus"

# (corpus folder, repository, chart folder in the repository, copy templates?)
CHARTS: tuple[tuple[str, str, str, bool], ...] = (
    ("bitnami-nginx", "bitnami/charts", "bitnami/nginx", True),
    ("bitnami-redis", "bitnami/charts", "bitnami/redis", True),
    ("bitnami-postgresql", "bitnami/charts", "bitnami/postgresql", True),
    ("bitnami-common", "bitnami/charts", "bitnami/common", True),
    ("bitnami-kafka", "bitnami/charts", "bitnami/kafka", True),
    ("bitnami-rabbitmq", "bitnami/charts", "bitnami/rabbitmq", True),
    ("bitnami-mongodb", "bitnami/charts", "bitnami/mongodb", True),
    ("bitnami-wordpress", "bitnami/charts", "bitnami/wordpress", True),
    ("bitnami-keycloak", "bitnami/charts", "bitnami/keycloak", True),
    ("bitnami-mariadb", "bitnami/charts", "bitnami/mariadb", True),
    ("bitnami-metrics-server", "bitnami/charts", "bitnami/metrics-server", True),
    (
        "kube-prometheus-stack",
        "prometheus-community/helm-charts",
        "charts/kube-prometheus-stack",
        True,
    ),
    ("prometheus", "prometheus-community/helm-charts", "charts/prometheus", True),
    ("kube-state-metrics", "prometheus-community/helm-charts", "charts/kube-state-metrics", True),
    (
        "prometheus-node-exporter",
        "prometheus-community/helm-charts",
        "charts/prometheus-node-exporter",
        True,
    ),
    ("alertmanager", "prometheus-community/helm-charts", "charts/alertmanager", True),
    (
        "prometheus-pushgateway",
        "prometheus-community/helm-charts",
        "charts/prometheus-pushgateway",
        True,
    ),
    ("argo-cd", "argoproj/argo-helm", "charts/argo-cd", True),
    ("argo-workflows", "argoproj/argo-helm", "charts/argo-workflows", True),
    ("argo-rollouts", "argoproj/argo-helm", "charts/argo-rollouts", True),
    ("argo-events", "argoproj/argo-helm", "charts/argo-events", True),
    ("cert-manager", "cert-manager/cert-manager", "deploy/charts/cert-manager", True),
    ("ingress-nginx", "kubernetes/ingress-nginx", "charts/ingress-nginx", True),
    ("keda", "kedacore/charts", "keda", True),
    (
        "external-secrets",
        "external-secrets/external-secrets",
        "deploy/charts/external-secrets",
        True,
    ),
    ("vault", "hashicorp/vault-helm", ".", True),
    ("fluent-bit", "grafana/helm-charts", "charts/fluent-bit", True),
    ("loki-distributed", "grafana/helm-charts", "charts/loki-distributed", True),
    ("promtail", "grafana/helm-charts", "charts/promtail", True),
    ("jenkins", "jenkinsci/helm-charts", "charts/jenkins", True),
    ("velero", "vmware-tanzu/helm-charts", "charts/velero", True),
    ("karpenter", "aws/karpenter-provider-aws", "charts/karpenter", True),
)
REFS = {"vmware-tanzu/helm-charts": "refs/heads/main"}


def _git(mirror: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(mirror), *args], check=True, capture_output=True, text=True
    ).stdout


def _blob(mirror: Path, ref: str, path: str) -> bytes:
    return subprocess.run(
        ["git", "-C", str(mirror), "show", f"{ref}:{path}"], check=True, capture_output=True
    ).stdout


def _copy_chart(mirrors: Path, folder: str, repo: str, chart: str, templates: bool) -> str:
    mirror = mirrors / repo.replace("/", "+") / "repo"
    ref = REFS.get(repo, "HEAD")
    commit = _git(mirror, "rev-parse", ref).strip()
    target = CORPUS / folder
    prefix = "" if chart == "." else chart + "/"
    files = ["values.yaml", "Chart.yaml"]
    if templates:
        listed = _git(mirror, "ls-tree", "-r", "--name-only", ref, f"{prefix}templates")
        for name in listed.splitlines():
            relative = name[len(prefix) :]
            base = relative.rsplit("/", 1)[-1]
            if not base.endswith((".yaml", ".tpl")):
                continue
            body = _blob(mirror, ref, name)
            if b"CustomResourceDefinition" in body or "/crds/" in relative:
                continue  # schemas mention containers: but define none
            if folder == "bitnami-common" and base != "_resources.tpl":
                continue  # only the preset table is read from the common chart
            workload = re.search(
                rb"^kind:\s*(Deployment|StatefulSet|DaemonSet|Job|CronJob|Prometheus|Alertmanager)\s*$",
                body,
                re.M,
            )
            if base.startswith("_") or b"containers:" in body or workload:
                files.append(relative)
    for relative in files:
        out = target / relative
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(_blob(mirror, ref, prefix + relative))
    return commit


def _helm_create(mirrors: Path) -> str:
    """The `helm create` starter: the Go string constants of pkg/chart/v2/util/create.go."""
    mirror = mirrors / "helm+helm" / "repo"
    commit = _git(mirror, "rev-parse", "HEAD").strip()
    source = _blob(mirror, "HEAD", "pkg/chart/v2/util/create.go").decode()
    constants = dict(re.findall(r"const (\w+) = `(.*?)`", source, flags=re.S))
    target = CORPUS / "helm-create"
    wanted = {
        "values.yaml": "defaultValues",
        "Chart.yaml": "defaultChartfile",
        "templates/deployment.yaml": "defaultDeployment",
        "templates/hpa.yaml": "defaultHorizontalPodAutoscaler",
        "templates/_helpers.tpl": "defaultHelpers",
    }
    for relative, name in wanted.items():
        out = target / relative
        out.parent.mkdir(parents=True, exist_ok=True)
        # `helm create mychart` writes the chart name where the starter says <CHARTNAME>
        # (templates) or %s (the Go format strings of values.yaml and Chart.yaml).
        out.write_text(constants[name].replace("<CHARTNAME>", "mychart").replace("%s", "mychart"))
    return commit


def main(argv: list[str]) -> int:
    mirrors = Path(argv[1])
    rows = []
    for folder, repo, chart, templates in CHARTS:
        commit = _copy_chart(mirrors, folder, repo, chart, templates)
        rows.append((folder, repo, chart, commit, templates))
    rows.append(
        ("helm-create", "helm/helm", "pkg/chart/v2/util/create.go", _helm_create(mirrors), True)
    )
    lines = [
        "# Real-chart corpus for `apply`",
        "",
        "Test data copied byte for byte from public Helm charts (Apache-2.0 / MPL-2.0 licensed",
        "upstream; see each repository) by `python scripts/copy_charts_corpus.py MIRRORS_DIR`.",
        "`values.yaml` and `Chart.yaml` always; where the last column says so, also every",
        "template that defines containers and every `_*.tpl` helper (bitnami-common: only",
        "`_resources.tpl`, the preset table). `helm-create` is the `helm create mychart` starter,",
        "taken from the Go string constants of helm's create.go (`<CHARTNAME>`, `%s` -> `mychart`).",
        "Do not edit these files: tests compare against upstream bytes.",
        "",
        "| corpus folder | repository | path | commit | templates |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {f} | {r} | {c} | {sha} | {'workload templates + helpers' if t else 'values only'} |"
        for f, r, c, sha, t in rows
    ]
    (CORPUS / "README.md").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
