"""``kianax``: our strategy, built to cost less than KRR at no more risk, and to say why.

How it differs from the baselines:

* **Pooled, seasonal CPU percentiles.** All replicas of a container are pooled (the busiest pod
  is not the right size for every pod). The samples are split into seasons: weekday US market
  hours (13:30-20:00 UTC), other weekday hours, weekends; the percentile of each season with
  enough samples is taken and the *highest* wins, so a quiet weekend does not dilute a busy
  trading day.
* **Throttling-aware CPU.** A throttled container's CPU rate is censored at its limit: the demand
  was higher than what was measured. Samples whose throttled-period ratio exceeds a threshold are
  scaled up by ``1 + ratio`` before the percentile is taken.
* **Profiles are target utilisations.** The request is the seasonal percentile divided by the
  profile's target utilisation (production: p95 at 100%, the busiest season being the
  headroom; high-availability: p99 at 80%; development: p90 at 100%).
* **Memory request from a high percentile, limit from the peak.** The request (what is paid for)
  is the pooled p99 plus a margin; the limit (what OOM-kills) is the peak plus a margin; OOM kills
  in the window raise both (the peak is censored at the limit that killed it).
* **Leaks are flagged, and mitigated until fixed.** A container whose working set keeps growing
  between restarts (Theil-Sen slope of hourly peaks within each restart-free segment) is a bug
  to fix; the row is marked high risk and says so. Until the fix, its limit lets it run
  ``leak_restart_interval_days`` between OOM restarts from the working set it restarts at
  (never a limit lower than today's, so kills are never more frequent), and its request is the
  working set a restart cycle at that limit averages.
* **Batch (CronJob/Job):** CPU from the pooled p99 (runs are short and bursty); memory request =
  limit = peak + margin (a batch pod must finish).
* **CPU limits only where the profile asks** (development: a multiple of the request).
* **Friendly rounding:** CPU up to 5m steps below 100m, 10m above; memory up to 4 MiB steps below
  256 MiB, 16 MiB below 1 GiB, 64 MiB above.
"""

from __future__ import annotations

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
    is_batch,
    memory_steps_mib,
    register_strategy,
    round_up_steps,
    setting,
)
from kianax_capacity.recommenders.strategies.jvm import jvm_memory_stats, jvm_notes, reserved_heap
from kianax_capacity.recommenders.strategies.leaks import aggregate_leaks, detect_leaks, leak_notes
from kianax_capacity.recommenders.strategies.pooling import pooled_quantile, with_cid
from kianax_capacity.recommenders.strategies.startup import startup_mask, startups_by_cid
from kianax_capacity.seasons import SEASONS, season_codes
from kianax_capacity.snapshot import Snapshot
from kianax_capacity.units import MIB, format_cpu

__all__ = [
    "AGGREGATE_NOTE",
    "SEASONS",
    "KianaxSettings",
    "KianaxStrategy",
    "kianax_cpu",
    "kianax_memory",
    "season_codes",
    "season_cpu",
    "seasons",
]

#: What every row sized from server-side statistics says (aggregate shape), then whether the
#: seasons and the leak screen were there.
AGGREGATE_NOTE = (
    "Sized from server-side per-pod statistics (aggregate shape), pooled over the pods and "
    "days as the series shape pools samples."
)
SEASONS_NOTE = " The busiest season's percentile was computed on the server."
NO_SEASONS_NOTE = (
    " The seasons were not computed (this snapshot has no container_season_stats): the whole "
    "window's percentile stands in for the busiest season's; re-fetch with this version."
)
LEAK_SCREEN_NOTE = (
    " Leaks were looked for in the hourly peaks of the containers the server-side leak screen "
    "picked."
)
NO_LEAK_SCREEN_NOTE = (
    " Memory-leak detection was not run (this snapshot has no leak screen); re-fetch with this "
    "version, or with --shape series."
)


