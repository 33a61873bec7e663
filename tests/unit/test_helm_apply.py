"""`apply`: Helm values patched in place, checked against the files' text, not only parsed YAML."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from kianax_capacity.errors import UserInputError
from kianax_capacity.outputs.helm import HelmLayout, apply_recommendations, main_container
from kianax_capacity.recommendations import RecommendationSet, load_recommendations

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture()
def charts(tmp_path: Path) -> Path:
    target = tmp_path / "charts"
    shutil.copytree(FIXTURES / "charts", target)
    return target


@pytest.fixture(scope="module")
def week2() -> RecommendationSet:
    return load_recommendations(FIXTURES / "recs" / "week2.json")


def _original(name: str) -> str:
    return (FIXTURES / "charts" / name / "values-prod.yaml").read_text()


def _replace_lines(text: str, replacements: dict[str, str | None]) -> str:
    """The text with whole lines swapped (None deletes the line); every old line must exist once."""
    lines = text.splitlines(keepends=True)
    for old, new in replacements.items():
        matches = [i for i, line in enumerate(lines) if line == old + "\n"]
        assert len(matches) == 1, f"fixture line {old!r} found {len(matches)} times"
        lines[matches[0]] = "" if new is None else new + "\n"
    return "".join(lines)


def test_api_gateway_only_recommended_lines_change(charts: Path, week2: RecommendationSet) -> None:
    # week2 recommends for api-gateway/app: 100m / no CPU limit / 192Mi / 256Mi, and HPA max 14,
    # CPU target 55, no memory target. The quoting of each value and the comments stay.
    result = apply_recommendations(week2, HelmLayout(charts))
    expected = _replace_lines(
        _original("api-gateway"),
        {
            '    cpu: "250m"        # from the 2025 load test': (
                '    cpu: "100m"        # from the 2025 load test'
            ),
            "    memory: '256Mi'": "    memory: '192Mi'",
            "    cpu: 500m": None,
            "    memory:    512Mi   # OOM guard": "    memory:    256Mi   # OOM guard",
            "  maxReplicas: 10": "  maxReplicas: 14",
            "  targetCPUUtilizationPercentage: 70": "  targetCPUUtilizationPercentage: 55",
            "  targetMemoryUtilizationPercentage: 80": None,
        },
    )
    assert (charts / "api-gateway" / "values-prod.yaml").read_text() == expected
    # The shared defaults file of the same chart is not the values file and stays byte for byte.
    assert (charts / "api-gateway" / "values.yaml").read_text() == (
        FIXTURES / "charts" / "api-gateway" / "values.yaml"
    ).read_text()
    by_chart = {f.chart: f for f in result.files}
    assert by_chart["api-gateway"].status == "changed"
    removed = [c for c in by_chart["api-gateway"].changes if c.new is None]
    assert {c.path for c in removed} == {
        "resources.limits.cpu",
        "autoscaling.targetMemoryUtilizationPercentage",
    }
    assert "no CPU limit" in next(c.describe() for c in removed if c.path == "resources.limits.cpu")


def test_helm_create_empty_resources_become_a_block(charts: Path, week2: RecommendationSet) -> None:
    apply_recommendations(week2, HelmLayout(charts))
    text = (charts / "trading-service" / "values-prod.yaml").read_text()
    expected = _replace_lines(
        _original("trading-service"),
        {
            "resources: {}": "resources:\n  requests:\n    cpu: 400m\n    memory: 512Mi\n"
            "  limits:\n    cpu: 800m\n    memory: 768Mi",
            "  minReplicas: 1": "  minReplicas: 2",
            "  maxReplicas: 100": "  maxReplicas: 16",
            # The memory target (80) is already what runs (from the chart's defaults): the
            # file does not set it, and apply does not add a value that changes nothing.
            "  targetCPUUtilizationPercentage: 80": "  targetCPUUtilizationPercentage: 70",
        },
    )
    assert text == expected


def test_second_apply_changes_nothing(charts: Path, week2: RecommendationSet) -> None:
    apply_recommendations(week2, HelmLayout(charts))
    before = {p: p.read_text() for p in charts.rglob("*.yaml")}
    again = apply_recommendations(week2, HelmLayout(charts))
    assert not again.changed_files
    assert {p: p.read_text() for p in charts.rglob("*.yaml")} == before


def test_dry_run_writes_nothing_and_returns_a_unified_diff(
    charts: Path, week2: RecommendationSet
) -> None:
    before = {p: p.read_bytes() for p in charts.rglob("*") if p.is_file()}
    result = apply_recommendations(week2, HelmLayout(charts), dry_run=True)
    assert {p: p.read_bytes() for p in charts.rglob("*") if p.is_file()} == before
    assert f"--- {charts / 'api-gateway' / 'values-prod.yaml'}" in result.diff
    assert '-    cpu: "250m"        # from the 2025 load test\n' in result.diff
    assert '+    cpu: "100m"        # from the 2025 load test\n' in result.diff
    assert "-    cpu: 500m\n" in result.diff


def test_missing_chart_or_values_file_is_skipped_per_workload(
    charts: Path, week2: RecommendationSet
) -> None:
    result = apply_recommendations(week2, HelmLayout(charts))
    skipped = {f.chart: f.messages[0] for f in result.files if f.status == "skipped"}
    assert "no values file" in skipped["market-data-service"]
    assert skipped["market-data-service"].endswith("; set `values_file` or create it")
    assert "no chart folder" in skipped["portfolio-service"]
    assert "no chart folder" in skipped["prometheus-kube-prometheus-stack"]
    assert not (charts / "market-data-service" / "values-prod.yaml").exists()


def test_only_hpa_leaves_resources_alone(charts: Path, week2: RecommendationSet) -> None:
    apply_recommendations(week2, HelmLayout(charts), only=("hpa",))
    text = (charts / "api-gateway" / "values-prod.yaml").read_text()
    assert '    cpu: "250m"        # from the 2025 load test\n' in text
    assert "  maxReplicas: 14\n" in text


def test_unknown_section_is_a_user_error(charts: Path, week2: RecommendationSet) -> None:
    with pytest.raises(UserInputError, match="unknown section"):
        apply_recommendations(week2, HelmLayout(charts), only=("spot",))


def test_rows_without_status_ok_are_not_applied(charts: Path, week2: RecommendationSet) -> None:
    not_ok = week2.with_rows(
        rightsizing=[replace(r, status="insufficient_data") for r in week2.rightsizing],
        hpa=[replace(h, status="hpa_managed") for h in week2.hpa],
    )
    result = apply_recommendations(not_ok, HelmLayout(charts))
    assert result.files == ()
    assert (charts / "api-gateway" / "values-prod.yaml").read_text() == _original("api-gateway")


def test_sidecars_are_skipped_unless_a_key_path_maps_them(
    charts: Path, week2: RecommendationSet
) -> None:
    # agent-service has containers "agent" and "istio-proxy": neither is named like the chart,
    # the workload, app or main, so the main container is ambiguous and nothing is guessed.
    result = apply_recommendations(week2, HelmLayout(charts), only=("rightsizing",))
    assert sum("agent-service/" in row for row in result.skipped_rows) == 2
    assert (charts / "agent-service" / "values-prod.yaml").read_text() == _original("agent-service")

    layout = HelmLayout(
        charts,
        container_paths={
            "agent-service/agent": "resources",
            "agent-service/istio-proxy": "sidecar.resources",
        },
    )
    apply_recommendations(week2, layout, only=("rightsizing",))
    text = (charts / "agent-service" / "values-prod.yaml").read_text()
    lines = _original("agent-service").splitlines()
    new_lines = text.splitlines()
    changed = [(a, b) for a, b in zip(lines, new_lines, strict=True) if a != b]
    assert changed == [
        ("  requests: {cpu: 250m, memory: 256Mi}", "  requests: {cpu: 500m, memory: 512Mi}"),
        ("  limits: {cpu: 500m, memory: 512Mi}", "  limits: {cpu: 1, memory: 1Gi}"),
        ("      cpu: 100m", "      cpu: 50m"),
        ("      memory: 128Mi", "      memory: 64Mi"),
    ]


def test_chart_for_maps_a_workload_to_another_folder(
    charts: Path, week2: RecommendationSet
) -> None:
    shutil.copytree(charts / "trading-service", charts / "portfolio")
    result = apply_recommendations(
        week2,
        HelmLayout(charts, chart_for={"kianax/portfolio-service": "portfolio"}),
        only=("rightsizing",),
    )
    assert "portfolio" in {f.chart for f in result.changed_files}
    assert "    cpu: 150m\n" in (charts / "portfolio" / "values-prod.yaml").read_text()


@pytest.mark.parametrize(
    ("chart", "workload", "containers", "expected"),
    [
        ("api-gateway", "api-gateway", ["app", "istio-proxy"], "app"),
        ("web", "web", ["web", "app"], "web"),
        ("svc", "svc", ["only-one"], "only-one"),
        ("svc", "svc", ["a", "b"], None),
    ],
)
def test_main_container_convention(
    chart: str, workload: str, containers: list[str], expected: str | None
) -> None:
    assert main_container(chart, workload, containers) == expected


def test_values_that_are_not_quantities_are_left_alone(
    charts: Path, week2: RecommendationSet
) -> None:
    values = charts / "api-gateway" / "values-prod.yaml"
    templated = values.read_text().replace('cpu: "250m"', 'cpu: "{{ .Values.global.cpu }}"')
    values.write_text(templated)
    result = apply_recommendations(week2, HelmLayout(charts), only=("rightsizing",))
    gateway = next(f for f in result.files if f.chart == "api-gateway")
    assert any("resources.requests.cpu is not a quantity" in m for m in gateway.messages)
    assert 'cpu: "{{ .Values.global.cpu }}"' in values.read_text()
    assert "    memory: '192Mi'\n" in values.read_text()  # the other values are still applied


def test_plain_number_cpu_stays_a_number(charts: Path, week2: RecommendationSet) -> None:
    values = charts / "api-gateway" / "values-prod.yaml"
    values.write_text(values.read_text().replace('cpu: "250m"', "cpu: 0.25"))
    apply_recommendations(week2, HelmLayout(charts), only=("rightsizing",))
    assert "    cpu: 0.1        # from the 2025 load test\n" in values.read_text()
