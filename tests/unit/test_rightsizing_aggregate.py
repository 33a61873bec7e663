"""Recommendations from an aggregate-shape snapshot (per-pod statistics, no usage samples).

The aggregate snapshot here is built from the demo's own samples the way the server computes
``container_stats`` (linear quantiles per pod container over the window), so each answer can be
checked against the series-shape answer on the very same samples.
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from kianax_capacity.model import ResourcePrices
from kianax_capacity.prices import embedded_catalog
from kianax_capacity.recommenders.aggregate import aggregate_inputs, is_aggregate
from kianax_capacity.recommenders.costs import allocate_costs
from kianax_capacity.recommenders.hpa import recommend_hpa
from kianax_capacity.recommenders.rightsizing import prepare_usage, recommend_rightsizing
from kianax_capacity.recommenders.strategies import (
    RightsizingStrategy,
    UsageData,
)
from kianax_capacity.recommenders.strategies.kianax import AGGREGATE_NOTE
from kianax_capacity.snapshot import Snapshot, empty_table
from kianax_capacity.sources.demo import DEFAULT_END, generate_demo_snapshot, simulate_demo_cluster
from kianax_capacity.sources.openmetrics import write_openmetrics, write_victoriametrics_jsonl

PRICES = ResourcePrices(0.0316, 0.0042)
KEY = ["namespace", "pod", "container"]


def to_aggregate(snapshot: Snapshot) -> Snapshot:
    """The snapshot as the aggregate fetch would write it: container_stats, empty usage."""
    usage = snapshot.table("usage")
    grouped = usage.groupby(KEY, observed=True)
    stats = grouped.agg(
        samples=("memory_bytes", "count"),
        cpu_cores_max=("cpu_cores", "max"),
        cpu_cores_mean=("cpu_cores", "mean"),
        memory_bytes_max=("memory_bytes", "max"),
        memory_bytes_mean=("memory_bytes", "mean"),
        cpu_throttled_ratio_mean=("cpu_throttled_ratio", "mean"),
    )
    for column, name in (("cpu_cores", "cpu_cores"), ("memory_bytes", "memory_bytes")):
        for q in (50, 90, 95, 99):
            stats[f"{name}_p{q}"] = grouped[column].quantile(q / 100)
    stats = stats.reset_index()
    for column in KEY:
        stats[column] = stats[column].astype(str)
    tables = dict(snapshot.tables)
    tables["usage"] = empty_table("usage")
    tables["container_stats"] = stats[list(empty_table("container_stats").columns)]
    return Snapshot(manifest=replace(snapshot.manifest, shape="aggregate"), tables=tables)


@pytest.fixture(scope="module")
def demo() -> Snapshot:
    return generate_demo_snapshot(days=3)


@pytest.fixture(scope="module")
def aggregate(demo: Snapshot) -> Snapshot:
    return to_aggregate(demo)


def by_key(rows):
    return {(r.namespace, r.kind, r.workload, r.container): r for r in rows}


def test_aggregate_snapshot_is_detected(demo: Snapshot, aggregate: Snapshot) -> None:
    assert is_aggregate(aggregate)
    assert not is_aggregate(demo)


def test_krr_simple_is_exact_from_per_pod_statistics(demo: Snapshot, aggregate: Snapshot) -> None:
    # KRR's rule (busiest pod's p95 CPU, peak memory x 1.15) only needs per-pod statistics.
    series = by_key(recommend_rightsizing(demo, strategy="krr-simple", default_prices=PRICES))
    stats = by_key(recommend_rightsizing(aggregate, strategy="krr-simple", default_prices=PRICES))
    assert series.keys() == stats.keys()
    compared = 0
    for key, row in series.items():
        assert stats[key].status == row.status, key
        if row.status in ("ok", "no_change"):
            assert stats[key].recommended == row.recommended, key
            assert stats[key].replicas == pytest.approx(row.replicas, rel=1e-6)
            compared += 1
    assert compared >= 15


def test_kianax_from_statistics_covers_every_pod_and_says_why(
    demo: Snapshot, aggregate: Snapshot
) -> None:
    series = by_key(recommend_rightsizing(demo, strategy="kianax", default_prices=PRICES))
    stats = by_key(recommend_rightsizing(aggregate, strategy="kianax", default_prices=PRICES))
    assert series.keys() == stats.keys()
    per_pod = aggregate.table("container_stats")
    for key, row in stats.items():
        if row.status not in ("ok", "no_change"):
            continue
        assert AGGREGATE_NOTE in row.reason
        # This snapshot was built without the seasons and the leak screen: the row says so.
        assert "no container_season_stats" in row.reason
        assert "leak detection was not run" in row.reason
        assert row.evidence["shape"] == "aggregate"
        # The request never falls below what the longest-lived pod used at p95.
        pods = aggregate.table("pods")
        names = pods[(pods["namespace"] == key[0]) & (pods["workload"] == key[2])]["pod"]
        mine = per_pod[per_pod["pod"].isin(set(names)) & (per_pod["container"] == key[3])]
        longest = mine.sort_values("samples").iloc[-1]
        if row.current.memory_limit is None:
            # No limit today: none is added (the same policy as the series path).
            assert row.recommended.memory_limit is None
        else:
            assert row.recommended.memory_limit >= longest["memory_bytes_max"]
        limit = row.recommended.memory_limit or float("inf")
        # Pooled over the pods, the p99 lies between the pods' own p99s.
        assert row.recommended.memory_request >= min(mine["memory_bytes_p99"].min(), limit)
    # Without the leak screen's hourly peaks the leaking notification-service is not flagged;
    # the series shape flags it (tests/integration/test_aggregate_sections.py: with the screen).
    leak_key = ("kianax", "Deployment", "notification-service", "app")
    assert series[leak_key].evidence.get("leak") is True
    assert "leak" not in stats[leak_key].evidence


def test_vpa_is_approximated_and_labelled(aggregate: Snapshot) -> None:
    rows = recommend_rightsizing(aggregate, strategy="vpa", default_prices=PRICES)
    ok = [r for r in rows if r.status in ("ok", "no_change")]
    assert ok
    assert all("VPA's decaying histograms need the samples" in r.reason for r in ok)


def test_hpa_says_it_needs_the_series_shape(aggregate: Snapshot) -> None:
    rows = recommend_hpa(aggregate, default_prices=PRICES)
    assert rows
    for row in rows:
        assert row.status == "insufficient_data"
        assert "--shape series" in row.reason


def test_costs_from_statistics_match_the_samples_closely(
    demo: Snapshot, aggregate: Snapshot
) -> None:
    catalog = embedded_catalog("us-east-1")
    series = allocate_costs(demo, catalog).summary()
    stats = allocate_costs(aggregate, catalog).summary()
    assert stats["node_monthly_usd"] == series["node_monthly_usd"]
    assert stats["allocated_monthly_usd"] > 0
    # Mean usage per pod instead of each sample: a little less is charged, never much less.
    assert stats["allocated_monthly_usd"] <= series["allocated_monthly_usd"] + 0.01
    assert stats["allocated_monthly_usd"] >= 0.9 * series["allocated_monthly_usd"]
    for namespace, usd in series["namespace_monthly_usd"].items():
        assert stats["namespace_monthly_usd"][namespace] == pytest.approx(usd, rel=0.15, abs=0.5)


def _parse_text(text: str) -> dict[tuple[str, int], float]:
    samples = {}
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        series, value, stamp = line.rsplit(" ", 2)
        samples[(series, int(stamp))] = float(value)
    return samples


def _parse_jsonl(text: str) -> dict[tuple[str, int], float]:
    samples = {}
    for line in text.splitlines():
        record = json.loads(line)
        metric = dict(record["metric"])
        name = metric.pop("__name__")
        labels = ",".join(f'{k}="{v}"' for k, v in metric.items())
        for value, stamp in zip(record["values"], record["timestamps"], strict=True):
            samples[(f"{name}{{{labels}}}", stamp)] = value
    return samples


def test_jsonl_export_holds_the_same_samples_as_the_text_export() -> None:
    cluster = simulate_demo_cluster(end=DEFAULT_END, days=0.25)
    text, lines = io.StringIO(), io.StringIO()
    write_openmetrics(cluster, text, millis=True)
    series, count = write_victoriametrics_jsonl(cluster, lines)
    expected = _parse_text(text.getvalue())
    got = _parse_jsonl(lines.getvalue())
    assert count == len(expected) == len(got)
    assert got.keys() == expected.keys()
    assert series == len(lines.getvalue().splitlines())
    keys = list(expected)
    values = np.array([expected[k] for k in keys])
    # The text format prints 10 significant digits; JSON keeps every digit.
    np.testing.assert_allclose(np.array([got[k] for k in keys]), values, rtol=1e-9)
    assert all(re.fullmatch(r"[a-z_]+\{.*\}", k[0]) for k in keys[:10])


def test_empty_statistics_give_insufficient_data(demo: Snapshot) -> None:
    tables = dict(demo.tables)
    tables["usage"] = empty_table("usage")
    tables["container_stats"] = empty_table("container_stats")
    snapshot = Snapshot(manifest=replace(demo.manifest, shape="aggregate"), tables=tables)
    rows = recommend_rightsizing(snapshot, strategy="kianax", default_prices=PRICES)
    assert rows and all(r.status == "insufficient_data" for r in rows)


def test_running_pods_come_from_first_and_last_seen_without_usage(
    demo: Snapshot, aggregate: Snapshot
) -> None:
    # The series snapshot counts running pods from usage samples; the aggregate one has none
    # and must get the same counts from the pods table (the demo's samples are dense).
    from kianax_capacity.recommenders.inventory import (
        WORKLOAD_KEY,
        median_replicas,
        replica_counts,
        running_pods_at,
    )

    counts = replica_counts(demo)
    workloads = counts[WORKLOAD_KEY].drop_duplicates().reset_index(drop=True)
    index = (
        counts[WORKLOAD_KEY]
        .merge(workloads.reset_index(), on=WORKLOAD_KEY, how="left")["index"]
        .to_numpy()
    )
    seconds = pd.DatetimeIndex(counts["timestamp"]).as_unit("s").asi8
    from_pods = running_pods_at(aggregate, workloads, index, seconds)
    assert len(counts) > 1000
    np.testing.assert_array_equal(from_pods, counts["replicas"].to_numpy())
    assert median_replicas(aggregate) == median_replicas(demo)


def test_pending_pods_and_spot_agree_between_the_shapes(
    demo: Snapshot, aggregate: Snapshot
) -> None:
    from kianax_capacity.recommenders.inventory import pending_pods
    from kianax_capacity.recommenders.spot import assess_spot

    series_pending = pending_pods(demo)
    aggregate_pending = pending_pods(aggregate)
    assert len(aggregate_pending) == len(series_pending)
    assert aggregate_pending.reset_index(drop=True).equals(series_pending.reset_index(drop=True))
    series_spot = {(a.namespace, a.workload): a.ready for a in assess_spot(demo)}
    aggregate_spot = {(a.namespace, a.workload): a.ready for a in assess_spot(aggregate)}
    assert aggregate_spot == series_spot
    assert sum(series_spot.values()) >= 5


def test_aggregate_rows_have_no_backtest_and_say_why(aggregate: Snapshot) -> None:
    rows = [r for r in recommend_rightsizing(aggregate, default_prices=PRICES) if r.status == "ok"]
    assert rows
    for row in rows:
        assert row.evidence["backtest"] is None
        assert "aggregate shape" in row.evidence["backtest_note"]
        # Three days of history and no replay: only the history speaks, and it is short.
        assert row.confidence == "low"


class SamplesOnly(RightsizingStrategy):
    """A strategy that sizes from samples only: it keeps the base's compute_from_statistics.
    (Not registered: tests that run every registered strategy would pick it up.)"""

    name = "samples-only"

    def compute(self, data: UsageData) -> pd.DataFrame:
        raise AssertionError("an aggregate snapshot has no samples to compute from")

    def finalize(self, raw: pd.DataFrame, data: UsageData) -> pd.DataFrame:
        return raw


def test_a_strategy_without_a_statistics_path_says_it_needs_samples(aggregate: Snapshot) -> None:
    _, stats, raw, unsupported = aggregate_inputs(
        aggregate, prepare_usage(aggregate), SamplesOnly()
    )
    assert unsupported is not None and unsupported.startswith(
        "The samples-only strategy needs usage samples, and this snapshot has only server-side "
        "statistics"
    )
    assert len(stats) >= 15  # the evidence is there; the numbers are not
    assert raw[["cpu_request", "memory_request"]].isna().all().all()
