"""Hand-computed cases for each right-sizing strategy, and the row-building rules."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from kianax_capacity.config import ExclusionsConfig
from kianax_capacity.errors import UserInputError
from kianax_capacity.model import ResourcePrices
from kianax_capacity.recommenders.rightsizing import (
    available_strategies,
    get_strategy,
    prepare_usage,
    recommend_rightsizing,
    register_strategy,
    requests_by_workload,
)
from kianax_capacity.recommenders.strategies.krr_simple import KrrSimpleStrategy
from kianax_capacity.recommenders.strategies.leaks import theil_sen_slope
from tests.unit.rightsizing_helpers import MIB, START, build_snapshot, container_series

PRICES = ResourcePrices(0.0316, 0.0042)
DAY = 288  # 5-minute samples a day


def rows_for(snapshot, strategy, **kwargs):
    rows = recommend_rightsizing(snapshot, strategy=strategy, default_prices=PRICES, **kwargs)
    return {row.workload: row for row in rows}


def vpa_bucket_end(value: float, first: float) -> float:
    """End of the 5%-growth bucket holding ``value``, worked out from the bucket formula."""
    index = math.floor(math.log(value * 0.05 / first + 1) / math.log(1.05))
    return first * (1.05 ** (index + 1) - 1) / 0.05


def constant_snapshot(days: float = 2, cpu: float = 0.2, memory: float = 100 * MIB):
    n = int(days * DAY)
    return build_snapshot(container_series(np.full(n, cpu), np.full(n, memory)))


# --- registry ---------------------------------------------------------------------------------


def test_registry_lists_the_three_strategies_and_rejects_unknown_names() -> None:
    assert set(available_strategies()) >= {"krr-simple", "vpa", "kianax"}
    assert get_strategy("krr-simple") is KrrSimpleStrategy
    with pytest.raises(
        UserInputError, match=r"unknown right-sizing strategy 'nope'.*kianax, krr-simple, vpa"
    ):
        get_strategy("nope")


def test_registering_a_second_class_under_a_taken_name_fails() -> None:
    with pytest.raises(ValueError, match="registered twice"):

        @register_strategy("krr-simple")
        class Impostor(KrrSimpleStrategy):
            pass


def test_unknown_profile_is_a_user_error() -> None:
    with pytest.raises(UserInputError, match="unknown profile 'staging'"):
        recommend_rightsizing(constant_snapshot(), profile="staging", default_prices=PRICES)


# --- a constant series ------------------------------------------------------------------------


def test_constant_series_krr_simple() -> None:
    row = rows_for(constant_snapshot(), "krr-simple")["web"]
    assert row.status == "ok"
    assert row.recommended.cpu_request == pytest.approx(0.2)
    assert row.recommended.cpu_limit is None
    assert row.recommended.memory_request == 115 * MIB  # 100 MiB x 1.15
    assert row.recommended.memory_limit == 115 * MIB


def test_constant_series_vpa_applies_buckets_margin_confidence_and_pod_minimum() -> None:
    row = rows_for(constant_snapshot(), "vpa")["web"]
    days = (2 * DAY - 1) * 300 / 86400  # lifespan is shorter than samples x step by one step
    confidence = 1 + 1 / days
    expected_cpu = vpa_bucket_end(0.2, 0.01) * 1.15 * confidence
    assert row.recommended.cpu_request == pytest.approx(math.ceil(expected_cpu * 1000) / 1000)
    # The memory target (~190 MB) is under the 250 MiB pod minimum of a one-container pod.
    assert vpa_bucket_end(100 * MIB, 1e7) * 1.15 * confidence < 250 * MIB
    assert row.recommended.memory_request == 250 * MIB
    # Limits keep the 2:1 limit/request ratio of the current spec.
    assert row.recommended.memory_limit == 500 * MIB


def test_constant_series_kianax() -> None:
    row = rows_for(constant_snapshot(), "kianax")["web"]
    assert row.recommended.cpu_request == pytest.approx(0.2)
    assert row.recommended.cpu_limit is None
    assert row.recommended.memory_request == 112 * MIB  # 110 MiB rounded up to 4 MiB steps
    assert row.recommended.memory_limit == 164 * MIB  # max(peak x 1.2, peak + 64 MiB)
    assert row.risk == "medium"  # two days of history is less than a week
    current_cost = (0.25 * 0.0316 + 0.25 * 0.0042) * 730
    new_cost = (0.2 * 0.0316 + 112 / 1024 * 0.0042) * 730
    assert row.monthly_savings_usd == pytest.approx(current_cost - new_cost, abs=0.01)
    assert row.evidence["samples"] == 2 * DAY
    assert "saves $" in row.reason


def test_development_profile_sets_a_cpu_limit_and_high_availability_guaranteed_memory() -> None:
    dev = rows_for(constant_snapshot(), "kianax", profile="development")["web"]
    assert dev.recommended.cpu_limit == pytest.approx(0.6)  # 3 x 200m
    ha = rows_for(constant_snapshot(), "kianax", profile="high-availability")["web"]
    assert (
        ha.recommended.memory_request == ha.recommended.memory_limit == 132 * MIB
    )  # 100 x 1.3 -> 4 MiB steps
    assert ha.recommended.cpu_request == pytest.approx(0.25)  # p99 0.2 at 80%


# --- a step change ----------------------------------------------------------------------------


def test_step_down_vpa_follows_the_recent_level_while_percentiles_remember_the_old_one() -> None:
    cpu = np.r_[np.full(7 * DAY, 0.3), np.full(7 * DAY, 0.1)]
    snapshot = build_snapshot(container_series(cpu, np.full(14 * DAY, 100 * MIB)))
    krr = rows_for(snapshot, "krr-simple")["web"]
    vpa = rows_for(snapshot, "vpa")["web"]
    kianax = rows_for(snapshot, "kianax")["web"]
    assert krr.recommended.cpu_request == pytest.approx(0.3)
    assert kianax.recommended.cpu_request == pytest.approx(0.3)
    days = (14 * DAY - 1) * 300 / 86400
    # Week-old samples weigh 2**-7 of today's: p90 of the decayed histogram is the 0.1 bucket.
    expected = vpa_bucket_end(0.1, 0.01) * 1.15 * (1 + 1 / days)
    assert vpa.recommended.cpu_request == pytest.approx(math.ceil(expected * 1000) / 1000)


# --- a single spike ---------------------------------------------------------------------------


def test_single_spike_is_ignored_by_cpu_percentiles_but_sets_memory_limits() -> None:
    n = 2 * DAY
    cpu = np.full(n, 0.1)
    cpu[100] = 2.0
    memory = np.full(n, 100.0 * MIB)
    memory[200] = 1024.0 * MIB
    snapshot = build_snapshot(
        container_series(cpu, memory), requests={"web-1": (0.25, 0.5, 256 * MIB, 2048 * MIB)}
    )
    krr = rows_for(snapshot, "krr-simple")["web"]
    kianax = rows_for(snapshot, "kianax")["web"]
    assert krr.recommended.cpu_request == pytest.approx(0.1)
    assert kianax.recommended.cpu_request == pytest.approx(0.1)
    assert krr.recommended.memory_request == math.ceil(1024 * 1.15) * MIB
    # kianax: the request comes from p99 (the spike is 1 sample in 576), the limit from the peak.
    assert kianax.recommended.memory_request == 112 * MIB
    assert kianax.recommended.memory_limit == 1280 * MIB  # 1228.8 MiB up to a 64 MiB step


# --- a leak -----------------------------------------------------------------------------------


def leak_snapshot():
    n = 12 * DAY
    t = np.arange(n)
    # +50 MiB a day from 200 MiB, restarted (OOM-killed at the 512 MiB limit region) every 4 days.
    memory = 200 * MIB + (t % (4 * DAY)) * (50 * MIB / DAY)
    kills = [START + pd.Timedelta(days=d) for d in (4, 8)]
    usage = pd.concat(
        [
            container_series(np.full(n, 0.05), memory, pod="leaky-1"),
            container_series(np.full(n, 0.05), np.full(n, 300 * MIB), pod="flat-1"),
        ]
    )
    return build_snapshot(
        usage,
        workloads={"leaky-1": ("Deployment", "leaky"), "flat-1": ("Deployment", "flat")},
        oom_kills={"leaky-1": kills},
    )


def test_kianax_flags_a_leak_and_mitigates_it() -> None:
    rows = rows_for(leak_snapshot(), "kianax")
    leaky, flat = rows["leaky"], rows["flat"]
    assert leaky.evidence["leak"] is True
    assert leaky.evidence["leak_slope_bytes_per_day"] == pytest.approx(50 * MIB, rel=0.01)
    # It restarts at ~200 MiB (the first hour's peak of each segment: a little above).
    assert leaky.evidence["leak_baseline_bytes"] == pytest.approx(200 * MIB, rel=0.02)
    assert leaky.risk == "high"
    assert "memory leak, a bug to fix" in leaky.reason
    # A week of growth from the restart level plus the 20% limit margin, (200 + 7 x 50) x 1.2 =
    # 660 MiB, up to the next 16 MiB step: 672 MiB, above today's 512 MiB.
    assert leaky.recommended.memory_limit == 672 * MIB
    today = leaky.evidence["leak_restart_days_today"]
    after = leaky.evidence["leak_restart_days_recommended"]
    assert today == pytest.approx((512 - 200) / 50, rel=0.02)
    assert after == pytest.approx((672 - 200) / 50, rel=0.02)
    assert f"about {after:.1f} days between OOM restarts (today about {today:.1f} days)" in (
        leaky.reason
    )
    # The request: the average of a restart cycle at the new limit, (200 + 672) / 2, rounded up.
    assert leaky.recommended.memory_request == 448 * MIB
    assert "leak" not in flat.evidence
    assert flat.evidence["leak_slope_bytes_per_day"] == 0


def test_krr_simple_feeds_a_leak() -> None:
    leaky = rows_for(leak_snapshot(), "krr-simple")["leaky"]
    peak = 200 * MIB + (4 * DAY - 1) * (50 * MIB / DAY)
    assert leaky.recommended.memory_limit == math.ceil(peak * 1.15 / MIB) * MIB


def test_theil_sen_slope_ignores_an_outlier() -> None:
    x = np.arange(10.0)
    y = 2.0 * x + 1.0
    y[3] = 100.0
    assert theil_sen_slope(x, y) == pytest.approx(2.0)


# --- OOM kills, throttling, batch ------------------------------------------------------------


def test_oom_killed_container_gets_bumped_memory() -> None:
    n = 3 * DAY
    snapshot = build_snapshot(
        container_series(np.full(n, 0.1), np.full(n, 500.0 * MIB)),
        oom_kills={"web-1": [START + pd.Timedelta(days=1)]},
    )
    kianax = rows_for(snapshot, "kianax")["web"]
    # max(512 MiB x 1.2, 512 MiB + 100 MiB) = 614.4 MiB, up to a 16 MiB step.
    assert kianax.recommended.memory_limit == 624 * MIB
    assert kianax.recommended.memory_request >= 500 * MIB
    assert kianax.risk == "high"
    vpa = rows_for(snapshot, "vpa")["web"]
    assert vpa.evidence["oom_samples"] == 1
    assert vpa.recommended.memory_request > 614 * MIB


def test_kianax_recommends_above_observed_usage_when_throttled() -> None:
    n = 2 * DAY
    snapshot = build_snapshot(
        container_series(np.full(n, 0.5), np.full(n, 100 * MIB), throttled=np.full(n, 0.5))
    )
    kianax = rows_for(snapshot, "kianax")["web"]
    krr = rows_for(snapshot, "krr-simple")["web"]
    assert krr.recommended.cpu_request == pytest.approx(0.5)
    assert kianax.recommended.cpu_request == pytest.approx(0.75)  # 0.5 x (1 + 0.5)
    assert "throttled" in kianax.reason
    assert "CPU-throttled in 100% of samples" in kianax.reason
    assert kianax.evidence["throttled_sample_share"] == 1


def test_cronjob_containers_are_sized_from_p99_cpu_and_peak_memory() -> None:
    # A job running 1 hour a day for 5 days.
    frames = []
    for day in range(5):
        cpu = np.linspace(0.1, 1.0, 12)
        memory = np.linspace(100, 400, 12) * MIB
        frames.append(
            container_series(cpu, memory, pod=f"report-{day}", start=START + pd.Timedelta(days=day))
        )
    workloads = {f"report-{d}": ("CronJob", "report") for d in range(5)}
    snapshot = build_snapshot(pd.concat(frames), workloads=workloads)
    row = rows_for(snapshot, "kianax")["report"]
    assert row.status == "ok"
    expected_cpu = float(np.quantile(np.tile(np.linspace(0.1, 1.0, 12), 5), 0.99))
    assert row.recommended.cpu_request == pytest.approx(
        math.ceil(round(expected_cpu / 0.01, 9)) * 0.01
    )
    assert (
        row.recommended.memory_request == row.recommended.memory_limit == 464 * MIB
    )  # 460 -> 16 MiB steps
    assert row.replicas == pytest.approx(60 / (4 * DAY + 12), abs=1e-3)


# --- statuses ---------------------------------------------------------------------------------


def test_too_short_history_is_insufficient_data_with_a_reason() -> None:
    row = rows_for(constant_snapshot(days=0.5), "kianax")["web"]
    assert row.status == "insufficient_data"
    assert "11.9 hours of history" in row.reason
    assert row.recommended.cpu_request is None and row.monthly_savings_usd is None


def test_nan_only_memory_is_insufficient_data() -> None:
    snapshot = build_snapshot(container_series(np.full(DAY * 2, 0.1), np.full(DAY * 2, np.nan)))
    for strategy in available_strategies():
        row = rows_for(snapshot, strategy)["web"]
        assert row.status == "insufficient_data"
        assert "0 memory samples" in row.reason
        assert row.recommended.memory_request is None


def test_exclusions_and_no_change() -> None:
    snapshot = constant_snapshot()
    excluded = rows_for(snapshot, "kianax", exclusions=ExclusionsConfig(workloads=("kianax/web",)))[
        "web"
    ]
    assert excluded.status == "excluded" and "excluded in the configuration" in excluded.reason
    same = build_snapshot(
        container_series(np.full(2 * DAY, 0.2), np.full(2 * DAY, 100 * MIB)),
        requests={"web-1": (0.2, np.nan, 112 * MIB, 120 * MIB)},
    )
    assert rows_for(same, "kianax")["web"].status == "no_change"


def test_hpa_on_cpu_is_mentioned_and_requests_by_workload_sums_containers() -> None:
    usage = pd.concat(
        [
            container_series(np.full(2 * DAY, 0.2), np.full(2 * DAY, 100 * MIB), container="app"),
            container_series(np.full(2 * DAY, 0.05), np.full(2 * DAY, 50 * MIB), container="envoy"),
        ]
    )
    hpas = pd.DataFrame(
        {
            "namespace": ["kianax"],
            "hpa": ["web"],
            "kind": ["Deployment"],
            "workload": ["web"],
            "min_replicas": [2],
            "max_replicas": [10],
            "target_cpu_utilization": [70.0],
            "target_memory_utilization": [np.nan],
            "scale_down_stabilization_seconds": [300.0],
        }
    )
    rows = recommend_rightsizing(build_snapshot(usage, hpas=hpas), default_prices=PRICES)
    assert all("HPA web scales this workload on CPU at 70%" in row.reason for row in rows)
    assert all("`hpa` section" in row.reason for row in rows)
    cpu, memory = requests_by_workload(rows)[("kianax", "Deployment", "web")]
    assert cpu == pytest.approx(0.25)  # 200m + 50m
    assert memory == (112 + 56) * MIB  # 110 -> 112 and 55 -> 56 MiB


def test_prepare_usage_counts_oom_kills_and_containers_per_pod() -> None:
    data = prepare_usage(leak_snapshot())
    assert data.inventory.loc[("kianax", "Deployment", "leaky", "app"), "oom_kills"] == 2
    assert data.inventory.loc[("kianax", "Deployment", "leaky", "app"), "containers_in_pod"] == 1
    assert len(data.oom_events) == 2


def test_unit_prices_by_node_group_are_used() -> None:
    snapshot = build_snapshot(
        container_series(np.full(2 * DAY, 0.2), np.full(2 * DAY, 100 * MIB)), node_group="jobs-ng"
    )
    cheap = ResourcePrices(0.01, 0.001)
    row = recommend_rightsizing(snapshot, unit_prices={"jobs-ng": cheap}, default_prices=PRICES)[0]
    expected = ((0.25 - 0.2) * 0.01 + (256 - 112) / 1024 * 0.001) * 730
    assert row.monthly_savings_usd == pytest.approx(expected, abs=0.01)


def test_rows_serialise_to_a_valid_recommendations_file() -> None:
    from datetime import UTC, datetime

    from kianax_capacity.recommendations import RecommendationSet, validate_recommendations_json

    snapshot = leak_snapshot()
    for strategy in available_strategies():
        rows = recommend_rightsizing(snapshot, strategy=strategy, default_prices=PRICES)
        moment = datetime(2026, 11, 23, tzinfo=UTC)
        document = RecommendationSet(
            cluster="test",
            generated_at=moment,
            window_start=moment,
            window_end=moment,
            step_seconds=300,
            strategy=strategy,
            rightsizing=rows,
        ).to_json()
        validate_recommendations_json(document)
        assert len(document["rightsizing"]) == 2
