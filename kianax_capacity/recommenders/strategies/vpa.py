"""``vpa``: the Kubernetes Vertical Pod Autoscaler recommender, re-implemented on a snapshot.

What is implemented (and where it departs from the Go code, on purpose or for lack of data):

* Decaying exponential histograms. Buckets grow by 5%: bucket ``i`` starts at
  ``first * (1.05**i - 1) / 0.05`` with ``first`` = 0.01 cores (CPU) or 10 MB = 1e7 bytes
  (memory). Each sample weighs ``2 ** ((t - window_end) / half_life)``, half-life 24 h. VPA also
  weights CPU samples by the container's request; requests are constant within a snapshot
  container here, so that factor cancels and is left out.
* A percentile is read as VPA does: walk the buckets until the cumulative weight reaches
  ``p * total`` and return the *end* of that bucket (the start of the next).
* CPU target: p90 of every CPU sample of every pod of the container.
* Memory target: p90 of the per-day peaks of each pod's working set (VPA records one peak per
  24 h aggregation interval per container) over the last 8 days. Each OOM kill in those 8 days
  adds a sample ``max(m * 1.2, m + 100 MiB)`` where ``m`` is the memory at the kill: the
  container's memory limit when set (the kill happens there), else the pod's peak.
* Safety margin: target x 1.15.
* Confidence: VPA scales its *upper bound* by ``(1 + 1/confidence) ** 1`` and its lower bound by
  ``(1 + 0.001/confidence) ** -2``; its target is not scaled. As the issue asks, we apply the
  upper-bound multiplier ``(1 + 1/days) ** 1`` to the target, which makes short histories
  conservative. ``days = min(lifespan in days, samples * step / 1 day)``: VPA's own formula
  counts samples as minutes; we count them at the snapshot's real step.
* Pod minimums 25m and 250 MiB, split evenly across the pod's containers (as VPA does).
* Limits: VPA keeps each limit proportional to its request (``RequestsAndLimits``): a current
  limit is scaled by recommended/current request; no current limit stays unset.
* Rounding: up to a whole millicore and a whole MiB (VPA itself rounds memory to MiB-ish
  quantities when it writes them).
* From server-side statistics (aggregate shape, :meth:`VpaStrategy.compute_from_statistics`):
  the histograms rebuilt from ``container_daily_stats`` (:func:`vpa_targets`); an older
  aggregate snapshot without it gets an approximation: the pooled p90 CPU and the busiest
  pod's p99 working set, each x 1.15 and the confidence factor.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from kianax_capacity.recommenders.strategies._base import (
    ContainerStatistics,
    RightsizingStrategy,
    StrategySettings,
    UsageData,
    empty_raw,
    register_strategy,
    round_up_steps,
    setting,
)
from kianax_capacity.recommenders.strategies.pooling import (
    POD_KEY,
    knots_of,
    pooled_quantile,
    with_cid,
)
from kianax_capacity.snapshot import Snapshot
from kianax_capacity.units import MIB

__all__ = ["VpaSettings", "VpaStrategy", "histogram_percentile", "vpa_targets"]

_DAY_SECONDS = 86400

VPA_NOTE = (
    "Approximated from server-side per-pod statistics (aggregate shape): the pods' pooled CPU "
    "p90 and the busiest pod's p99 working set, without decay; VPA's decaying histograms need "
    "the samples (--shape series)."
)
VPA_DAILY_NOTE = (
    "VPA's histograms rebuilt from server-side per-pod, per-day statistics (aggregate shape): "
    "CPU p90 pooled from each day's percentiles with VPA's decay at the day's middle, memory "
    "p90 of the per-pod daily peaks; VPA's exact decaying histograms need the samples "
    "(--shape series)."
)


@dataclass(frozen=True)
class VpaSettings(StrategySettings):
    """The VPA recommender's defaults."""

    cpu_percentile: float = setting(90.0, "target percentile of the decayed CPU histogram")
    memory_percentile: float = setting(
        90.0, "target percentile of the decayed daily-peak memory histogram"
    )
    safety_margin_fraction: float = setting(0.15, "added to the targets (0.15 = +15%)")
    half_life_hours: float = setting(24.0, "a sample's weight halves every this many hours")
    cpu_first_bucket_cores: float = setting(0.01, "size of the first CPU histogram bucket")
    memory_first_bucket_bytes: float = setting(1e7, "size of the first memory histogram bucket")
    bucket_growth: float = setting(0.05, "each bucket is this much larger than the previous")
    memory_aggregation_days: int = setting(8, "memory peaks older than this many days are ignored")
    confidence_multiplier: float = setting(1.0, "m in (1 + m/days) ** e applied to the target")
    confidence_exponent: float = setting(1.0, "e in (1 + m/days) ** e applied to the target")
    oom_bump_ratio: float = setting(
        1.2, "an OOM kill adds a memory sample this many times the memory"
    )
    oom_min_bump_bytes: float = setting(100 * MIB, "... or at least this much more")
    pod_min_cpu_cores: float = setting(0.025, "pod minimum CPU, split across its containers")
    pod_min_memory_bytes: float = setting(
        250 * MIB, "pod minimum memory, split across its containers"
    )


