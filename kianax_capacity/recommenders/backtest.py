"""Backtest right-sizing strategies: recommend from a train window, score on the next window.

Usable from a notebook::

    result = run_backtest(snapshot, default_prices=ResourcePrices(0.0316, 0.0042))
    result.table          # one row per strategy (and the current settings)
    result.containers     # per strategy and container: what was recommended, what happened
    print(result.to_markdown())

Scores, per strategy, on the test window (what would have happened had the recommendation been
applied at the end of the train window):

* ``monthly_cost_usd``: requests priced per node group x average replicas in the test window x 730 h;
* ``monthly_savings_usd``: the current settings' cost minus the strategy's;
* ``cpu_under_request_rate``: the share of all (container, pod, 5-minute) points whose CPU usage
  exceeds the CPU request, pooled across containers;
* ``cpu_starved_containers``: containers whose test-window p95 CPU exceeds the request;
* ``memory_oom_risk_containers``: containers whose test-window peak working set exceeds the
  memory limit (the request when no limit is set): they would have been OOM-killed or evicted;
  also containers OOM-killed in the test window at a limit the new one does not exceed (the
  measured working set is cut off at the limit that killed it, so its peak cannot show the
  kill), and flagged leaks whose raised limit their growth rate still reaches within the
  test window (applying the change restarts the pods; see ``recommenders/replay.py``);
* ``cpu_under_request_rate_censoring_aware``: as ``cpu_under_request_rate``, but a point where the
  container was CPU-throttled (throttled-period ratio above 0.1) also counts when the request is
  at or below the current CPU limit: throttling means the demand exceeded that limit, and the
  measured rate is censored at it, so the plain rate cannot see those shortfalls;
* ``monthly_cost_throttled_usd``: the part of the cost spent on containers throttled in more
  than 5% of their test points (their demand is censored, so the backtest cannot say whether a
  larger request was needed there);
* ``memory_oom_risk_unflagged``: the same, not counting containers the strategy flagged as leaking.

A container without a usable recommendation (insufficient data, excluded, or no_change) is scored
with its current settings, which is what would have stayed in place.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from kianax_capacity.config import ExclusionsConfig, WorkloadGuardrails
from kianax_capacity.errors import UserInputError
from kianax_capacity.model import ResourcePrices
from kianax_capacity.recommendations import RightsizingRow
from kianax_capacity.recommenders.inventory import (
    CONTAINER_KEY,
    container_inventory,
    usage_with_owners,
    workload_node_groups,
)
from kianax_capacity.recommenders.rightsizing import recommend_rightsizing
from kianax_capacity.snapshot import Snapshot, SnapshotManifest
from kianax_capacity.units import GIB, HOURS_PER_MONTH

__all__ = [
    "BacktestResult",
    "RollingBacktest",
    "StrategyScore",
    "run_backtest",
    "run_rolling_backtest",
    "score_requests",
    "split_snapshot",
]

CURRENT = "current"
#: A test point throttled more than this was demanding more than its CPU limit.
THROTTLED_RATIO = 0.1
#: A container throttled in more than this share of its test points has censored CPU usage.
THROTTLED_CONTAINER_SHARE = 0.05
_SPEC = ["cpu_request_cores", "cpu_limit_cores", "memory_request_bytes", "memory_limit_bytes"]


@dataclass(frozen=True)
class StrategyScore:
    """How one set of requests/limits would have fared on the test window."""

    strategy: str
    monthly_cost_usd: float
    monthly_savings_usd: float
    cpu_under_request_rate: float
    cpu_under_request_rate_censoring_aware: float
    cpu_starved_containers: int
    memory_oom_risk_containers: int
    memory_oom_risk_unflagged: int
    monthly_cost_throttled_usd: float
    containers: int
    recommended_containers: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "monthly_cost_usd": round(self.monthly_cost_usd, 2),
            "monthly_savings_usd": round(self.monthly_savings_usd, 2),
            "cpu_under_request_rate": round(self.cpu_under_request_rate, 5),
            "cpu_under_request_rate_censoring_aware": round(
                self.cpu_under_request_rate_censoring_aware, 5
            ),
            "cpu_starved_containers": self.cpu_starved_containers,
            "memory_oom_risk_containers": self.memory_oom_risk_containers,
            "memory_oom_risk_unflagged": self.memory_oom_risk_unflagged,
            "monthly_cost_throttled_usd": round(self.monthly_cost_throttled_usd, 2),
            "containers": self.containers,
            "recommended_containers": self.recommended_containers,
        }


@dataclass(frozen=True)
class BacktestResult:
    """Scores per strategy, the per-container detail, and the containers flagged as leaking."""

    train_window: tuple[datetime, datetime]
    test_window: tuple[datetime, datetime]
    profile: str
    scores: tuple[StrategyScore, ...]
    containers: pd.DataFrame = field(repr=False)
    leaks: pd.DataFrame = field(repr=False)

    @property
    def table(self) -> pd.DataFrame:
        """One row per strategy (``current`` first): the scores as columns."""
        return pd.DataFrame([score.to_dict() for score in self.scores]).set_index("strategy")

    def score(self, strategy: str) -> StrategyScore:
        for score in self.scores:
            if score.strategy == strategy:
                return score
        raise KeyError(strategy)

    def to_json(self) -> dict[str, Any]:
        return {
            "train_window": {
                "start": _iso(self.train_window[0]),
                "end": _iso(self.train_window[1]),
            },
            "test_window": {"start": _iso(self.test_window[0]), "end": _iso(self.test_window[1])},
            "profile": self.profile,
            "scores": [score.to_dict() for score in self.scores],
            "leaks": [
                {
                    k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                    for k, v in record.items()
                }
                for record in self.leaks.to_dict("records")
            ],
        }

    def to_markdown(self) -> str:
        """The score table (and the flagged leaks) as Markdown."""
        headers = [
            "strategy",
            "cost $/month",
            "savings $/month",
            "CPU under-request rate",
            "... counting throttled points",
            "CPU-starved containers",
            "OOM-risk containers",
            "OOM-risk (not flagged as leak)",
            "cost of throttled containers",
        ]
        lines = [
            "| " + " | ".join(headers) + " |",
            "|" + "|".join(["---"] + ["---:"] * (len(headers) - 1)) + "|",
        ]
        for score in self.scores:
            lines.append(
                f"| {score.strategy} | {score.monthly_cost_usd:,.2f} | {score.monthly_savings_usd:,.2f} | "
                f"{score.cpu_under_request_rate * 100:.2f}% | "
                f"{score.cpu_under_request_rate_censoring_aware * 100:.2f}% | {score.cpu_starved_containers} | "
                f"{score.memory_oom_risk_containers} | {score.memory_oom_risk_unflagged} | "
                f"{score.monthly_cost_throttled_usd:,.2f} |"
            )
        text = (
            f"Train {_iso(self.train_window[0])} .. {_iso(self.train_window[1])}, test "
            f"{_iso(self.test_window[0])} .. {_iso(self.test_window[1])}, profile {self.profile}.\n\n"
            + "\n".join(lines)
            + "\n"
        )
        if not self.leaks.empty:
            text += (
                "\nFlagged as leaking (a bug to fix; its limit is raised only to space out its "
                "OOM restarts until then):\n\n"
            )
            for record in self.leaks.to_dict("records"):
                slope = record["leak_slope_mib_per_day"]
                text += (
                    f"- {record['strategy']}: {record['namespace']}/{record['workload']}/{record['container']}"
                    f" grows ~{slope:.1f} MiB/day; OOM risk in the test window: {record['oom_risk']}\n"
                )
        return text


def split_snapshot(snapshot: Snapshot, start: pd.Timestamp, end: pd.Timestamp) -> Snapshot:
    """The snapshot as it would have looked over ``[start, end)``.

    Usage and terminations are cut to the window; pods are those seen in it; the containers'
    OOM-kill counters are recounted from the window's terminations (the snapshot's counters run
    to its end and would leak the future into a backtest).
    """
    tables = dict(snapshot.tables)
    usage = snapshot.table("usage")
    tables["usage"] = usage[(usage["timestamp"] >= start) & (usage["timestamp"] < end)]
    terminations = snapshot.table("terminations")
    tables["terminations"] = terminations[
        (terminations["timestamp"] >= start) & (terminations["timestamp"] < end)
    ]
    pods = snapshot.table("pods")
    pods = pods[(pods["first_seen"] < end) & (pods["last_seen"] >= start)].copy()
    pods["last_seen"] = pods["last_seen"].where(pods["last_seen"] < end, end)
    tables["pods"] = pods
    containers = snapshot.table("containers").merge(
        pods[["namespace", "pod"]], on=["namespace", "pod"], how="inner"
    )
    if not terminations.empty:
        window_kills = tables["terminations"]
        kills = (
            window_kills[window_kills["reason"] == "OOMKilled"]
            .groupby(["namespace", "pod", "container"], observed=True)
            .size()
        )
        index = pd.MultiIndex.from_frame(containers[["namespace", "pod", "container"]])
        containers["oom_kills"] = kills.reindex(index).fillna(0).astype("int64").to_numpy()
    tables["containers"] = containers
    if "replicas" in tables:
        replicas = tables["replicas"]
        tables["replicas"] = replicas[
            (replicas["timestamp"] >= start) & (replicas["timestamp"] < end)
        ]
    manifest = SnapshotManifest(
        cluster=snapshot.manifest.cluster,
        window_start=start.to_pydatetime(),
        window_end=end.to_pydatetime(),
        step_seconds=snapshot.step_seconds,
        source=snapshot.manifest.source,
        created_at=snapshot.manifest.created_at,
        tables={name: len(frame) for name, frame in tables.items()},
    )
    return Snapshot(manifest=manifest, tables=tables)


def score_requests(
    test_usage: pd.DataFrame,
    settings: pd.DataFrame,
    prices: pd.DataFrame,
    *,
    leaking: pd.Series | None = None,
    current_cpu_limits: pd.Series | None = None,
    oom_kills: pd.Series | None = None,
    current_memory_limits: pd.Series | None = None,
    leak_growth: pd.DataFrame | None = None,
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Score one set of requests/limits against the test usage.

    Args:
        test_usage: usage with owners (CONTAINER_KEY, pod, timestamp, cpu_cores, memory_bytes).
        settings: indexed by CONTAINER_KEY: cpu_request_cores, cpu_limit_cores,
            memory_request_bytes, memory_limit_bytes (NaN = unset).
        prices: indexed by CONTAINER_KEY: USD per month for one core and for one byte
            (columns ``cpu_usd`` and ``byte_usd``) - see :func:`run_backtest`.
        leaking: indexed by CONTAINER_KEY, True for containers flagged as leaking.
        current_cpu_limits: indexed by CONTAINER_KEY, the CPU limits in force during the test
            window (for the censoring-aware rate); default: ``settings``' own limits.
        oom_kills: indexed by CONTAINER_KEY, OOM kills observed in the test window.
        current_memory_limits: indexed by CONTAINER_KEY, the memory limits in force during the
            test window; default: ``settings``' own limits.
        leak_growth: indexed by CONTAINER_KEY for flagged leaks: ``slope_bytes_per_day`` and
            ``baseline_bytes`` (the working set after a restart).

    Returns:
        (the totals, the per-container detail).
    """
    grouped = test_usage.groupby(CONTAINER_KEY, observed=True)
    timestamps = max(int(test_usage["timestamp"].nunique()), 1)
    detail = pd.DataFrame(
        {
            "replicas": grouped.size() / timestamps,
            "cpu_p95_cores": grouped["cpu_cores"].quantile(0.95),
            "memory_peak_bytes": grouped["memory_bytes"].max(),
        }
    )
    index = detail.index
    spec = settings.reindex(index)
    detail = detail.join(spec[_SPEC])
    cpu_request = spec["cpu_request_cores"]
    limits = (
        current_cpu_limits if current_cpu_limits is not None else spec["cpu_limit_cores"]
    ).reindex(index)
    points = test_usage[[*CONTAINER_KEY, "cpu_cores", "cpu_throttled_ratio"]].join(
        pd.DataFrame({"request": cpu_request, "old_limit": limits}), on=CONTAINER_KEY
    )
    scored = points.dropna(subset=["cpu_cores", "request"])
    over = scored["cpu_cores"] > scored["request"]
    censored = (scored["cpu_throttled_ratio"].fillna(0) > THROTTLED_RATIO) & (
        scored["request"] <= scored["old_limit"]
    )
    under = over.mean() if len(scored) else float("nan")
    under_censored = (over | censored).mean() if len(scored) else float("nan")
    detail["cpu_starved"] = detail["cpu_p95_cores"] > cpu_request
    memory_cap = spec["memory_limit_bytes"].fillna(spec["memory_request_bytes"])
    flagged = (
        (leaking.reindex(index).fillna(False).astype(bool))
        if leaking is not None
        else pd.Series(False, index=index)
    )
    new_limit = spec["memory_limit_bytes"]
    old_limit = (current_memory_limits if current_memory_limits is not None else new_limit).reindex(
        index
    )
    killed = (
        oom_kills.reindex(index).fillna(0) > 0
        if oom_kills is not None
        else pd.Series(False, index=index)
    )
    raised = new_limit > old_limit
    raised_leak = flagged & raised
    # A kill at the old limit is met again by a limit that is not higher (NaN: unset counts).
    censored = killed & ~raised & ~raised_leak
    projected = pd.Series(False, index=index)
    if leak_growth is not None and not leak_growth.empty:
        growth = leak_growth.reindex(index)
        days = grouped["timestamp"].agg(lambda t: (t.max() - t.min()) / pd.Timedelta(days=1))
        room = new_limit - growth["baseline_bytes"]
        projected = (growth["slope_bytes_per_day"] * days >= room) & growth[
            "slope_bytes_per_day"
        ].gt(0)
    detail["oom_risk"] = (
        (detail["memory_peak_bytes"] > memory_cap) | censored | (raised_leak & projected)
    )
    detail["leak_flagged"] = flagged
    unit = prices.reindex(index)
    monthly = (
        cpu_request.fillna(0) * unit["cpu_usd"]
        + spec["memory_request_bytes"].fillna(0) * unit["byte_usd"]
    ) * detail["replicas"]
    detail["monthly_cost_usd"] = monthly
    throttled_points = points["cpu_throttled_ratio"].fillna(0) > THROTTLED_RATIO
    detail["throttled_share"] = (
        throttled_points.groupby([points[c] for c in CONTAINER_KEY], observed=True)
        .mean()
        .reindex(index)
    )
    throttled = detail["throttled_share"] > THROTTLED_CONTAINER_SHARE
    totals = {
        "monthly_cost_usd": float(monthly.sum()),
        "cpu_under_request_rate": float(under),
        "cpu_under_request_rate_censoring_aware": float(under_censored),
        "cpu_starved_containers": int(detail["cpu_starved"].sum()),
        "memory_oom_risk_containers": int(detail["oom_risk"].sum()),
        "memory_oom_risk_unflagged": int((detail["oom_risk"] & ~flagged).sum()),
        "monthly_cost_throttled_usd": float(monthly[throttled].sum()),
        "containers": len(detail),
    }
    return totals, detail