@dataclass(frozen=True)
class KianaxSettings(StrategySettings):
    """Settings of the kianax strategy; a profile picks a set of them."""

    cpu_percentile: float = setting(95.0, "pooled CPU percentile taken in each season")
    cpu_target_utilization: float = setting(1.0, "request = seasonal percentile / this")
    seasonal: bool = setting(
        True, "take the busiest season's percentile (market hours, weekday, weekend)"
    )
    min_season_samples: int = setting(36, "a season needs this many samples to count")
    throttle_threshold: float = setting(
        0.05, "throttled-period ratio above which a CPU sample is censored"
    )
    batch_cpu_percentile: float = setting(99.0, "pooled CPU percentile for CronJob/Job containers")
    cpu_limit_multiplier: float | None = setting(
        None, "CPU limit = request x this; None = no CPU limit"
    )
    memory_percentile: float = setting(99.0, "pooled working-set percentile for the memory request")
    memory_request_margin: float = setting(0.10, "added to the memory percentile (0.10 = +10%)")
    memory_limit_margin: float = setting(0.20, "added to the peak working set for the limit")
    memory_limit_min_headroom_bytes: float = setting(
        64 * MIB,
        "the limit is at least this far above the peak: small containers spike by more than a share",
    )
    keep_unset_memory_limit: bool = setting(
        True,
        "a container without a memory limit today keeps none: adding one is an availability "
        "decision (an OOM kill where there was none), not a saving",
    )
    memory_request_equals_limit: bool = setting(False, "Guaranteed QoS: request = limit")
    batch_memory_margin: float = setting(0.15, "batch memory request = limit = peak x (1 + this)")
    oom_bump_ratio: float = setting(
        1.2, "after OOM kills the limit is at least max(peak, limit) x this"
    )
    oom_min_bump_bytes: float = setting(100 * MIB, "... and at least this much above it")
    leak_min_growth_fraction_per_day: float = setting(
        0.03, "a leak grows its working set by at least this share of its median per day"
    )
    leak_min_growth_bytes_per_day: float = setting(
        8 * MIB, "... and by at least this many bytes per day"
    )
    leak_min_segment_hours: float = setting(
        24.0, "restart-free stretches shorter than this are not judged"
    )
    leak_positive_share: float = setting(0.75, "share of judged segments that must grow")
    restart_drop_fraction: float = setting(
        0.7, "a working set falling below this share of the previous sample is a restart"
    )
    leak_restart_interval_days: float = setting(
        7.0,
        "a leaking container's limit lets it run at least this long between OOM restarts "
        "(a week: the backtest's test window and a common deploy cadence), never less than today",
    )
    startup_exclusion_minutes: float = setting(
        10.0,
        "the first minutes after a pod starts in the window are left out of the steady-state "
        "CPU percentile (their peak is reported; 0 = keep them)",
    )
    jvm_overhead_fraction: float = setting(
        0.10, "JVM limit = heap max + non-heap peak + this share of them (native memory)"
    )
    jvm_overhead_min_bytes: float = setting(64 * MIB, "... and at least this much overhead")
    reserved_flat_fraction: float = setting(
        0.08,
        "without JVM metrics: a working set whose p1..p99 spans at most this share of its median is flat",
    )
    reserved_min_limit_share: float = setting(
        0.5,
        "... and flat at this share of its limit or more is a reserved heap: the limit is not cut",
    )
    cpu_min_cores: float = setting(0.010, "smallest CPU request recommended")
    memory_min_bytes: float = setting(32 * MIB, "smallest memory request recommended")