def histogram_percentile(
    frame: pd.DataFrame,
    keys: list[str],
    value: str,
    weight: str,
    *,
    first_bucket: float,
    growth: float,
    percentile: float,
) -> pd.Series:
    """VPA's percentile of a weighted exponential histogram, for every group of ``keys`` at once.

    Args:
        frame: samples with the ``keys`` columns, a ``value`` and a ``weight`` column.
        first_bucket: the width of bucket 0.
        growth: each bucket is ``1 + growth`` times wider than the previous.
        percentile: in [0, 1].

    Returns:
        The end of the bucket where the cumulative weight first reaches ``percentile`` of the
        total, indexed by ``keys``.
    """
    samples = frame[[*keys, value, weight]].dropna(subset=[value])
    samples = samples[samples[weight] > 0]
    ratio = 1.0 + growth
    values = samples[value].clip(lower=0.0).to_numpy(dtype="float64")
    # A tiny epsilon keeps a value exactly on a bucket boundary in the upper bucket, as Go does.
    bucket = np.floor(np.log(values * growth / first_bucket + 1.0) / math.log(ratio) + 1e-9)
    samples = samples.assign(_bucket=bucket)
    weights = (
        samples.groupby([*keys, "_bucket"], observed=True, sort=True)[weight].sum().reset_index()
    )
    grouped = weights.groupby(keys, observed=True, sort=False)[weight]
    cumulative = grouped.cumsum()
    total = grouped.transform("sum")
    reached = weights[cumulative >= total * percentile - 1e-12 * total]
    chosen = reached.groupby(keys, observed=True, sort=True)["_bucket"].first()
    ends = first_bucket * (np.power(ratio, chosen.to_numpy(dtype="float64") + 1.0) - 1.0) / growth
    return pd.Series(ends, index=chosen.index, name=value)