def run_backtest(
    snapshot: Snapshot,
    *,
    train_days: float = 14,
    test_days: float = 7,
    end: pd.Timestamp | None = None,
    strategies: Sequence[str] = ("krr-simple", "vpa", "kianax"),
    profile: str = "production",
    unit_prices: Mapping[str, ResourcePrices] | None = None,
    default_prices: ResourcePrices,
    exclusions: ExclusionsConfig | None = None,
    guardrails: Mapping[str, WorkloadGuardrails] | None = None,
) -> BacktestResult:
    """Recommend from the first ``train_days`` and score on the last ``test_days`` of the window.

    The test window ends at ``end`` (default: the snapshot's end); the train window is the
    ``train_days`` before it.

    Raises:
        UserInputError: the snapshot is shorter than ``train_days + test_days``, or a strategy
            or profile is unknown.
    """
    if train_days <= 0 or test_days <= 0:
        bad = "train_days" if train_days <= 0 else "test_days"
        raise UserInputError("must be a positive number of days", parameter=bad)
    end = pd.Timestamp(snapshot.manifest.window_end) if end is None else pd.Timestamp(end)
    usage = snapshot.table("usage")
    if usage.empty:
        raise UserInputError(
            "the snapshot has no usage samples; fetch a window with usage to backtest"
        )
    test_start = end - pd.Timedelta(days=test_days)
    train_start = test_start - pd.Timedelta(days=train_days)
    first = pd.Timestamp(usage["timestamp"].min())
    slack = pd.Timedelta(seconds=snapshot.step_seconds)
    if first > train_start + slack:
        covered = (end - first) / pd.Timedelta(days=1)
        raise UserInputError(
            f"the snapshot covers {covered:.1f} days but `train_days` {train_days:g} + "
            f"`test_days` {test_days:g} need {train_days + test_days:g}; fetch a longer window or shorten them"
        )
    train = split_snapshot(snapshot, train_start, test_start)
    test = split_snapshot(snapshot, test_start, end + slack)
    test_usage = usage_with_owners(test)
    current = container_inventory(train).set_index(CONTAINER_KEY)[_SPEC]
    prices = _unit_prices(snapshot, unit_prices or {}, default_prices)

    kills = _test_kills(test)
    current_totals, current_detail = score_requests(test_usage, current, prices, oom_kills=kills)
    scores = [
        StrategyScore(
            strategy=CURRENT,
            monthly_savings_usd=0.0,
            recommended_containers=0,
            **current_totals,
        )
    ]
    details = [current_detail.assign(strategy=CURRENT)]
    leak_records: list[dict[str, Any]] = []
    for name in strategies:
        rows = recommend_rightsizing(
            train,
            strategy=name,
            profile=profile,
            unit_prices=unit_prices,
            default_prices=default_prices,
            exclusions=exclusions,
            row_backtest=False,
            guardrails=guardrails,
        )
        settings, leaking, slopes = _applied_settings(rows, current)
        totals, detail = score_requests(
            test_usage,
            settings,
            prices,
            leaking=leaking,
            current_cpu_limits=current["cpu_limit_cores"],
            oom_kills=kills,
            current_memory_limits=current["memory_limit_bytes"],
            leak_growth=_leak_growth(rows),
        )
        scores.append(
            StrategyScore(
                strategy=name,
                monthly_savings_usd=current_totals["monthly_cost_usd"] - totals["monthly_cost_usd"],
                recommended_containers=sum(1 for row in rows if row.status == "ok"),
                **totals,
            )
        )
        details.append(detail.assign(strategy=name))
        for key in leaking[leaking].index:
            oom = detail["oom_risk"].get(key, False)
            leak_records.append(
                {
                    "strategy": name,
                    **dict(zip(CONTAINER_KEY, key, strict=True)),
                    "leak_slope_mib_per_day": round(
                        float(slopes.get(key, float("nan"))) / 2**20, 2
                    ),
                    "oom_risk": bool(oom),
                }
            )
    start_time, end_time = train_start.to_pydatetime(), test_start.to_pydatetime()
    return BacktestResult(
        train_window=(start_time, end_time),
        test_window=(end_time, end.to_pydatetime()),
        profile=profile,
        scores=tuple(scores),
        containers=pd.concat(details).reset_index(),
        leaks=pd.DataFrame(
            leak_records, columns=["strategy", *CONTAINER_KEY, "leak_slope_mib_per_day", "oom_risk"]
        ),
    )