@register_strategy("kianax")
class KianaxStrategy(RightsizingStrategy):
    """Pooled seasonal percentiles, throttling-aware CPU, leak detection, profile utilisations."""

    description = (
        "kianax: pooled seasonal percentiles, throttle-aware CPU, p99 memory request, leak flags"
    )
    settings_type = KianaxSettings
    profiles: ClassVar[Mapping[str, Mapping[str, Any]]] = {
        "production": {},
        "development": {
            "cpu_percentile": 90.0,
            "memory_percentile": 95.0,
            "memory_request_margin": 0.05,
            "memory_limit_margin": 0.10,
            "cpu_limit_multiplier": 3.0,
        },
        "high-availability": {
            "cpu_percentile": 99.0,
            "cpu_target_utilization": 0.8,
            "memory_limit_margin": 0.30,
            "memory_request_equals_limit": True,
        },
    }

    def compute(self, data: UsageData) -> pd.DataFrame:
        settings = self.settings
        assert isinstance(settings, KianaxSettings)
        usage = data.usage
        if usage.empty:
            return empty_raw(data)
        ratio = usage["cpu_throttled_ratio"].fillna(0.0)
        censored = ratio > settings.throttle_threshold
        cpu = usage["cpu_cores"] * np.where(censored, 1.0 + ratio, 1.0)
        frame = usage[["cid", "t", "memory_bytes"]].assign(cpu=cpu)
        grouped = frame.groupby("cid")
        index = grouped.size().index
        batch = np.asarray(is_batch(data.containers))[index.to_numpy()]
        # A batch pod's start is its work; a service's first minutes are not its steady state.
        startup = (
            startup_mask(data, settings.startup_exclusion_minutes)
            & ~np.asarray(is_batch(data.containers))[usage["cid"].to_numpy(dtype="int64")]
        )
        steady = frame[~startup] if startup.any() else frame

        if settings.seasonal:
            # One integer key per (container, season): much faster to group than two columns.
            season_key = steady["cid"].to_numpy(dtype="int64") * 3 + season_codes(steady["t"])
            by_season = steady["cpu"].groupby(season_key)
            counts = by_season.count()
            quantiles = by_season.quantile(settings.cpu_percentile / 100.0)
            quantiles = quantiles[counts >= settings.min_season_samples]
            owner = quantiles.index.to_numpy() // 3
            season_cpu = quantiles.groupby(owner).max()
            busiest_code = quantiles.groupby(owner).idxmax() % 3
            busiest = busiest_code.map(dict(enumerate(SEASONS)))
        else:
            season_cpu = pd.Series(dtype="float64")
            busiest = pd.Series(dtype="object")
        pooled_all = grouped["cpu"].quantile(settings.cpu_percentile / 100.0)
        pooled_cpu = (
            steady.groupby("cid")["cpu"]
            .quantile(settings.cpu_percentile / 100.0)
            .reindex(index)
            .fillna(pooled_all)
        )
        # Too few samples in every season (short history): fall back to the pooled percentile.
        service_cpu = season_cpu.reindex(index).fillna(pooled_cpu)
        batch_cpu = grouped["cpu"].quantile(settings.batch_cpu_percentile / 100.0)
        cpu_request, cpu_limit = kianax_cpu(
            settings, service=service_cpu, batch=batch_cpu, is_batch=batch, index=index
        )

        memory_percentile = grouped["memory_bytes"].quantile(settings.memory_percentile / 100.0)
        peak = grouped["memory_bytes"].max()
        inventory = data.inventory_by_cid().reindex(index)
        leaks = detect_leaks(data, settings).reindex(index)
        memory = _leak_aware_memory(
            settings,
            percentile=memory_percentile,
            peak=peak,
            inventory=inventory,
            leaks=leaks,
            batch=pd.Series(batch, index=index),
            restart_floor=grouped["memory_bytes"].min(),
        )
        leaking, oom = memory.leaking, memory.oom
        memory_request, memory_limit = memory.request, memory.limit
        jvm, reserved, memory_request, memory_limit, jvm_evidence = self._jvm_aware(
            data, grouped["memory_bytes"], peak, inventory, memory_request, memory_limit,
            excluded=leaking | pd.Series(batch, index=index),
        )  # fmt: skip

        raw = pd.DataFrame(
            {
                "cpu_request": cpu_request,
                "cpu_limit": cpu_limit,
                "memory_request": memory_request,
                "memory_limit": memory_limit,
            },
            index=index,
        )
        raw["leak"] = leaking
        raw["ev_cpu_pooled_percentile_cores"] = pooled_cpu
        raw["ev_cpu_busiest_season_percentile_cores"] = season_cpu.reindex(index)
        raw["ev_cpu_busiest_season"] = busiest.reindex(index)
        raw["ev_cpu_throttled_sample_share"] = censored.groupby(usage["cid"]).mean().reindex(index)
        raw["ev_memory_percentile_bytes"] = memory_percentile
        raw["ev_memory_peak_bytes"] = peak
        raw["ev_leak_slope_bytes_per_day"] = leaks["slope_bytes_per_day"]
        raw["ev_leak_segments"] = leaks["segments"]
        raw["ev_leak_baseline_bytes"] = memory.baseline.where(leaking)
        today, recommended = memory.restart_days(inventory["memory_limit_bytes"], memory_limit)
        raw["ev_leak_restart_days_today"] = today
        raw["ev_leak_restart_days_recommended"] = recommended
        for column, values in jvm_evidence.items():
            raw[column] = values
        started = usage.loc[startup]
        raw["ev_cpu_startup_peak_cores"] = started.groupby("cid")["cpu_cores"].max().reindex(index)
        raw["ev_startups"] = (
            startups_by_cid(data).reindex(index).where(raw["ev_cpu_startup_peak_cores"].notna())
        )
        raw["note"] = _notes(raw, oom, leaking, settings)
        raw["note"] = (raw["note"] + " " + jvm_notes(raw, jvm, reserved)).str.strip()
        raw["note"] = (raw["note"] + " " + _startup_notes(raw, settings)).str.strip()
        return data.keyed(raw)

    def _jvm_aware(
        self,
        data: UsageData,
        memory: Any,
        peak: pd.Series,
        inventory: pd.DataFrame,
        request: pd.Series,
        limit: pd.Series,
        *,
        excluded: pd.Series,
    ) -> tuple[pd.Series, pd.Series, pd.Series, pd.Series, dict[str, pd.Series]]:
        """Memory limits a JVM honours (see :mod:`.jvm`): (jvm, reserved, request, limit, ev)."""
        settings = self.settings
        assert isinstance(settings, KianaxSettings)
        index = peak.index
        stats = jvm_memory_stats(data, index)
        current_limit = inventory["memory_limit_bytes"]
        jvm = stats["heap_max_bytes"].notna() & ~excluded & limit.notna()
        known = stats["heap_max_bytes"] + stats["nonheap_max_bytes"].fillna(0.0)
        overhead = np.fmax(known * settings.jvm_overhead_fraction, settings.jvm_overhead_min_bytes)
        thresholds, last = memory_steps_mib()
        sized = round_up_steps(
            pd.Series(np.fmax(known + overhead, peak), index=index), thresholds, last
        )
        limit = limit.where(~jvm, sized)
        reserved = (
            ~jvm
            & ~excluded
            & limit.notna()
            & reserved_heap(
                memory,
                current_limit,
                flat_fraction=settings.reserved_flat_fraction,
                min_limit_share=settings.reserved_min_limit_share,
            )
        )
        limit = limit.where(~reserved, pd.Series(np.fmax(limit, current_limit), index=index))
        request = pd.Series(np.fmin(request, limit), index=index).where(limit.notna(), request)
        evidence = {
            "ev_jvm_heap_max_bytes": stats["heap_max_bytes"].where(jvm),
            "ev_jvm_heap_used_p99_bytes": stats["heap_used_p99_bytes"].where(jvm),
            "ev_jvm_heap_used_max_bytes": stats["heap_used_max_bytes"].where(jvm),
            "ev_jvm_nonheap_max_bytes": stats["nonheap_max_bytes"].where(jvm),
            "ev_jvm_overhead_bytes": pd.Series(overhead, index=index).where(jvm),
            "ev_reserved_heap": reserved.where(reserved),
            "ev_reserved_limit_share": (memory.median().reindex(index) / current_limit).where(
                reserved
            ),
        }
        return jvm, reserved, request, limit, evidence

    def compute_from_statistics(self, stats: ContainerStatistics) -> pd.DataFrame:
        """The same policy on server-side statistics (aggregate shape).

        CPU: the busiest season's pooled percentile (:func:`season_cpu`), else the whole
        window's pooled percentile (the busiest pod's scaled up by its mean throttled ratio
        when throttled), over the target utilisation; memory: :func:`kianax_memory` on the
        pooled high percentile and the peak; leaks: :func:`aggregate_leaks`. A snapshot
        without the seasons or the leak screen says in every row what was not computed.
        """
        settings = self.settings
        assert isinstance(settings, KianaxSettings)
        snapshot, busiest, inventory = stats.snapshot, stats.busiest, stats.inventory
        raw = stats.raw_frame()
        batch = np.asarray(is_batch(stats.data.containers))[raw.index.to_numpy()]
        season_value, season_name = season_cpu(snapshot, stats.data, settings)
        leaks = aggregate_leaks(snapshot, stats.data, settings).reindex(raw.index)
        throttled = busiest["throttled_ratio_max"].fillna(0.0) > settings.throttle_threshold
        service_column = stats.column_for("cpu_cores", settings.cpu_percentile)
        batch_column = stats.column_for("cpu_cores", settings.batch_cpu_percentile)
        window_cpu = busiest[f"cpu_adj_{service_column}"].where(
            throttled, busiest[stats.pooled_column(service_column)]
        )
        batch_cpu = busiest[f"cpu_adj_{batch_column}"].where(
            throttled, busiest[stats.pooled_column(batch_column)]
        )
        # The busiest season's percentile where the server computed the seasons (as on samples:
        # too few steps in every season falls back to the whole window's).
        service_cpu = season_value.reindex(raw.index).fillna(window_cpu)
        cpu_request, cpu_limit = kianax_cpu(
            settings, service=service_cpu, batch=batch_cpu, is_batch=batch, index=raw.index
        )
        memory_percentile = busiest[
            stats.pooled_column(stats.column_for("memory_bytes", settings.memory_percentile))
        ]
        peak = busiest["memory_bytes_max"]
        memory = _leak_aware_memory(
            settings,
            percentile=memory_percentile,
            peak=peak,
            inventory=inventory,
            leaks=leaks,
            batch=pd.Series(batch, index=raw.index),
        )
        leaking, memory_limit = memory.leaking, memory.limit
        raw["cpu_request"] = cpu_request
        raw["cpu_limit"] = cpu_limit
        raw["memory_request"] = memory.request
        raw["memory_limit"] = memory_limit
        raw["leak"] = leaking
        raw["ev_cpu_busiest_pod_percentile_cores"] = busiest[service_column]
        raw["ev_cpu_busiest_season_percentile_cores"] = season_value.reindex(raw.index)
        raw["ev_cpu_busiest_season"] = season_name.reindex(raw.index)
        raw["ev_memory_percentile_bytes"] = memory_percentile
        raw["ev_memory_peak_bytes"] = peak
        raw["ev_leak_slope_bytes_per_day"] = memory.slope
        raw["ev_leak_segments"] = leaks["segments"]
        raw["ev_leak_baseline_bytes"] = memory.baseline.where(leaking)
        today, recommended = memory.restart_days(inventory["memory_limit_bytes"], memory_limit)
        raw["ev_leak_restart_days_today"] = today
        raw["ev_leak_restart_days_recommended"] = recommended
        raw["ev_shape"] = "aggregate"
        raw["note"] = _statistics_notes(
            raw, snapshot, settings, throttled=throttled, oom=memory.oom
        )
        return raw

    def finalize(self, raw: pd.DataFrame, data: UsageData) -> pd.DataFrame:
        settings = self.settings
        assert isinstance(settings, KianaxSettings)
        out = raw.copy()
        cpu_steps = ((0.1, 0.005),)
        out["cpu_request"] = round_up_steps(
            out["cpu_request"].clip(lower=settings.cpu_min_cores), cpu_steps, 0.010
        )
        out["cpu_limit"] = round_up_steps(out["cpu_limit"], cpu_steps, 0.010)
        thresholds, last = memory_steps_mib()
        out["memory_request"] = round_up_steps(
            out["memory_request"].clip(lower=settings.memory_min_bytes), thresholds, last
        )
        out["memory_limit"] = round_up_steps(
            out["memory_limit"].clip(lower=settings.memory_min_bytes), thresholds, last
        )
        unset = out["memory_limit"].isna()
        out["memory_limit"] = pd.Series(
            np.fmax(out["memory_limit"], out["memory_request"]), index=out.index
        ).where(~unset)
        return out


