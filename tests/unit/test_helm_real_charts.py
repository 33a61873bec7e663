"""`apply` on real public charts (tests/fixtures/charts-corpus/): never write where a chart does not read.

Each test copies upstream files byte for byte into a ``charts/<chart>/`` folder the way a
platform repository holds them, applies one recommendation set, and compares the resulting
text or data with what the chart's own templates read.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from kianax_capacity.outputs.helm import HelmLayout, apply_recommendations
from kianax_capacity.recommendations import RecommendationSet, Resources, RightsizingRow

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "charts-corpus"
MI = 1024**2
T0 = datetime(2026, 11, 16, tzinfo=UTC)
CURRENT = Resources(0.1, None, 128 * MI, None)


def _load(text: str) -> object:
    return YAML(typ="safe", pure=True).load(text)


def rightsizing_row(
    workload: str,
    container: str,
    recommended: Resources,
    kind: str = "Deployment",
    namespace: str = "infra",
    current: Resources = CURRENT,
) -> RightsizingRow:
    """An ``ok`` right-sizing row of ``namespace/workload/container`` from ``current`` to
    ``recommended``."""
    return RightsizingRow(
        namespace=namespace,
        kind=kind,
        workload=workload,
        container=container,
        current=current,
        recommended=recommended,
        status="ok",
        reason="p95 usage over 14 days",
        replicas=2.0,
        monthly_savings_usd=1.0,
        risk="low",
    )


def recommendation_set(*rows: RightsizingRow) -> RecommendationSet:
    """A set holding only ``rows`` (with :func:`rightsizing_row`, what the apply tests feed)."""
    return RecommendationSet(
        cluster="test",
        generated_at=T0,
        window_start=T0,
        window_end=T0,
        step_seconds=300,
        rightsizing=rows,
    )


def _chart(
    charts: Path,
    corpus: str,
    name: str,
    templates: bool = False,
    chart_yaml: bool = True,
    values_as: str = "values-prod.yaml",
) -> Path:
    """``charts/<name>/`` holding the corpus chart's values.yaml as ``values_as``."""
    folder = charts / name
    folder.mkdir(parents=True)
    shutil.copyfile(CORPUS / corpus / "values.yaml", folder / values_as)
    if chart_yaml:
        shutil.copyfile(CORPUS / corpus / "Chart.yaml", folder / "Chart.yaml")
    if templates:
        shutil.copytree(CORPUS / corpus / "templates", folder / "templates")
        if values_as != "values.yaml":
            shutil.copyfile(CORPUS / corpus / "values.yaml", folder / "values.yaml")
    return folder / values_as


def _get(data: object, dotted: str) -> object:
    for key in dotted.split("."):
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


R1 = Resources(cpu_request=0.3, cpu_limit=None, memory_request=300 * MI, memory_limit=400 * MI)
R2 = Resources(cpu_request=0.05, cpu_limit=None, memory_request=64 * MI, memory_limit=96 * MI)
R3 = Resources(cpu_request=0.02, cpu_limit=None, memory_request=48 * MI, memory_limit=80 * MI)


def test_ingress_nginx_never_gets_a_top_level_resources_key(tmp_path: Path) -> None:
    # ingress-nginx reads controller.resources; a top-level `resources` is ignored by the chart.
    values = _chart(tmp_path, "ingress-nginx", "ingress-nginx")
    recs = recommendation_set(rightsizing_row("ingress-nginx-controller", "controller", R1))
    result = apply_recommendations(recs, HelmLayout(tmp_path))
    data = _load(values.read_text())
    assert _get(data, "resources") is None
    assert _get(data, "controller.resources.requests.cpu") == "300m"
    assert _get(data, "controller.resources.limits.memory") == "400Mi"
    assert not result.skipped_rows


def test_unknown_chart_without_templates_is_refused_with_the_entry_to_add(tmp_path: Path) -> None:
    values = _chart(tmp_path, "ingress-nginx", "ingress-nginx", chart_yaml=False)
    before = values.read_bytes()
    recs = recommendation_set(rightsizing_row("ingress-nginx-controller", "controller", R1))
    result = apply_recommendations(recs, HelmLayout(tmp_path))
    assert values.read_bytes() == before
    (message,) = result.skipped_rows
    assert "container_paths" in message
    assert '"ingress-nginx-controller/controller" = "<path>.resources"' in message


def test_cert_manager_three_workloads_land_on_three_keys(tmp_path: Path) -> None:
    values = _chart(tmp_path, "cert-manager", "cert-manager", templates=True)
    recs = recommendation_set(
        rightsizing_row("cert-manager", "cert-manager-controller", R1),
        rightsizing_row("cert-manager-webhook", "cert-manager-webhook", R2),
        rightsizing_row("cert-manager-cainjector", "cert-manager-cainjector", R3),
    )
    result = apply_recommendations(recs, HelmLayout(tmp_path))
    data = _load(values.read_text())
    assert _get(data, "resources.requests.cpu") == "300m"
    assert _get(data, "webhook.resources.requests.cpu") == "50m"
    assert _get(data, "cainjector.resources.requests.cpu") == "20m"
    assert not result.skipped_rows
    again = apply_recommendations(recs, HelmLayout(tmp_path))
    assert not again.changed_files  # idempotent: no weekly flip-flop