#: The scores whose spread across origins the rolling backtest reports.
SPREAD_SCORES = (
    "monthly_cost_usd",
    "cpu_under_request_rate",
    "cpu_starved_containers",
    "memory_oom_risk_containers",
)


@dataclass(frozen=True)
class RollingBacktest:
    """One :class:`BacktestResult` per weekly origin (train on all weeks before, test the next)."""

    results: tuple[BacktestResult, ...]

    @property
    def table(self) -> pd.DataFrame:
        """Per strategy and origin (its test-window start): every score."""
        frames = [
            result.table.assign(origin=_iso(result.test_window[0])).reset_index()
            for result in self.results
        ]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    @property
    def spread(self) -> pd.DataFrame:
        """Per strategy: min, median and max of each score across origins."""
        table = self.table
        if table.empty:
            return table
        grouped = table.groupby("strategy", sort=False)[list(SPREAD_SCORES)]
        out = grouped.agg(["min", "median", "max"])
        out.insert(0, ("origins", ""), grouped.size())
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "origins": [result.to_json() for result in self.results],
            "spread": {
                strategy: {
                    score: {stat: _plain(row[(score, stat)]) for stat in ("min", "median", "max")}
                    for score in SPREAD_SCORES
                }
                | {"origins": int(row[("origins", "")])}
                for strategy, row in self.spread.iterrows()
            },
        }

    def to_markdown(self) -> str:
        """The spread table, then one line per origin and strategy."""
        headers = [
            "strategy",
            "origins",
            "cost $/month (min / median / max)",
            "CPU under-request rate",
            "CPU-starved containers",
            "OOM-risk containers",
        ]
        lines = [
            "| " + " | ".join(headers) + " |",
            "|" + "|".join(["---"] + ["---:"] * (len(headers) - 1)) + "|",
        ]
        formats = {
            "monthly_cost_usd": "{:,.2f}",
            "cpu_under_request_rate": "{:.2%}",
            "cpu_starved_containers": "{:g}",
            "memory_oom_risk_containers": "{:g}",
        }
        for strategy, row in self.spread.iterrows():
            cells = [str(strategy), str(int(row[("origins", "")]))]
            for score in SPREAD_SCORES:
                fmt = formats[score]
                cells.append(
                    " / ".join(fmt.format(row[(score, stat)]) for stat in ("min", "median", "max"))
                )
            lines.append("| " + " | ".join(cells) + " |")
        origins = ", ".join(
            f"test {_iso(r.test_window[0])[:10]} after {(r.train_window[1] - r.train_window[0]).days} "
            "days of training"
            for r in self.results
        )
        return f"Rolling origins ({len(self.results)}): {origins}.\n\n" + "\n".join(lines) + "\n"