def kianax_cpu(
    settings: KianaxSettings,
    *,
    service: pd.Series,
    batch: pd.Series,
    is_batch: Any,
    index: pd.Index,
) -> tuple[pd.Series, pd.Series | float]:
    """The kianax CPU request and limit, per container (the CPU half of :func:`kianax_memory`).

    A service is sized at its percentile over the target utilisation (headroom before the HPA
    or the node saturates); a batch container at its batch percentile as is. The limit is the
    request x ``cpu_limit_multiplier``, or unset (NaN) when the profile sets no multiplier.
    """
    request = pd.Series(
        np.where(is_batch, batch, service / settings.cpu_target_utilization), index=index
    )
    limit = request * settings.cpu_limit_multiplier if settings.cpu_limit_multiplier else np.nan
    return request, limit


def kianax_memory(
    settings: KianaxSettings,
    *,
    percentile: pd.Series,
    peak: pd.Series,
    inventory: pd.DataFrame,
    oom: pd.Series,
    leaking: pd.Series,
    batch: pd.Series,
    leak_growth: tuple[pd.Series, pd.Series] | None = None,
) -> tuple[pd.Series, pd.Series]:
    """The kianax memory request and limit from a percentile and the peak, per container.

    Shared by the series path and the aggregate (server-side statistics) path so both follow
    one policy: request = percentile + margin; limit = max(peak + margin, peak + fixed headroom)
    because limits cost nothing; after OOM kills both go above the old limit and the peak; a
    leaking container (``leak_growth`` = its growth per day and the working set it restarts at)
    gets a limit that lasts ``leak_restart_interval_days`` between restarts, never below today's,
    rounded as :meth:`KianaxStrategy.finalize` rounds, and a request of the working set that a
    restart cycle at that limit averages (without ``leak_growth`` it keeps its memory as it is);
    batch request = limit = peak + margin; an unset limit stays unset.
    """
    index = peak.index
    current_limit = inventory["memory_limit_bytes"]
    current_request = inventory["memory_request_bytes"]
    memory_request = percentile * (1.0 + settings.memory_request_margin)
    # (No fixed headroom where request = limit: there it would be paid for.)
    headroom = (
        0.0 if settings.memory_request_equals_limit else settings.memory_limit_min_headroom_bytes
    )
    memory_limit = pd.Series(
        np.fmax(peak * (1.0 + settings.memory_limit_margin), peak + headroom), index=index
    )
    # OOM-killed (and not leaking): the peak was cut off at the old limit; go above both.
    ceiling = np.fmax(peak, current_limit)
    bumped = np.maximum(ceiling * settings.oom_bump_ratio, ceiling + settings.oom_min_bump_bytes)
    memory_limit = memory_limit.where(~oom, pd.Series(np.fmax(memory_limit, bumped), index=index))
    memory_request = memory_request.where(~oom, np.fmax(memory_request, peak))
    # A leak is a bug: the row says so. Until it is fixed, the limit lets it run a stated
    # interval between OOM restarts (never less than today's), the request its cycle's average.
    if leak_growth is not None:
        slope, baseline = leak_growth
        lasting = (baseline + slope * settings.leak_restart_interval_days) * (
            1.0 + settings.memory_limit_margin
        )
        thresholds, last = memory_steps_mib()
        mitigated = round_up_steps(
            pd.Series(np.fmax(lasting, current_limit), index=index), thresholds, last
        )
        mitigated = mitigated.where(current_limit.notna() & np.isfinite(lasting), current_limit)
        cycle_average = (baseline + mitigated) / 2.0
        memory_limit = memory_limit.where(~(leaking & current_limit.notna()), mitigated)
        memory_request = memory_request.where(
            ~(leaking & current_limit.notna()), pd.Series(cycle_average, index=index)
        )
    else:
        memory_limit = memory_limit.where(~(leaking & current_limit.notna()), current_limit)
        memory_request = memory_request.where(~(leaking & current_request.notna()), current_request)
    batch_memory = peak * (1.0 + settings.batch_memory_margin)
    memory_request = memory_request.where(~batch, batch_memory)
    memory_limit = memory_limit.where(~batch, batch_memory)
    if settings.memory_request_equals_limit:
        memory_request = memory_limit.copy()
    memory_request = pd.Series(np.fmin(memory_request, memory_limit), index=index)
    if settings.keep_unset_memory_limit and not settings.memory_request_equals_limit:
        memory_limit = memory_limit.where(current_limit.notna() | batch, np.nan)
    return memory_request, memory_limit