@register_strategy("vpa")
class VpaStrategy(RightsizingStrategy):
    """The Kubernetes VPA recommender's target, with its histograms, margin and minimums."""

    description = "Kubernetes VPA: decaying histograms, CPU p90, memory p90 of daily peaks, +15%"
    settings_type = VpaSettings
    profiles: ClassVar[Mapping[str, Mapping[str, Any]]] = {}  # VPA has one behaviour

    def compute(self, data: UsageData) -> pd.DataFrame:
        settings = self.settings
        assert isinstance(settings, VpaSettings)
        usage = data.usage
        if usage.empty:
            return empty_raw(data)
        half_life = settings.half_life_hours * 3600.0
        age = (usage["t"] - data.window_end).to_numpy(dtype="float64")
        cpu_samples = usage[["cid", "cpu_cores"]].assign(_w=np.exp2(age / half_life))
        cpu = histogram_percentile(
            cpu_samples,
            ["cid"],
            "cpu_cores",
            "_w",
            first_bucket=settings.cpu_first_bucket_cores,
            growth=settings.bucket_growth,
            percentile=settings.cpu_percentile / 100.0,
        )

        # Memory: one peak per pod per 24 h interval (counted back from the window end).
        horizon = data.window_end - settings.memory_aggregation_days * _DAY_SECONDS
        recent = usage[usage["t"] > horizon]
        interval = (data.window_end - recent["t"]) // _DAY_SECONDS
        peaks = (
            recent.assign(_interval=interval)
            .groupby(["cid", "pid", "_interval"])
            .agg(memory_bytes=("memory_bytes", "max"), t=("t", "max"))
            .reset_index()
        )
        ooms = self._oom_samples(data, recent, horizon)
        memory_samples = pd.concat([peaks[["cid", "memory_bytes", "t"]], ooms], ignore_index=True)
        memory_age = (memory_samples["t"] - data.window_end).to_numpy(dtype="float64")
        memory_samples = memory_samples.assign(_w=np.exp2(memory_age / half_life))
        memory = histogram_percentile(
            memory_samples,
            ["cid"],
            "memory_bytes",
            "_w",
            first_bucket=settings.memory_first_bucket_bytes,
            growth=settings.bucket_growth,
            percentile=settings.memory_percentile / 100.0,
        )

        grouped = usage.groupby("cid")
        lifespan_days = (grouped["t"].max() - grouped["t"].min()) / 86400.0
        sample_days = grouped["cpu_cores"].count() * data.step_seconds / 86400.0
        # No history at all would divide by zero; one step's worth is the least VPA ever sees.
        days = pd.Series(np.minimum(lifespan_days, sample_days), index=lifespan_days.index).clip(
            lower=data.step_seconds / 86400.0
        )
        confidence = np.power(
            1.0 + settings.confidence_multiplier / days, settings.confidence_exponent
        )
        margin = 1.0 + settings.safety_margin_fraction

        index = days.index
        raw = pd.DataFrame(index=index)
        raw["cpu_request"] = cpu.reindex(index) * margin * confidence
        raw["memory_request"] = memory.reindex(index) * margin * confidence
        inventory = data.inventory_by_cid().reindex(index)
        # Limits keep their ratio to the request (VPA's RequestsAndLimits mode).
        raw["cpu_limit"] = (
            raw["cpu_request"] * inventory["cpu_limit_cores"] / inventory["cpu_request_cores"]
        )
        raw["memory_limit"] = (
            raw["memory_request"]
            * inventory["memory_limit_bytes"]
            / inventory["memory_request_bytes"]
        )
        raw["ev_cpu_histogram_p90_cores"] = cpu.reindex(index)
        raw["ev_memory_daily_peak_p90_bytes"] = memory.reindex(index)
        raw["ev_confidence_days"] = days
        raw["ev_confidence_multiplier"] = confidence
        raw["ev_oom_samples"] = ooms.groupby("cid").size().reindex(index).fillna(0)
        return data.keyed(raw)

    def _oom_samples(self, data: UsageData, recent: pd.DataFrame, horizon: int) -> pd.DataFrame:
        settings = self.settings
        assert isinstance(settings, VpaSettings)
        events = data.oom_events[data.oom_events["t"] > horizon]
        pod_peak = recent.groupby("pid")["memory_bytes"].max()
        limits = data.inventory_by_cid()["memory_limit_bytes"]
        at_kill = pd.Series(
            limits.reindex(events["cid"]).to_numpy(), index=events.index, dtype="float64"
        ).fillna(pd.Series(pod_peak.reindex(events["pid"]).to_numpy(), index=events.index))
        bumped = np.maximum(
            at_kill * settings.oom_bump_ratio, at_kill + settings.oom_min_bump_bytes
        )
        out = pd.DataFrame({"cid": events["cid"], "memory_bytes": bumped, "t": events["t"]})
        return out.dropna(subset=["memory_bytes"])

    def compute_from_statistics(self, stats: ContainerStatistics) -> pd.DataFrame:
        """VPA's target from ``container_daily_stats`` (:func:`vpa_targets`), else approximated
        from the pooled p90 CPU and the busiest pod's p99 working set."""
        settings = self.settings
        assert isinstance(settings, VpaSettings)
        raw = stats.raw_frame()
        busiest, pooled, inventory = stats.busiest, stats.pooled, stats.inventory
        targets = vpa_targets(stats.snapshot, stats.data, settings)
        # VPA's confidence: min(lifespan, samples x step) in days, as on samples.
        step_days = max(stats.snapshot.step_seconds, 1) / 86_400.0
        lifespan = pooled["history_hours"].reindex(raw.index) / 24.0
        samples = pooled["rows"].reindex(raw.index)
        if targets is not None:  # VPA's histograms rebuilt from the per-day statistics
            cpu_target, memory_target, samples = (t.reindex(raw.index) for t in targets)
            note = VPA_DAILY_NOTE
        else:  # an older aggregate snapshot: the pooled p90 CPU, the busiest pod's p99 memory
            cpu_target, memory_target = busiest["cpu_cores_pooled_p90"], busiest["memory_bytes_p99"]
            note = VPA_NOTE
        days = np.maximum(np.fmin(lifespan, samples * step_days), step_days)
        confidence = 1.0 + 1.0 / days
        cpu = cpu_target * 1.15 * confidence
        memory = memory_target * 1.15 * confidence
        raw["ev_cpu_histogram_p90_cores"] = cpu_target
        raw["ev_memory_daily_peak_p90_bytes"] = memory_target
        raw["ev_confidence_days"] = days
        raw["cpu_request"] = cpu
        raw["memory_request"] = memory
        # VPA keeps limits proportional to requests; an unset limit stays unset.
        cpu_scale = cpu / inventory["cpu_request_cores"].where(inventory["cpu_request_cores"] > 0)
        memory_scale = memory / inventory["memory_request_bytes"].where(
            inventory["memory_request_bytes"] > 0
        )
        raw["cpu_limit"] = inventory["cpu_limit_cores"] * cpu_scale
        raw["memory_limit"] = inventory["memory_limit_bytes"] * memory_scale
        raw["ev_shape"] = "aggregate"
        raw["note"] = note
        return raw

    def finalize(self, raw: pd.DataFrame, data: UsageData) -> pd.DataFrame:
        settings = self.settings
        assert isinstance(settings, VpaSettings)
        out = raw.copy()
        per_pod = data.inventory["containers_in_pod"].reindex(out.index).fillna(1).clip(lower=1)
        cpu_min = settings.pod_min_cpu_cores / per_pod
        memory_min = settings.pod_min_memory_bytes / per_pod
        for request, limit, minimum, step in (
            ("cpu_request", "cpu_limit", cpu_min, 0.001),
            ("memory_request", "memory_limit", memory_min, float(MIB)),
        ):
            raised = pd.Series(np.maximum(out[request], minimum), index=out.index)
            # A limit scaled with its request moves with the minimum too.
            scale = raised / out[request].where(out[request] > 0)
            out[limit] = round_up_steps(out[limit] * scale.fillna(1.0), (), step)
            out[request] = round_up_steps(raised, (), step)
        return out