def run_rolling_backtest(
    snapshot: Snapshot,
    *,
    test_days: float = 7,
    strategies: Sequence[str] = ("krr-simple", "vpa", "kianax"),
    profile: str = "production",
    unit_prices: Mapping[str, ResourcePrices] | None = None,
    default_prices: ResourcePrices,
    exclusions: ExclusionsConfig | None = None,
    guardrails: Mapping[str, WorkloadGuardrails] | None = None,
) -> RollingBacktest:
    """:func:`run_backtest` at every origin ``test_days`` apart that has one test period before it.

    The last test window ends at the snapshot's end, each earlier one ``test_days`` before;
    each trains on everything before its test window (at least ``test_days``).

    Raises:
        UserInputError: the snapshot is shorter than two test windows.
    """
    usage = snapshot.table("usage")
    if usage.empty:
        raise UserInputError(
            "the snapshot has no usage samples; fetch a window with usage to backtest"
        )
    if test_days <= 0:
        raise UserInputError("must be a positive number of days", parameter="test_days")
    first = pd.Timestamp(usage["timestamp"].min()) - pd.Timedelta(seconds=snapshot.step_seconds)
    end = pd.Timestamp(snapshot.manifest.window_end)
    period = pd.Timedelta(days=test_days)
    results = []
    test_end = end
    while test_end - 2 * period >= first:
        train_days = (test_end - period - first) / pd.Timedelta(days=1)
        results.append(
            run_backtest(
                snapshot,
                train_days=train_days,
                test_days=test_days,
                end=test_end,
                strategies=strategies,
                profile=profile,
                unit_prices=unit_prices,
                default_prices=default_prices,
                exclusions=exclusions,
                guardrails=guardrails,
            )
        )
        test_end -= period
    if not results:
        covered = (end - first) / pd.Timedelta(days=1)
        raise UserInputError(
            f"the snapshot covers {covered:.1f} days; rolling origins need at least two test "
            f"windows of `test_days` {test_days:g}; fetch a longer window or shorten it"
        )
    return RollingBacktest(results=tuple(reversed(results)))