@dataclass(frozen=True)
class _Memory:
    """The kianax memory answer and what its evidence and reason read, made once for samples
    and statistics alike (:func:`_leak_aware_memory`)."""

    request: pd.Series
    limit: pd.Series
    leaking: pd.Series
    oom: pd.Series  # OOM-killed in the window and not leaking
    slope: pd.Series  # leak growth, bytes a day
    baseline: pd.Series  # the working set a restart puts a leaking container at

    def restart_days(self, current_limit: pd.Series, limit: pd.Series) -> tuple[Any, Any]:
        """Days a leaking container runs between restarts at today's and at ``limit``."""
        with np.errstate(divide="ignore", invalid="ignore"):
            today = ((current_limit - self.baseline) / self.slope).where(self.leaking)
            recommended = ((limit - self.baseline) / self.slope).where(self.leaking)
        return today, recommended


def _leak_aware_memory(
    settings: KianaxSettings,
    *,
    percentile: pd.Series,
    peak: pd.Series,
    inventory: pd.DataFrame,
    leaks: pd.DataFrame,
    batch: pd.Series,
    restart_floor: pd.Series | None = None,
) -> _Memory:
    """:func:`kianax_memory` with the leaks and OOM kills read from ``leaks`` and ``inventory``
    (``restart_floor``: the baseline where the detector gave none, the lowest working set)."""
    leaking = leaks["leak"].astype("boolean").fillna(False).astype(bool)
    oom = (inventory["oom_kills"].fillna(0) > 0) & ~leaking
    slope = leaks["slope_bytes_per_day"].astype("float64")
    baseline = leaks["baseline_bytes"].astype("float64")
    if restart_floor is not None:
        baseline = baseline.fillna(restart_floor)
    request, limit = kianax_memory(
        settings,
        percentile=percentile,
        peak=peak,
        inventory=inventory,
        oom=oom,
        leaking=leaking,
        batch=batch,
        leak_growth=(slope, baseline),
    )
    return _Memory(request, limit, leaking, oom, slope, baseline)


