"""recommendations.json -> OpenMetrics gauges: names, units, labels, escaping, promtool, atomicity."""

from __future__ import annotations

import subprocess
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families
from prometheus_client.parser import (
    text_string_to_metric_families as prometheus_text_to_families,
)

from kianax_capacity.errors import OutputError
from kianax_capacity.outputs.metrics_export import (
    METRICS,
    recommendation_metrics,
    render_metrics,
    write_textfile,
)
from kianax_capacity.recommendations import (
    NodeGroupRow,
    NodeGroupSettings,
    RecommendationSet,
    Resources,
    RightsizingRow,
    load_recommendations,
)
from tests.integration.servers import PROMTOOL, require_binary

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "recs" / "week2.json"


def _samples(text: bytes) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """(sample name, labels) -> value, parsed back by prometheus_client's OpenMetrics parser."""
    out = {}
    for family in text_string_to_metric_families(text.decode()):
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


def _promtool_check(text: bytes) -> subprocess.CompletedProcess[bytes]:
    promtool = require_binary(PROMTOOL, "prometheus")
    return subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, check=False
    )


def _labels(**labels: str) -> frozenset[tuple[str, str]]:
    return frozenset(labels.items())


def test_every_name_has_the_prefix_and_a_known_unit() -> None:
    names = [spec.full_name for spec in METRICS]
    assert len(names) == len(set(names))
    for spec in METRICS:
        assert spec.full_name.startswith("kianax_capacity_")
        assert not spec.full_name.endswith("_total")  # gauges, not counters
        if spec.unit:
            assert spec.full_name.endswith("_" + spec.unit)
    # money, CPU, memory and time each have their base unit
    assert {"usd", "cores", "bytes", "seconds", "ratio"} <= {spec.unit for spec in METRICS}


def test_the_fixture_file_exports_its_own_numbers() -> None:
    recs = load_recommendations(FIXTURE)
    samples = _samples(render_metrics(recommendation_metrics(recs, tool_version="9.9.9")))
    cluster = recs.cluster
    for row in recs.rightsizing:
        labels = {
            "cluster": cluster,
            "namespace": row.namespace,
            "kind": row.kind,
            "workload": row.workload,
            "container": row.container,
        }
        key = _labels(**labels)
        expected = {
            "kianax_capacity_rightsizing_current_cpu_request_cores": row.current.cpu_request,
            "kianax_capacity_rightsizing_recommended_cpu_request_cores": row.recommended.cpu_request,
            "kianax_capacity_rightsizing_current_memory_limit_bytes": row.current.memory_limit,
            "kianax_capacity_rightsizing_recommended_memory_request_bytes": row.recommended.memory_request,
            "kianax_capacity_rightsizing_monthly_savings_usd": row.monthly_savings_usd,
        }
        for name, value in expected.items():
            if value is None:  # unset: no sample, not a zero
                assert (name, key) not in samples
            else:
                assert samples[(name, key)] == pytest.approx(value)
    for row in recs.hpa:
        key = _labels(cluster=cluster, namespace=row.namespace, workload=row.workload)
        assert samples[("kianax_capacity_hpa_recommended_max_replicas", key)] == float(
            row.recommended.max_replicas or 0
        )
        if row.current.target_cpu_utilization is not None:  # percent in the file, ratio here
            assert samples[
                ("kianax_capacity_hpa_current_target_cpu_utilization_ratio", key)
            ] == pytest.approx(row.current.target_cpu_utilization / 100)
    for row in recs.nodegroups:
        key = _labels(cluster=cluster, nodegroup=row.name)
        assert samples[
            ("kianax_capacity_nodegroup_recommended_monthly_cost_usd", key)
        ] == pytest.approx(row.recommended.monthly_cost_usd or 0)
    exhausted = [row for row in recs.forecast if row.exhausted_on]
    assert exhausted, "the fixture has a forecast that runs out"
    exhaustion = {
        labels: value
        for (name, labels), value in samples.items()
        if name == "kianax_capacity_forecast_exhaustion_timestamp_seconds"
    }
    assert len(exhaustion) == len(exhausted)
    for row in exhausted:
        moment = datetime.fromisoformat(row.exhausted_on).replace(tzinfo=UTC)  # type: ignore[arg-type]
        assert moment.timestamp() in exhaustion.values()
    info = [labels for (name, labels), _ in samples.items() if name == "kianax_capacity_run_info"]
    assert info == [
        _labels(cluster=cluster, strategy=recs.strategy, profile=recs.profile, version="9.9.9")
    ]
    window = samples[("kianax_capacity_run_window_seconds", _labels(cluster=cluster))]
    assert window == (recs.window_end - recs.window_start).total_seconds()


def test_demo_export_passes_promtool_in_both_formats(demo_recommendations) -> None:
    families = recommendation_metrics(demo_recommendations, tool_version="0.1.0")
    for fmt in ("openmetrics", "prometheus"):
        text = render_metrics(families, fmt)
        checked = _promtool_check(text)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert checked.stdout == b""
        assert checked.stderr == b""
    assert text.count(b"\n") > 300  # every section is there, not an empty file


def test_promtool_does_lint_what_we_feed_it() -> None:
    """The promtool check is not vacuous: a badly named gauge fails it."""
    bad = b"# HELP requests_total x\n# TYPE requests_total gauge\nrequests_total 1\n"
    checked = _promtool_check(bad)
    assert checked.returncode != 0
    assert b"total" in checked.stdout + checked.stderr