def _plain(value: Any) -> Any:
    number = float(value)
    return int(number) if number.is_integer() else round(number, 5)


def _applied_settings(
    rows: Sequence[RightsizingRow], current: pd.DataFrame
) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """What would be running after applying ``rows``: recommended where ``ok``, else current."""
    settings = current.copy()
    leaking: dict[tuple[str, ...], bool] = {}
    slopes: dict[tuple[str, ...], float] = {}
    for row in rows:
        leaking[row.key] = bool(row.evidence.get("leak", False))
        if "leak_slope_bytes_per_day" in row.evidence:
            slopes[row.key] = float(row.evidence["leak_slope_bytes_per_day"])
        if row.status != "ok":
            continue
        rec = row.recommended
        settings.loc[row.key, _SPEC] = [
            np.nan if rec.cpu_request is None else rec.cpu_request,
            np.nan if rec.cpu_limit is None else rec.cpu_limit,
            np.nan if rec.memory_request is None else float(rec.memory_request),
            np.nan if rec.memory_limit is None else float(rec.memory_limit),
        ]
    index = settings.index
    flags = pd.Series(leaking, dtype=bool)
    flags = flags.reindex(index, fill_value=False) if len(flags) else pd.Series(False, index=index)
    return settings, flags, pd.Series(slopes, dtype="float64")


