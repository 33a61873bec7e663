"""How much to trust one right-sizing row: its confidence, from its backtest and its history.

The rule (also in ``docs/rightsizing.md``):

* **high**: at least 2 weeks replayed, no OOM event, no starved week, CPU above the request in
  at most 5% of the test points (what a p95-based request allows), and at least 14 days of
  history;
* **low**: an OOM event in the replay, starved in more than half of the replayed weeks, or
  less than 7 days of history;
* **medium**: everything else, including every row without a replay (aggregate snapshots,
  histories under two weeks): those have only their history length to go on, so at most
  medium (14 days or more) and low below that; and every flagged leak, whose replay rests on a
  projected growth rate and whose fix is in the code.

Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["HIGH_MAX_OVER_SHARE", "backtest_sentence", "row_confidence"]

#: CPU above the request in at most this share of test points still counts as high confidence.
HIGH_MAX_OVER_SHARE = 0.05
HIGH_MIN_WEEKS = 2
HIGH_MIN_DAYS = 14.0
LOW_BELOW_DAYS = 7.0


def backtest_sentence(backtest: Mapping[str, Any] | None) -> str:
    """'0 OOM, CPU above request 1.2% of the time over 2 weeks replayed' (or "" without one)."""
    if not backtest:
        return ""
    weeks = int(backtest.get("weeks_replayed") or 0)
    share = backtest.get("cpu_over_request_share")
    cpu = f"CPU above request {share * 100:.1f}% of the time" if share is not None else "no CPU"
    starved = int(backtest.get("starved_weeks") or 0)
    starved_text = f", p95 above request in {starved} of them" if starved else ""
    return (
        f"{int(backtest.get('oom_events') or 0)} OOM, {cpu} over {weeks} "
        f"week{'s' if weeks != 1 else ''} replayed{starved_text}"
    )


def row_confidence(
    backtest: Mapping[str, Any] | None, history_days: float, leak: bool
) -> tuple[str, str]:
    """(high | medium | low, the sentence for the row's reason) by the module's rule."""
    if backtest is None:
        level = "medium" if history_days >= HIGH_MIN_DAYS else "low"
        return level, (
            f"Confidence {level}: no replay, so only the {history_days:.0f} days of history "
            "speak for it."
        )
    weeks = int(backtest["weeks_replayed"])
    starved = int(backtest["starved_weeks"])
    oom = int(backtest["oom_events"])
    share = backtest.get("cpu_over_request_share")
    over = float(share) if share is not None else 0.0
    summary = backtest_sentence(backtest)
    if oom > 0 or starved * 2 > weeks or history_days < LOW_BELOW_DAYS:
        level = "low"
    elif (
        weeks >= HIGH_MIN_WEEKS
        and starved == 0
        and over <= HIGH_MAX_OVER_SHARE
        and history_days >= HIGH_MIN_DAYS
    ):
        level = "high"
    else:
        level = "medium"
    if leak and level == "high":
        level = "medium"
        summary += " (a projection of the leak's growth, and the fix is in the code)"
    return level, f"Backtest: {summary}; confidence {level}."
