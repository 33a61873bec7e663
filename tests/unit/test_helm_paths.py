"""The static reader of chart templates: scopes, helpers, candidates, and what it refuses."""

from __future__ import annotations

from pathlib import Path

from kianax_capacity.outputs.helm_paths import read_chart, read_templates, resources_shaped

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "charts-corpus"


def _sites(chart: str) -> dict[tuple[str, str], str]:
    paths = read_chart(CORPUS / chart)
    return {(s.template, s.name_pattern.replace("\\", "")): s.resources for s in paths.containers}


def test_with_scope_and_chart_name_resolve_cert_managers_three_workloads() -> None:
    sites = _sites("cert-manager")
    assert sites[("templates/deployment.yaml", "cert-manager-controller")] == "resources"
    assert sites[("templates/webhook-deployment.yaml", "cert-manager-webhook")] == (
        "webhook.resources"
    )
    assert sites[("templates/cainjector-deployment.yaml", "cert-manager-cainjector")] == (
        "cainjector.resources"
    )


def test_if_else_candidates_are_narrowed_to_the_resources_shaped_default() -> None:
    # keda: `if .Values.resources.operator` ... `else` toYaml .Values.resources (a map of
    # components, not a resources block): only resources.operator can be the answer.
    sites = _sites("keda")
    assert sites[("templates/manager/deployment.yaml", "keda-operator")] == "resources.operator"


def test_bitnami_preset_key_and_its_default_are_read() -> None:
    paths = read_chart(CORPUS / "bitnami-redis")
    master = next(
        s
        for s in paths.containers
        if s.template.endswith("master/application.yaml") and s.matches("redis")
    )
    assert (master.resources, master.preset, master.preset_default) == (
        "master.resources",
        "master.resourcesPreset",
        "nano",
    )
    assert master.kind == ""  # `kind: {{ .Values.master.kind }}`: any workload kind


def test_containers_inside_an_included_pod_template_are_found() -> None:
    # promtail's DaemonSet includes "promtail.podTemplate" (templates/_pod.tpl) with nindent.
    sites = _sites("promtail")
    assert sites[("templates/daemonset.yaml", "promtail")] == "resources"


def test_prometheus_operator_resources_are_the_custom_resources_spec() -> None:
    sites = _sites("kube-prometheus-stack")
    assert sites[("templates/prometheus/prometheus.yaml", "prometheus")] == (
        "prometheus.prometheusSpec.resources"
    )


def test_unfollowable_resources_are_left_empty_with_the_reason() -> None:
    template = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: x
spec:
  template:
    spec:
      containers:
      - name: app
        resources: {{ include "x.computed" (dict "size" .Values.size) }}
"""
    ((site,), hpas) = read_templates("x", {"templates/d.yaml": template}, {})
    assert site.resources == "" and "no .Values path" in site.why and not hpas


def test_indentless_container_list_with_name_after_other_keys() -> None:
    template = """kind: StatefulSet
metadata:
  name: {{ .Release.Name }}-db
spec:
  template:
    spec:
      containers:
      - image: db
        name: db
        env:
        - name: NOT_A_CONTAINER
        resources:
          {{- toYaml .Values.db.resources | nindent 10 }}
"""
    ((site,), _) = read_templates("x", {"templates/s.yaml": template}, {})
    assert (site.name_pattern, site.resources, site.workload_hint) == (
        "db",
        "db.resources",
        ("db",),
    )


def test_resources_shaped() -> None:
    assert resources_shaped({}) and resources_shaped(None)
    assert resources_shaped({"requests": {"cpu": "1"}})
    assert not resources_shaped({"operator": {}, "webhooks": {}})