def _test_kills(test: Snapshot) -> pd.Series:
    """OOM kills per CONTAINER_KEY in the test snapshot."""
    terminations = test.table("terminations")
    kills = terminations[terminations["reason"] == "OOMKilled"]
    if kills.empty:
        return pd.Series(dtype="float64")
    owned = kills.astype({"namespace": str, "pod": str, "container": str}).merge(
        test.table("pods")[["namespace", "pod", "kind", "workload"]].astype(
            {"namespace": str, "pod": str}
        ),
        on=["namespace", "pod"],
        how="inner",
    )
    return owned.groupby(CONTAINER_KEY).size().astype("float64")


def _leak_growth(rows: Sequence[RightsizingRow]) -> pd.DataFrame:
    """Per flagged leak: its growth per day and the working set it restarts from."""
    records = {
        row.key: {
            "slope_bytes_per_day": float(row.evidence.get("leak_slope_bytes_per_day") or 0.0),
            "baseline_bytes": float(row.evidence.get("leak_baseline_bytes") or 0.0),
        }
        for row in rows
        if row.evidence.get("leak")
    }
    if not records:
        return pd.DataFrame(columns=["slope_bytes_per_day", "baseline_bytes"])
    frame = pd.DataFrame.from_dict(records, orient="index")
    frame.index = pd.MultiIndex.from_tuples(frame.index, names=CONTAINER_KEY)
    return frame


def _unit_prices(
    snapshot: Snapshot, unit_prices: Mapping[str, ResourcePrices], default: ResourcePrices
) -> pd.DataFrame:
    """Per container key: monthly USD of one core and of one byte on its node group."""
    groups = workload_node_groups(snapshot)
    inventory = container_inventory(snapshot)[CONTAINER_KEY]
    merged = inventory.merge(groups, on=["namespace", "kind", "workload"], how="left")
    chosen = [
        unit_prices.get(g, default) if isinstance(g, str) else default for g in merged["node_group"]
    ]
    frame = pd.DataFrame(
        {
            "cpu_usd": [p.cpu_core_hour_usd * HOURS_PER_MONTH for p in chosen],
            "byte_usd": [p.memory_gib_hour_usd * HOURS_PER_MONTH / GIB for p in chosen],
        },
        index=pd.MultiIndex.from_frame(merged[CONTAINER_KEY]),
    )
    return frame[~frame.index.duplicated()]


def _iso(moment: datetime) -> str:
    return pd.Timestamp(moment).strftime("%Y-%m-%dT%H:%M:%SZ")