def seasons(epoch_seconds: pd.Series) -> pd.Series:
    """The season name of each epoch second (see :func:`season_codes`)."""
    names = np.asarray(SEASONS, dtype=object)[season_codes(epoch_seconds)]
    return pd.Series(names, index=epoch_seconds.index)


def season_cpu(
    snapshot: Snapshot, data: UsageData, settings: KianaxSettings
) -> tuple[pd.Series, pd.Series]:
    """The busiest season's pooled CPU percentile per cid and the season's name.

    The server computed each pod's seasonal percentiles on throttle-adjusted CPU; they are
    pooled over the pods (:func:`pooled_quantile`), a season counts when its pooled steps reach
    ``min_season_samples``, and the highest season wins, as with samples. Empty when the
    snapshot has no ``container_season_stats`` (older snapshots) or the profile is not seasonal.
    """
    nothing = (pd.Series(dtype="float64"), pd.Series(dtype="object"))
    stats = snapshot.table("container_season_stats")
    # The server applied the strategy's default throttle threshold and startup exclusion
    # (queries/aggregate_cpu_<season>.promql); other settings fall back to the whole window.
    defaults = KianaxSettings()
    if (
        stats.empty
        or not settings.seasonal
        or settings.throttle_threshold != defaults.throttle_threshold
        or settings.startup_exclusion_minutes != defaults.startup_exclusion_minutes
    ):
        return nothing
    frame = with_cid(stats.astype({"season": str}), snapshot, data)
    code = frame["season"].map({name: i for i, name in enumerate(SEASONS)})
    frame = frame[code.notna()]
    if frame.empty:
        return nothing
    key = frame["cid"].to_numpy(dtype="int64") * 3 + code[frame.index].to_numpy(dtype="int64")
    knots = [
        (level, frame[f"cpu_cores_{suffix}"].to_numpy(dtype=float))
        for level, suffix in ((0.9, "p90"), (0.95, "p95"), (0.99, "p99"), (1.0, "max"))
    ]
    samples = frame["samples"].to_numpy(dtype=float)
    pooled = pooled_quantile(key, knots, samples, settings.cpu_percentile / 100.0)
    counts = pd.Series(samples).groupby(key).sum()
    pooled = pooled[counts.reindex(pooled.index).to_numpy() >= settings.min_season_samples]
    if pooled.empty:
        return nothing
    owner = pooled.index.to_numpy() // 3
    best = pooled.groupby(owner).max()
    names = (pooled.groupby(owner).idxmax() % 3).map(dict(enumerate(SEASONS)))
    return best, names


