"""The aggregate shape's sections against the series shape's, on the same real server.

Both snapshots are fetched from the same real server (VictoriaMetrics, then Prometheus) holding
the demo (3 days at 5 minutes);
the aggregate one has no usage samples, only server-side statistics, the per-HPA demand
(``hpa_demand``) and the leak screen's hourly peaks (``memory_peaks``). Tolerances:

* HPA demand: the server sums the same per-container expressions the series shape fetches, so
  the demand per HPA and step agrees to float rounding (1e-6 relative).
* HPA rows: the issue's target: every ``ok`` row of the series shape is ``ok`` here, min and
  max within one replica, the same target.
* Leaks: every container flagged on samples is flagged here.
* Right-sizing requests (kianax): within 10% for at least 90% of the rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kianax_capacity.config import PrometheusConfig
from kianax_capacity.recommendations import RecommendationSet
from kianax_capacity.recommenders.engine import recommend
from kianax_capacity.recommenders.hpa.inputs import hpa_workloads
from kianax_capacity.snapshot import Snapshot, load_snapshot
from kianax_capacity.sources.prometheus import fetch_prometheus_snapshot
from tests.integration.conftest import DEMO_END, DEMO_START, DEMO_STEP_SECONDS
from tests.integration.servers import PrometheusServer, VictoriaMetricsServer

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module", params=["victoria-metrics", "prometheus"])
def shapes(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Snapshot]:
    """Both shapes from one server: VictoriaMetrics (MetricsQL statistics) and Prometheus
    (PromQL, one statistic per request); VictoriaMetrics also holds the scaled cluster, so its
    fetches filter on the cluster label."""
    if request.param == "prometheus":
        server: PrometheusServer | VictoriaMetricsServer = request.getfixturevalue(
            "prometheus_server"
        )
        label = None
    else:
        server = request.getfixturevalue("victoria_metrics_server")
        label = "cluster"
    out: dict[str, Snapshot] = {}
    for shape in ("series", "aggregate"):
        folder = tmp_path_factory.mktemp(f"sections-{request.param}-{shape}") / "snapshot"
        fetch_prometheus_snapshot(
            PrometheusConfig(url=server.url),
            start=DEMO_START,
            end=DEMO_END,
            step_seconds=DEMO_STEP_SECONDS,
            out=folder,
            cluster_label=label,
            shape=shape,
        )
        out[shape] = load_snapshot(folder)
    return out


@pytest.fixture(scope="module")
def recommended(shapes: dict[str, Snapshot]) -> dict[str, RecommendationSet]:
    return {shape: recommend(snap) for shape, snap in shapes.items()}


def test_the_server_sums_each_hpas_demand_as_the_series_shape_does(
    shapes: dict[str, Snapshot],
) -> None:
    assert shapes["aggregate"].usage.empty
    assert not shapes["aggregate"].table("hpa_demand").empty
    series = {(w.namespace, w.hpa): w for w in hpa_workloads(shapes["series"])}
    aggregate = {(w.namespace, w.hpa): w for w in hpa_workloads(shapes["aggregate"])}
    assert set(series) == set(aggregate) and len(series) >= 3
    compared = 0
    for key, left in series.items():
        right = aggregate[key]
        if not left.cpu_demand.size:
            continue
        joined = pd.DataFrame(
            {"cpu": left.cpu_demand, "memory": left.memory_demand}, index=left.timestamps
        ).join(
            pd.DataFrame(
                {"cpu": right.cpu_demand, "memory": right.memory_demand}, index=right.timestamps
            ),
            suffixes=("", "_aggregate"),
            how="inner",
        )
        assert len(joined) >= 0.95 * len(left.timestamps), key
        for column in ("cpu", "memory"):
            expected = joined[column].to_numpy()
            got = joined[f"{column}_aggregate"].to_numpy()
            assert np.allclose(got, expected, rtol=1e-6, atol=1e-9), (key, column)
        compared += 1
    assert compared >= 3


def _hpa_rows(recs: RecommendationSet) -> pd.DataFrame:
    rows = [
        {
            "namespace": r.namespace,
            "workload": r.workload,
            "status": r.status,
            "min": r.recommended.min_replicas,
            "max": r.recommended.max_replicas,
            "target": r.recommended.target_cpu_utilization,
            "reason": r.reason,
        }
        for r in recs.hpa
    ]
    return pd.DataFrame(rows).set_index(["namespace", "workload"])


def test_every_ok_hpa_row_of_the_series_shape_is_ok_in_the_aggregate_shape(
    recommended: dict[str, RecommendationSet],
) -> None:
    series = _hpa_rows(recommended["series"])
    aggregate = _hpa_rows(recommended["aggregate"])
    ok = series[series["status"] == "ok"]
    assert len(ok) >= 1
    joined = ok.join(aggregate, suffixes=("", "_aggregate"), how="left")
    assert (joined["status_aggregate"] == "ok").all(), joined[
        ["status_aggregate", "reason_aggregate"]
    ]
    assert ((joined["min"] - joined["min_aggregate"]).abs() <= 1).all()
    assert ((joined["max"] - joined["max_aggregate"]).abs() <= 1).all()
    same_target = (joined["target"] == joined["target_aggregate"]) | (
        joined["target"].isna() & joined["target_aggregate"].isna()
    )
    assert same_target.all(), joined[["target", "target_aggregate"]]


def _rightsizing(recs: RecommendationSet) -> pd.DataFrame:
    rows = []
    for row in recs.rightsizing:
        d = row.to_dict()
        recommended = d.get("recommended") or {}
        rows.append(
            {
                "namespace": d["namespace"],
                "kind": d["kind"],
                "workload": d["workload"],
                "container": d["container"],
                "status": d["status"],
                "cpu": recommended.get("cpu_request"),
                "memory": recommended.get("memory_request"),
                "leak": bool((d.get("evidence") or {}).get("leak", False)),
            }
        )
    return pd.DataFrame(rows).set_index(["namespace", "kind", "workload", "container"])


def test_every_leak_flagged_on_samples_is_flagged_from_the_leak_screen(
    shapes: dict[str, Snapshot], recommended: dict[str, RecommendationSet]
) -> None:
    screen = shapes["aggregate"].manifest.extra["prometheus"]["leak_screen"]
    # The screen asks hourly peaks for some containers, not all of them.
    assert 0 < screen["checked"] < len(shapes["aggregate"].containers)
    assert screen["requests"] == 1
    series = _rightsizing(recommended["series"])
    aggregate = _rightsizing(recommended["aggregate"])
    flagged = series.index[series["leak"]]
    assert len(flagged) >= 1  # notification-service leaks by design (docs/demo-cluster.md)
    assert aggregate.loc[flagged, "leak"].all(), aggregate.loc[flagged]
    assert aggregate["leak"].sum() == len(flagged)


def test_kianax_requests_agree_within_ten_percent_for_nine_rows_in_ten(
    recommended: dict[str, RecommendationSet],
) -> None:
    series = _rightsizing(recommended["series"])
    aggregate = _rightsizing(recommended["aggregate"])
    joined = series[series["status"] != "insufficient_data"].join(
        aggregate, suffixes=("", "_aggregate"), how="inner"
    )
    assert len(joined) >= 15
    for column in ("cpu", "memory"):
        ratio = joined[f"{column}_aggregate"].astype(float) / joined[column].astype(float)
        assert ((ratio - 1.0).abs() <= 0.10).mean() >= 0.9, (column, ratio.describe())
    # The seasons came from the server: the busiest season is named as on samples.
    seasons = {
        (r.namespace, r.workload, r.container): (r.to_dict().get("evidence") or {}).get(
            "cpu_busiest_season"
        )
        for r in recommended["aggregate"].rightsizing
    }
    assert sum(1 for season in seasons.values() if season in ("market", "weekday", "weekend")) >= 10


def test_vpa_from_the_daily_statistics_agrees_with_its_histograms(
    shapes: dict[str, Snapshot],
) -> None:
    # VPA's decaying histograms rebuilt from the per-pod, per-day statistics: CPU p90 pooled
    # from the days' percentiles with the decay at each day's middle, memory p90 of the daily
    # peaks (the aggregate chunks are VPA's 24 h intervals), bucket ends and confidence as VPA.
    recs = {shape: recommend(snap, strategy="vpa") for shape, snap in shapes.items()}
    series = _rightsizing(recs["series"])
    aggregate = _rightsizing(recs["aggregate"])
    joined = series[series["status"] != "insufficient_data"].join(
        aggregate, suffixes=("", "_aggregate"), how="inner"
    )
    assert len(joined) >= 15
    for column in ("cpu", "memory"):
        ratio = joined[f"{column}_aggregate"].astype(float) / joined[column].astype(float)
        assert ((ratio - 1.0).abs() <= 0.10).mean() >= 0.9, (column, ratio.describe())
    note = next(r.reason for r in recs["aggregate"].rightsizing if r.status == "ok")
    assert "per-day statistics" in note