def test_two_rows_on_one_key_are_both_refused_naming_both(tmp_path: Path) -> None:
    # No templates to check the mapping against: a mapping that sends two workloads to one key
    # must not let the last one win (the next run would flip it back).
    values = _chart(tmp_path, "cert-manager", "cert-manager", chart_yaml=False)
    before = values.read_bytes()
    layout = HelmLayout(
        tmp_path,
        container_paths={
            "cert-manager/cert-manager-controller": "resources",
            "cert-manager-webhook/cert-manager-webhook": "resources",
        },
    )
    recs = recommendation_set(
        rightsizing_row("cert-manager", "cert-manager-controller", R1),
        rightsizing_row("cert-manager-webhook", "cert-manager-webhook", R2),
    )
    result = apply_recommendations(recs, layout)
    assert values.read_bytes() == before
    assert len(result.skipped_rows) == 2
    for message in result.skipped_rows:
        assert "cert-manager/cert-manager-controller" in message
        assert "cert-manager-webhook/cert-manager-webhook" in message
        assert "resources" in message


def test_bitnami_preset_is_replaced_by_every_field_it_set(tmp_path: Path) -> None:
    # nginx defaults to resourcesPreset: nano; a non-empty `resources` disables the preset, so
    # the preset's other fields (ephemeral-storage, the limits) must be written out explicitly.
    values = _chart(tmp_path, "bitnami-nginx", "nginx", templates=True)
    recs = recommendation_set(
        rightsizing_row("nginx", "nginx", R1, current=Resources(0.1, 0.15, 128 * MI, 192 * MI))
    )
    apply_recommendations(recs, HelmLayout(tmp_path))
    data = _load(values.read_text())
    assert _get(data, "resourcesPreset") == "none"
    assert _get(data, "resources") == {
        "requests": {"cpu": "300m", "memory": "300Mi", "ephemeral-storage": "50Mi"},
        "limits": {"memory": "400Mi", "ephemeral-storage": "2Gi"},
    }
    # The sidecar presets elsewhere in the file are not touched.
    assert _get(data, "metrics.resourcesPreset") == "nano"


def test_a_base_file_limit_is_removed_with_null_in_the_override(tmp_path: Path) -> None:
    chart = tmp_path / "svc"
    shutil.copytree(CORPUS / "helm-create", chart)
    (chart / "values.yaml").write_text(
        (chart / "values.yaml")
        .read_text()
        .replace("resources: {}", "resources:\n  limits:\n    cpu: 500m\n    memory: 512Mi")
    )
    (chart / "values-prod.yaml").write_text(
        "replicaCount: 3\nresources:\n  requests:\n    cpu: 1\n"
    )
    recs = recommendation_set(
        rightsizing_row(
            "svc",
            "mychart",
            Resources(1.0, None, 256 * MI, 512 * MI),
            current=Resources(1.0, 0.5, 256 * MI, 512 * MI),
        )
    )
    result = apply_recommendations(recs, HelmLayout(tmp_path))
    assert (chart / "values-prod.yaml").read_text() == (
        "replicaCount: 3\nresources:\n  requests:\n    cpu: 1\n  limits:\n    cpu: null\n"
    )
    assert result.changed_files


def test_crlf_and_bom_are_kept(tmp_path: Path) -> None:
    chart = tmp_path / "svc"
    shutil.copytree(CORPUS / "helm-create", chart)
    text = "\ufeffreplicaCount: 1\r\nresources:\r\n  requests:\r\n    cpu: 100m\r\n"
    (chart / "values-prod.yaml").write_bytes(text.encode())
    recs = recommendation_set(
        rightsizing_row("svc", "mychart", Resources(0.2, None, 160 * MI, None))
    )
    apply_recommendations(recs, HelmLayout(tmp_path))
    out = (chart / "values-prod.yaml").read_bytes().decode()
    assert out == (
        "\ufeffreplicaCount: 1\r\nresources:\r\n  requests:\r\n    cpu: 200m\r\n"
        "    memory: 160Mi\r\n"
    )


def test_empty_resources_on_its_own_line_leaves_no_blank_line(tmp_path: Path) -> None:
    chart = tmp_path / "svc"
    shutil.copytree(CORPUS / "helm-create", chart)
    (chart / "values-prod.yaml").write_text("resources:\n  {}\nnodeSelector: {}\n")
    recs = recommendation_set(
        rightsizing_row("svc", "mychart", Resources(0.2, None, 160 * MI, None))
    )
    apply_recommendations(recs, HelmLayout(tmp_path))
    assert (chart / "values-prod.yaml").read_text() == (
        "resources:\n  requests:\n    cpu: 200m\n    memory: 160Mi\nnodeSelector: {}\n"
    )


@pytest.mark.parametrize("name", ["api-gateway", "trading-service"])
def test_platform_chart_needs_nothing_but_the_charts_folder(tmp_path: Path, name: str) -> None:
    # The strategy document's layout: Chart.yaml, values.yaml, values-dev/prod.yaml, templates/.
    chart = tmp_path / name
    shutil.copytree(CORPUS / "helm-create", chart)
    for path in chart.rglob("*"):
        if path.is_file():
            path.write_text(path.read_text().replace("mychart", name))
    (chart / "values-prod.yaml").write_text("replicaCount: 3\n")
    (chart / "values-dev.yaml").write_text("replicaCount: 1\n")
    recs = recommendation_set(rightsizing_row(name, name, R1))
    result = apply_recommendations(recs, HelmLayout(tmp_path))
    assert not result.skipped_rows
    data = _load((chart / "values-prod.yaml").read_text())
    assert _get(data, "resources.requests.cpu") == "300m"
    assert (chart / "values-dev.yaml").read_text() == "replicaCount: 1\n"
