"""The backtest on every right-sizing row: rolling origins over hand-built series."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kianax_capacity.model import ResourcePrices
from kianax_capacity.recommenders.confidence import backtest_sentence, row_confidence
from kianax_capacity.recommenders.replay import rolling_origins
from kianax_capacity.recommenders.rightsizing import recommend_rightsizing
from tests.unit.rightsizing_helpers import MIB, START, build_snapshot, container_series

PRICES = ResourcePrices(cpu_core_hour_usd=0.04, memory_gib_hour_usd=0.005)
WEEK = 2016  # 5-minute samples in a week


def _three_weeks(cpu_week3: float, memory_week3: float) -> pd.DataFrame:
    cpu = np.r_[np.full(2 * WEEK, 0.1), np.full(WEEK, cpu_week3)]
    memory = np.r_[np.full(2 * WEEK, 100 * MIB), np.full(WEEK, memory_week3)]
    return container_series(cpu, memory)


def _row(snapshot, strategy: str = "krr-simple"):
    rows = recommend_rightsizing(snapshot, strategy=strategy, default_prices=PRICES)
    assert len(rows) == 1
    return rows[0]


def test_rolling_origins_are_weekly_and_each_has_a_week_of_training() -> None:
    step = 300
    first = 1_000_000
    end = first + (3 * WEEK - 1) * step
    origins = rolling_origins(first, end, step)
    assert [o.test_end - o.origin for o in origins] == [7 * 86400, 7 * 86400]
    assert origins[0].origin - origins[0].train_start == 7 * 86400
    assert origins[-1].test_end == end
    # Less than two weeks: nothing to replay.
    assert rolling_origins(first, first + (2 * WEEK - 2) * step, step) == ()


def test_a_known_starved_week_and_a_known_oom_are_counted() -> None:
    # Weeks 1-2 at 100m / 100 MiB, week 3 at 300m / 300 MiB: trained on weeks 1-2, krr-simple
    # asks for 100m and a 115 MiB limit, so week 3 is starved in every point and its one pod
    # goes over the limit; week 2 (trained on week 1) is fine.
    row = _row(build_snapshot(_three_weeks(0.3, 300 * MIB)))
    backtest = row.evidence["backtest"]
    assert backtest["weeks_replayed"] == 2
    assert backtest["points"] == 2 * WEEK
    assert backtest["starved_weeks"] == 1
    assert backtest["cpu_over_request_share"] == pytest.approx(0.5)
    assert backtest["oom_events"] == 1
    assert backtest["oom_kills_observed"] == 0
    # Origins count back whole weeks from the last sample (2026-11-22T23:55, a step's end).
    assert backtest["first_origin"] == "2026-11-08T23:55:00Z"
    assert row.confidence == "low"
    assert "1 OOM, CPU above request 50.0% of the time over 2 weeks replayed" in row.reason


def test_a_steady_container_replays_clean_with_high_confidence() -> None:
    row = _row(build_snapshot(_three_weeks(0.1, 100 * MIB)))
    backtest = row.evidence["backtest"]
    assert (backtest["starved_weeks"], backtest["oom_events"]) == (0, 0)
    assert backtest["cpu_over_request_share"] == 0.0
    # 100m + 115 MiB (krr-simple: peak x 1.15, its 100 MiB minimum below) for one replica.
    expected = 0.1 * 0.04 * 730 + 115 / 1024 * 0.005 * 730
    assert backtest["test_monthly_cost_usd"] == pytest.approx(expected, abs=0.01)
    assert row.confidence == "high"


def test_an_oom_kill_at_the_old_limit_counts_when_the_new_limit_is_not_higher() -> None:
    # The working set is cut off at the limit that killed it, so a peak cannot show the kill:
    # a week-2 kill at 512 MiB is met again by krr-simple's 115 MiB limit.
    kill = START + pd.Timedelta(days=10)
    snapshot = build_snapshot(_three_weeks(0.1, 100 * MIB), oom_kills={"web-1": [kill]})
    backtest = _row(snapshot).evidence["backtest"]
    assert backtest["oom_kills_observed"] == 1
    assert backtest["oom_events"] == 1


def test_less_than_two_weeks_says_why_and_rates_from_history_only() -> None:
    usage = container_series(np.full(WEEK, 0.1), np.full(WEEK, 100 * MIB))
    row = _row(build_snapshot(usage))
    assert row.evidence["backtest"] is None
    assert "less than two weeks" in row.evidence["backtest_note"]
    assert row.confidence == "medium" or row.confidence == "low"
    assert row.confidence == row_confidence(None, row.evidence["days"], False)[0]


def test_confidence_rule() -> None:
    clean = {
        "weeks_replayed": 2,
        "starved_weeks": 0,
        "oom_events": 0,
        "cpu_over_request_share": 0.012,
    }
    assert row_confidence(clean, 21.0, False)[0] == "high"
    assert row_confidence(clean, 21.0, True)[0] == "medium"  # a leak is a projection
    assert row_confidence({**clean, "weeks_replayed": 1}, 21.0, False)[0] == "medium"
    assert row_confidence({**clean, "cpu_over_request_share": 0.06}, 21.0, False)[0] == "medium"
    assert row_confidence({**clean, "oom_events": 1}, 21.0, False)[0] == "low"
    assert row_confidence({**clean, "starved_weeks": 2}, 21.0, False)[0] == "low"
    assert row_confidence(None, 14.0, False)[0] == "medium"
    assert row_confidence(None, 6.0, False)[0] == "low"
    assert (
        backtest_sentence(clean)
        == "0 OOM, CPU above request 1.2% of the time over 2 weeks replayed"
    )


def _leak_snapshot(days: int = 21):
    """A pod leaking 100 MiB a day from 150 MiB, OOM-killed at its 512 MiB limit (and restarted)."""
    n = days * 288
    hours = np.arange(n) / 12.0
    period_hours = (512 - 150) / 100 * 24
    memory = (150 + 100 * (hours % period_hours) / 24) * MIB
    memory = np.minimum(memory, 512 * MIB * 0.999)
    wraps = np.flatnonzero(np.diff(np.floor(hours / period_hours)) > 0) + 1
    kills = [START + pd.Timedelta(minutes=5 * int(i)) for i in wraps]
    usage = container_series(np.full(n, 0.05), memory, pod="leaky-1")
    return build_snapshot(usage, oom_kills={"leaky-1": kills}), len(kills)


def test_a_flagged_leak_is_mitigated_and_its_replay_shows_no_more_kills_than_today() -> None:
    snapshot, kills = _leak_snapshot()
    row = _row(snapshot, "kianax")
    assert row.evidence["leak"] is True
    assert "a bug to fix" in row.reason
    assert "MiB a day" in row.reason
    assert row.recommended.memory_limit > 512 * MIB
    # At the new limit the leak lasts at least the replay week between restarts...
    assert row.evidence["leak_restart_days_recommended"] >= 7
    backtest = row.evidence["backtest"]
    # ... so the replayed weeks (pods restarted by the change at each origin) see no kill,
    # where today's settings saw one every 3.6 days.
    assert 3 <= backtest["oom_kills_observed"] <= kills
    assert backtest["oom_events"] == 0