def _bucket_end(values: pd.Series, first: float, growth: float) -> pd.Series:
    """The end of VPA's exponential histogram bucket holding each value (as the series shape's
    :func:`histogram_percentile` returns it)."""
    ratio = 1.0 + growth
    array = values.clip(lower=0.0).to_numpy(dtype="float64")
    bucket = np.floor(np.log(array * growth / first + 1.0) / np.log(ratio) + 1e-9)
    return pd.Series(first * (np.power(ratio, bucket + 1.0) - 1.0) / growth, index=values.index)


def vpa_targets(
    snapshot: Snapshot, data: UsageData, settings: VpaSettings
) -> tuple[pd.Series, pd.Series, pd.Series] | None:
    """VPA's CPU and memory targets per cid from ``container_daily_stats`` (None without it),
    and the number of CPU samples (VPA's confidence counts them).

    CPU: the p90 of every pod's samples, each day's weighing ``2 ** (age / half-life)`` at the
    day's middle (VPA decays per sample), pooled from the per-day quantiles, then the end of its
    histogram bucket. Memory: VPA's histogram of one peak per pod and day (the aggregate chunks
    are VPA's 24 h intervals, counted back from the window's end) over the last
    ``memory_aggregation_days``, decayed at each peak's day, plus its OOM samples; the same
    :func:`histogram_percentile` as on samples.
    """
    daily = snapshot.table("container_daily_stats")
    if daily.empty:
        return None
    frame = with_cid(daily, snapshot, data)
    if frame.empty:
        return None
    end = float(data.window_end)
    day_end = (
        pd.to_datetime(frame["day_end"], utc=True) - pd.Timestamp(0, tz="UTC")
    ) // pd.Timedelta(seconds=1)
    half_life = settings.half_life_hours * 3600.0
    middle = day_end.to_numpy(dtype="float64") - 43_200.0
    decay = np.exp2((middle - end) / half_life)
    knots = knots_of(frame, "cpu_cores")
    weights = frame["cpu_cores_count"].to_numpy(dtype="float64") * decay
    cpu = pooled_quantile(
        frame["cid"].to_numpy(dtype="int64"), knots, weights, settings.cpu_percentile / 100.0
    )
    cpu = _bucket_end(cpu, settings.cpu_first_bucket_cores, settings.bucket_growth)

    horizon = end - settings.memory_aggregation_days * 86_400.0
    recent = frame[day_end.to_numpy(dtype="float64") > horizon]
    last_seen = snapshot.table("pods")[["namespace", "pod", "last_seen"]]
    recent = recent.merge(last_seen, on=POD_KEY, how="left")
    seen = (pd.to_datetime(recent["last_seen"], utc=True) - pd.Timestamp(0, tz="UTC")) // (
        pd.Timedelta(seconds=1)
    )
    recent_end = (
        pd.to_datetime(recent["day_end"], utc=True) - pd.Timestamp(0, tz="UTC")
    ) // pd.Timedelta(seconds=1)
    peak_time = np.fmin(recent_end.to_numpy(dtype="float64"), seen.to_numpy(dtype="float64"))
    peaks = pd.DataFrame(
        {"cid": recent["cid"], "memory_bytes": recent["memory_bytes_max"], "t": peak_time}
    )
    ooms = _statistics_oom_samples(snapshot, data, settings, frame, horizon)
    samples = pd.concat([peaks, ooms], ignore_index=True)
    samples = samples.assign(_w=np.exp2((samples["t"].to_numpy(dtype="float64") - end) / half_life))
    memory = histogram_percentile(
        samples,
        ["cid"],
        "memory_bytes",
        "_w",
        first_bucket=settings.memory_first_bucket_bytes,
        growth=settings.bucket_growth,
        percentile=settings.memory_percentile / 100.0,
    )
    # The server's rate() still answers one step after a pod stopped (its window reaches back);
    # the series shape's usage rows, gated on a working-set sample, do not: one step less per
    # pod that stopped inside the window.
    per_pod = frame.groupby(["cid", *POD_KEY], sort=False)["cpu_cores_count"].sum().reset_index()
    per_pod = per_pod.merge(last_seen, on=POD_KEY, how="left")
    stopped = (
        pd.to_datetime(per_pod["last_seen"], utc=True) - pd.Timestamp(0, tz="UTC")
    ) // pd.Timedelta(seconds=1) < end - data.step_seconds
    counts = per_pod["cpu_cores_count"].to_numpy(dtype="float64") - stopped.to_numpy(dtype=float)
    cpu_samples = pd.Series(np.maximum(counts, 0.0)).groupby(per_pod["cid"].to_numpy()).sum()
    return cpu, memory, cpu_samples