def _notes(
    raw: pd.DataFrame, oom: pd.Series, leaking: pd.Series, settings: KianaxSettings
) -> pd.Series:
    """A sentence per container explaining the strategy-specific parts of the recommendation."""
    notes = pd.Series("", index=raw.index, dtype="object")
    throttled = raw["ev_cpu_throttled_sample_share"].fillna(0) > 0.05
    notes[throttled] = (
        "CPU was throttled in "
        + (raw.loc[throttled, "ev_cpu_throttled_sample_share"] * 100)
        .round()
        .astype(int)
        .astype(str)
        + "% of samples, so measured usage is capped by the limit; the request is sized on "
        "usage scaled up by the throttled ratio."
    )
    oom_note = "It was OOM-killed in the window, so the memory limit is raised above the old limit and peak."
    notes[oom] = (notes[oom] + " " + oom_note).str.strip()
    notes[leaking] = (notes[leaking] + " " + leak_notes(raw[leaking])).str.strip()
    return notes


def _startup_notes(raw: pd.DataFrame, settings: KianaxSettings) -> pd.Series:
    """Names a container whose start needs more CPU than its steady request."""
    peak = raw["ev_cpu_startup_peak_cores"]
    starts = raw["ev_startups"].fillna(0).astype("int64")
    hungry = peak.notna() & (peak > raw["cpu_request"])
    notes = pd.Series("", index=raw.index, dtype="object")
    for cid in raw.index[hungry]:
        notes[cid] = (
            f"Its pods use up to {format_cpu(float(peak[cid]))} CPU in their first "
            f"{settings.startup_exclusion_minutes:g} minutes after a start ({int(starts[cid])} "
            "starts seen, restarts inside a pod included), more than its steady-state request, which is sized without those "
            "minutes: give the start its CPU with Kubernetes' in-place pod resize or the VPA's "
            "CPU startup boost rather than paying for it all day."
        )
    return notes