def _row(workload: str, container: str = "app", **extra: object) -> RightsizingRow:
    return RightsizingRow(
        namespace="team-a",
        kind="Deployment",
        workload=workload,
        container=container,
        current=Resources(cpu_request=0.5, memory_request=256 * 2**20),
        recommended=Resources(cpu_request=0.2, memory_request=128 * 2**20, memory_limit=2**28),
        status="ok",
        reason="test",
        monthly_savings_usd=3.5,
        risk="high",
        extra=extra,
    )


def _set(*rows: RightsizingRow, cluster: str = "c1", **extra: object) -> RecommendationSet:
    start = datetime(2026, 11, 1, tzinfo=UTC)
    return RecommendationSet(
        cluster=cluster,
        generated_at=datetime(2026, 11, 15, tzinfo=UTC),
        window_start=start,
        window_end=datetime(2026, 11, 15, tzinfo=UTC),
        step_seconds=300,
        rightsizing=rows,
        extra=extra,
    )


def test_label_values_are_escaped_and_round_trip() -> None:
    nasty = 'we"ird\\name\nnext'
    recs = _set(_row(nasty, container="a,b=c}"), cluster='prod "eu"\\1')
    text = render_metrics(recommendation_metrics(recs, tool_version="0.1.0"))
    assert b'we\\"ird\\\\name\\nnext' in text
    checked = _promtool_check(text)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    samples = _samples(text)
    key = _labels(
        cluster='prod "eu"\\1',
        namespace="team-a",
        kind="Deployment",
        workload=nasty,
        container="a,b=c}",
    )
    assert samples[("kianax_capacity_rightsizing_current_cpu_request_cores", key)] == 0.5
    assert samples[("kianax_capacity_rightsizing_risk_level", key)] == 2.0
    # the Prometheus text format escapes the same way
    plain = render_metrics(recommendation_metrics(recs, tool_version="0.1.0"), "prometheus")
    workloads = {
        sample.labels["workload"]
        for family in prometheus_text_to_families(plain.decode())
        for sample in family.samples
        if "workload" in sample.labels
    }
    assert workloads == {nasty}


def test_unset_values_are_absent_not_zero() -> None:
    text = render_metrics(recommendation_metrics(_set(_row("api")), tool_version="0.1.0"))
    assert b"kianax_capacity_rightsizing_current_cpu_limit_cores" not in text
    assert b"kianax_capacity_rightsizing_recommended_memory_limit_bytes{" in text
    assert b"kianax_capacity_forecast_exhaustion_timestamp_seconds" not in text


def test_optional_fields_of_newer_recommenders_are_exported_when_present() -> None:
    plain = NodeGroupRow(
        name="general-ng",
        current=NodeGroupSettings(monthly_cost_usd=100.0),
        recommended=NodeGroupSettings(monthly_cost_usd=80.0),
        monthly_savings_usd=20.0,
        reason="r",
    )
    newer = replace(
        plain,
        extra={
            "effective_monthly_cost_usd": {"current": 90.0, "recommended": 70.0},
            "burstable_surplus_usd": 4.25,
        },
    )
    rows = (
        _row("api", confidence=0.8, evidence_extra=1),
        replace(_row("web"), evidence={"backtest": {"p99_error_ratio": 0.12, "note": "text"}}),
    )
    old = render_metrics(
        recommendation_metrics(_set(_row("api")).with_rows(nodegroups=[plain]), tool_version="x")
    )
    new = render_metrics(
        recommendation_metrics(_set(*rows).with_rows(nodegroups=[newer]), tool_version="x")
    )
    for name in (
        b"nodegroup_current_effective_monthly_cost_usd",
        b"nodegroup_burstable_surplus_usd",
        b"rightsizing_confidence_ratio",
        b"rightsizing_backtest_value",
    ):
        assert name not in old
        assert name in new
    samples = _samples(new)
    ng = _labels(cluster="c1", nodegroup="general-ng")
    assert samples[("kianax_capacity_nodegroup_recommended_effective_monthly_cost_usd", ng)] == 70.0
    assert samples[("kianax_capacity_nodegroup_burstable_surplus_usd", ng)] == 4.25
    web = dict(namespace="team-a", kind="Deployment", workload="web", container="app")
    assert (
        samples[
            (
                "kianax_capacity_rightsizing_backtest_value",
                _labels(cluster="c1", **web, measure="p99_error_ratio"),
            )
        ]
        == 0.12
    )
    assert _promtool_check(new).returncode == 0


def test_a_repeated_row_is_exported_once(caplog: pytest.LogCaptureFixture) -> None:
    first, second = _row("api"), replace(_row("api"), monthly_savings_usd=99.0)
    text = render_metrics(recommendation_metrics(_set(first, second), tool_version="0.1.0"))
    assert text.count(b"kianax_capacity_rightsizing_monthly_savings_usd{") == 1
    assert b"} 3.5" in text
    assert "1 repeated row(s)" in caplog.text
    assert _promtool_check(text).returncode == 0


def test_textfile_write_is_atomic_and_replaces(tmp_path: Path) -> None:
    target = tmp_path / "textfile" / "kianax_capacity.prom"
    families = recommendation_metrics(_set(_row("api")), tool_version="0.1.0")
    write_textfile(families, target)
    first = target.read_bytes()
    assert first.endswith(b"# EOF\n")
    write_textfile(recommendation_metrics(_set(_row("web")), tool_version="0.1.0"), target)
    assert b'workload="web"' in target.read_bytes()
    assert b'workload="api"' not in target.read_bytes()
    # no temp file left beside it for node-exporter to read
    assert sorted(p.name for p in target.parent.iterdir()) == ["kianax_capacity.prom"]
    with pytest.raises(OutputError, match="is a folder"):
        write_textfile(families, target.parent)