def _statistics_oom_samples(
    snapshot: Snapshot,
    data: UsageData,
    settings: VpaSettings,
    frame: pd.DataFrame,
    horizon: float,
) -> pd.DataFrame:
    """VPA's extra memory sample per OOM kill in the horizon (as :class:`VpaStrategy` adds)."""
    columns = ["cid", "memory_bytes", "t"]
    terminations = snapshot.table("terminations")
    kills = terminations[terminations["reason"].astype(str) == "OOMKilled"]
    if kills.empty:
        return pd.DataFrame(columns=columns, dtype="float64")
    keys = ["namespace", "pod", "container"]
    kills = kills.astype({column: str for column in keys})
    kills = kills.assign(
        t=(pd.to_datetime(kills["timestamp"], utc=True) - pd.Timestamp(0, tz="UTC"))
        // pd.Timedelta(seconds=1)
    )
    kills = kills[kills["t"].to_numpy(dtype="float64") > horizon]
    pod_peak = frame.groupby(keys)["memory_bytes_max"].max().rename("peak").reset_index()
    pod_peak = pod_peak.astype({column: str for column in keys})
    cids = frame.drop_duplicates(keys)[[*keys, "cid"]].astype({column: str for column in keys})
    joined = kills.merge(cids, on=keys, how="inner").merge(pod_peak, on=keys, how="left")
    limits = data.inventory_by_cid()["memory_limit_bytes"]
    at_kill = pd.Series(limits.reindex(joined["cid"]).to_numpy(), index=joined.index).fillna(
        joined["peak"]
    )
    bumped = np.maximum(at_kill * settings.oom_bump_ratio, at_kill + settings.oom_min_bump_bytes)
    out = pd.DataFrame(
        {"cid": joined["cid"], "memory_bytes": bumped, "t": joined["t"].astype("float64")}
    )
    return out.dropna(subset=["memory_bytes"])
