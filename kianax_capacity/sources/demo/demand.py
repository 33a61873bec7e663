"""Demand profiles (total cores across a workload at each step), HPA replicas, CronJob runs."""

from __future__ import annotations

from datetime import UTC

import numpy as np
import pandas as pd

from kianax_capacity.sources.demo.catalog import WorkloadSpec


def _calendar(timestamps: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    hours = (timestamps.hour + timestamps.minute / 60.0).to_numpy(dtype=float)
    weekend = np.asarray(timestamps.day_of_week >= 5)
    minutes = hours * 60
    market = ((minutes >= 14 * 60 + 30) & (minutes < 21 * 60) & ~weekend).astype(float)
    return hours, weekend, market


def demand_series(
    profile: str, scale: float, timestamps: pd.DatetimeIndex, rng: np.random.Generator
) -> np.ndarray:
    hours, weekend, market = _calendar(timestamps)
    n = len(timestamps)
    # US-centred day: peak around 17:00 UTC, trough around 05:00 UTC.
    day = 0.5 + 0.5 * np.cos(2 * np.pi * (hours - 17.0) / 24.0)
    week = np.where(weekend, 0.55, 1.0)
    noise = rng.lognormal(0.0, 0.08, n)
    if profile == "web":
        base = (0.25 + 0.75 * day) * week
    elif profile == "market":
        # Market hours dominate; a smooth ramp into the open and out of the close.
        ramp = np.convolve(market, np.ones(5) / 5, mode="same")
        base = 0.22 + 0.12 * day * week + 0.95 * ramp
    elif profile == "bursty":
        base = (0.3 + 0.3 * day) * week
        bursts = np.zeros(n)
        starts = np.flatnonzero(rng.random(n) < 0.018)
        for s in starts:
            length = int(rng.integers(2, 7))
            bursts[s : s + length] += rng.exponential(1.0)
        base = base + bursts
        noise = rng.lognormal(0.0, 0.2, n)
    elif profile in ("flat", "node"):
        base = np.ones(n)
        noise = rng.lognormal(0.0, 0.1, n)
    else:  # pragma: no cover - catalogue is static
        raise ValueError(profile)
    return np.maximum(base * noise * scale, 0.0)


def hpa_replicas(
    demand: np.ndarray, memory_per_pod: float, spec: WorkloadSpec
) -> tuple[np.ndarray, np.ndarray]:
    """A compact HPA: desired from CPU (and memory) utilisation, 5-minute scale-down window."""
    assert spec.hpa is not None
    hpa = spec.hpa
    request = sum(c.cpu_request for c in spec.containers)
    memory_request = sum(c.memory_request for c in spec.containers)
    desired = np.ceil(demand / (request * (hpa.target_cpu or 100) / 100.0) - 1e-9)
    if hpa.target_memory:
        desired = np.maximum(
            desired, np.ceil(memory_per_pod / (memory_request * hpa.target_memory / 100.0))
        )
    clamped = np.clip(desired, hpa.min_replicas, hpa.max_replicas)
    current = clamped.copy()
    current[1:] = np.maximum(clamped[1:], clamped[:-1])  # scale down only after 5 minutes
    return current.astype(int), clamped.astype(int)


def cron_run_ids(spec: WorkloadSpec, timestamps: pd.DatetimeIndex, step_seconds: int) -> np.ndarray:
    """For each step, the scheduled run (minute of the epoch it started) or -1 when idle."""
    assert spec.schedule is not None
    starts_minutes, length, weekdays_only = spec.schedule
    ids = np.full(len(timestamps), -1, dtype=np.int64)
    epoch_minutes = np.asarray(
        (timestamps - pd.Timestamp(0, tz=UTC)) // pd.Timedelta(minutes=1), dtype=np.int64
    )
    day_start = epoch_minutes - epoch_minutes % 1440
    minute_of_day = epoch_minutes % 1440
    weekend = np.asarray(timestamps.day_of_week >= 5)
    for start in starts_minutes:
        # A step ending at t covers (t - step, t]; the job runs [start, start + length).
        running = (minute_of_day > start) & (
            minute_of_day <= start + length + step_seconds // 60 - 1
        )
        if weekdays_only:
            running &= ~weekend
        ids = np.where(running, day_start + start, ids)
    return ids


def cron_active(spec: WorkloadSpec, timestamps: pd.DatetimeIndex, step_seconds: int) -> np.ndarray:
    return (cron_run_ids(spec, timestamps, step_seconds) >= 0).astype(int)