def _statistics_notes(
    raw: pd.DataFrame,
    snapshot: Snapshot,
    settings: KianaxSettings,
    *,
    throttled: pd.Series,
    oom: pd.Series,
) -> pd.Series:
    """The sentence of every row sized from statistics: what the server computed, then the
    throttled, OOM-killed and leaking containers' reasons."""
    seasons_known = bool(raw["ev_cpu_busiest_season_percentile_cores"].notna().any())
    screened = "leak_screen" in (snapshot.manifest.extra.get("prometheus") or {}) or not (
        snapshot.table("memory_peaks").empty
    )
    note = (
        AGGREGATE_NOTE
        + (SEASONS_NOTE if seasons_known else NO_SEASONS_NOTE)
        + (LEAK_SCREEN_NOTE if screened else NO_LEAK_SCREEN_NOTE)
    )
    notes = pd.Series(note, index=raw.index, dtype="object")
    throttle_note = (
        " CPU was throttled (mean throttled-period ratio above "
        f"{settings.throttle_threshold:.0%} in a pod), so the request is sized on usage scaled "
        "up by that ratio."
    )
    oom_note = (
        " It was OOM-killed in the window, so the memory limit is raised above the old limit "
        "and peak."
    )
    notes[throttled] = notes[throttled] + throttle_note
    notes[oom] = notes[oom] + oom_note
    leaking = raw["leak"].astype(bool)
    if leaking.any():
        notes[leaking] = notes[leaking] + " " + leak_notes(raw[leaking])
    return notes
