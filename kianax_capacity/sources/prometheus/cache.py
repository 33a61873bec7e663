"""The per-day cache of the aggregate fetch: complete UTC days are read from the server once.

A day of data stops changing once it has passed and late samples have arrived. The aggregate
shape asks the server for each day on its own (:func:`~.plan.aggregate_day_chunks`), and the
client folds each day's answers into one :class:`~.fold.Results` before combining it with the
other days (:meth:`~.fold.Results.absorb`). That per-day result, as :class:`~.fold.DayFrames` (the day's
statistic parts, inventory folds and range answers), is what an entry stores, as Parquet files, so a run whose
window moved by one day asks the server for the new day only and combines the other thirteen
from disk exactly as it would have combined their answers.

Layout: ``<root>/<key digest>/key.json`` (what the digest stands for, readable, no credentials)
and one folder per day, ``<start>-<end>/`` with ``meta.json`` and the Parquet files. The key is
everything that changes what a day's answers are (:func:`cache_key`): the server URL without
userinfo, query or fragment, tenant headers, the selector, the templates' and the catalog's
hash, the step, the shape, the dialect and the rate/sample windows. On top of that each entry
records the digest of its day's exact requests (:func:`jobs_digest`), checked on every read, so
an entry can only ever be read back by the very requests that produced it.

Only complete days are stored (a full chunk whose end is at least :data:`SETTLE_SECONDS` in the
past when fetched, :func:`cacheable`); writes go to a temporary folder renamed into place; an
entry that cannot be read (a truncated file, a foreign format) is a warning and a miss.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import sys
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from kianax_capacity.sources.prometheus.auth import redact_url
from kianax_capacity.sources.prometheus.catalog import (
    AGGREGATE_PARTS,
    AGGREGATE_QUERIES,
    QUERIES,
    folds_of,
)
from kianax_capacity.sources.prometheus.fold import DayFrames
from kianax_capacity.sources.prometheus.plan import QueryJob, TimeGrid
from kianax_capacity.sources.prometheus.promql import QUERY_NAMES, Selector, load_template
from kianax_capacity.sources.prometheus.range_answer import RangeAnswer

__all__ = [
    "CACHE_FORMAT",
    "SETTLE_SECONDS",
    "CacheStats",
    "DayCache",
    "cache_key",
    "cache_summary",
    "cacheable",
    "default_cache_dir",
    "jobs_digest",
    "templates_digest",
]

_LOGGER = logging.getLogger(__name__)

#: The entry layout's version: a change to what an entry holds or how it is read bumps it, and
#: every older entry is then in another key folder, never read.
CACHE_FORMAT = 2  # 2: the daily parts of the aggregate shape's sections
#: A chunk is stored once its end is this far in the past: samples scraped just before midnight
#: arrive (remote write, federation, a late scrape) up to minutes later; an hour is generous.
SETTLE_SECONDS = 3600
#: Request headers that select whose data a multi-tenant server answers with (Mimir, Cortex,
#: Thanos, Grafana Cloud): part of the key; every other header (tokens) is left out of it.
TENANT_HEADERS = frozenset({"x-scope-orgid", "thanos-tenant", "x-prometheus-tenant"})


def default_cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CACHE_HOME/kianax-capacity``, else ``~/.cache/kianax-capacity``."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_CACHE_HOME") or str(Path(env.get("HOME", "~")).expanduser() / ".cache")
    return Path(base).expanduser() / "kianax-capacity"


def templates_digest() -> str:
    """The hash of every query template's text and of the catalog (folds, parts, statistics):
    a changed template or fold rule is a different key."""
    digest = hashlib.sha256()
    for name in QUERY_NAMES:
        digest.update(f"{name}\0{load_template(name)}\0".encode())
    digest.update(repr(QUERIES).encode())
    digest.update(repr(sorted(AGGREGATE_PARTS.items())).encode())
    digest.update(repr(sorted(AGGREGATE_QUERIES.items())).encode())
    return digest.hexdigest()


def cache_key(
    *,
    url: str,
    headers: Mapping[str, str],
    selector: Selector,
    step_seconds: int,
    shape: str,
    dialect: str,
    rate_window_seconds: float,
    sample_window_seconds: float,
    aggregate_chunk_seconds: float,
) -> dict[str, Any]:
    """What a day's answers depend on besides its own times (all of it safe to write down)."""
    tenants = {k.lower(): v for k, v in headers.items() if k.lower() in TENANT_HEADERS}
    return {
        "format": CACHE_FORMAT,
        "url": redact_url(url),
        "tenant": dict(sorted(tenants.items())),
        "selector": [selector.namespaced, selector.cluster_only],
        "templates": templates_digest(),
        "step_seconds": step_seconds,
        "shape": shape,
        "dialect": dialect,
        "rate_window_seconds": rate_window_seconds,
        "sample_window_seconds": sample_window_seconds,
        "aggregate_chunk_seconds": aggregate_chunk_seconds,
    }


def _job_record(job: QueryJob) -> list[Any]:
    grid = (
        None
        if job.grid is None
        else [job.grid.end.isoformat(), job.grid.step_seconds, job.grid.points]
    )
    fallback = None if job.fallback is None else _job_record(job.fallback)
    time = None if job.time is None else job.time.isoformat()
    return [job.name, job.promql, time, grid, fallback]


def jobs_digest(jobs: Iterable[QueryJob]) -> str:
    """The hash of one day's requests (names, PromQL, times): an entry answers exactly these."""
    records = sorted((_job_record(job) for job in jobs), key=lambda r: (r[0], r[1]))
    return hashlib.sha256(orjson.dumps(records)).hexdigest()


def cacheable(chunk: TimeGrid, full_points: int, now: datetime) -> bool:
    """Whether ``chunk`` is a whole period (a UTC day) that had settled at ``now``."""
    period = full_points * chunk.step_seconds
    aligned = round(chunk.end.timestamp()) % period == 0
    settled = chunk.end + timedelta(seconds=SETTLE_SECONDS) <= now
    return chunk.points == full_points and aligned and settled


@dataclass
class CacheStats:
    """What the cache did in one fetch (the manifest's ``cache`` and the progress line)."""

    directory: str = ""
    hits: int = 0  # days read from the cache
    misses: int = 0  # cacheable days fetched (and stored)
    uncacheable: int = 0  # partial or unsettled days, fetched and never stored
    invalid: int = 0  # entries found but unreadable or for other requests: fetched again
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        text = f"{self.hits} day(s) from the cache, {self.misses} fetched and stored"
        if self.uncacheable:
            text += f", {self.uncacheable} not cacheable (partial or less than an hour old)"
        if self.invalid:
            text += (
                f", {self.invalid} unreadable entr{'y' if self.invalid == 1 else 'ies'} replaced"
            )
        return text

    def manifest(self) -> dict[str, Any]:
        return {
            "directory": self.directory,
            "hits": self.hits,
            "misses": self.misses,
            "uncacheable": self.uncacheable,
            "invalid": self.invalid,
        }


def cache_summary(stats: Mapping[str, Any]) -> str:
    """One line from :meth:`CacheStats.manifest` (the CLI prints it after the fetch)."""
    text = f"{stats['hits']} day(s) from the cache, {stats['misses']} fetched and stored"
    if stats["uncacheable"]:
        text += f", {stats['uncacheable']} not cacheable (partial or less than an hour old)"
    if stats["invalid"]:
        invalid = stats["invalid"]
        text += f", {invalid} unreadable entr{'y' if invalid == 1 else 'ies'} replaced"
    return text


class DayCache:
    """One key's folder of day entries under ``root``."""

    def __init__(self, root: Path, key: Mapping[str, Any]) -> None:
        self.key = dict(key)
        digest = hashlib.sha256(json.dumps(self.key, sort_keys=True).encode()).hexdigest()
        self.digest = digest
        self.directory = Path(root) / digest[:32]

    def _entry(self, chunk: TimeGrid) -> Path:
        start, end = chunk.window_start, chunk.end
        return self.directory / f"{start:%Y%m%dT%H%M%SZ}-{end:%Y%m%dT%H%M%SZ}"

    def probe(self, chunk: TimeGrid, jobs: str, stats: CacheStats) -> bool:
        """Whether an entry for ``chunk`` written by exactly ``jobs`` is there (its meta only;
        one for other requests or unreadable is warned about, counted invalid, and False)."""
        entry = self._entry(chunk)
        if not (entry / "meta.json").exists():
            return False
        try:
            meta = json.loads((entry / "meta.json").read_text())
            if meta.get("format") != CACHE_FORMAT or meta.get("key") != self.digest:
                raise ValueError("written for another key or format")
            if meta.get("jobs") != jobs:
                raise ValueError("written by other requests")
        except (OSError, ValueError) as exc:
            self._invalid(entry, exc, stats)
            return False
        return True

    def read(self, chunk: TimeGrid, stats: CacheStats) -> DayFrames | None:
        """The day's frames, or None when its files cannot be read (warned, counted invalid)."""
        entry = self._entry(chunk)
        try:
            meta = json.loads((entry / "meta.json").read_text())
            return _read_day(entry, meta)
        except Exception as exc:
            self._invalid(entry, exc, stats)
            return None

    def load(self, chunk: TimeGrid, jobs: str, stats: CacheStats) -> DayFrames | None:
        """:meth:`probe`, then :meth:`read`."""
        return self.read(chunk, stats) if self.probe(chunk, jobs, stats) else None

    @staticmethod
    def _invalid(entry: Path, exc: BaseException, stats: CacheStats) -> None:
        stats.invalid += 1
        message = f"cache entry {entry} ignored ({type(exc).__name__}: {exc}); fetching the day"
        stats.warnings.append(message)  # logged with the fetch's other warnings

    def store(self, chunk: TimeGrid, jobs: str, day: DayFrames) -> None:
        """Write the day's results atomically (temp folder, then rename); a failure to write
        is a warning, never a failed fetch."""
        entry = self._entry(chunk)
        tmp = self.directory / f".tmp-{entry.name}-{uuid.uuid4().hex}"
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            key_file = self.directory / "key.json"
            if not key_file.exists():
                _atomic_text(key_file, json.dumps(self.key, indent=2, sort_keys=True))
            tmp.mkdir()
            meta = _write_day(tmp, day)
            meta.update(
                format=CACHE_FORMAT,
                key=self.digest,
                jobs=jobs,
                start=chunk.window_start.isoformat(),
                end=chunk.end.isoformat(),
            )
            (tmp / "meta.json").write_text(json.dumps(meta, sort_keys=True))
            _replace_dir(tmp, entry)
        except OSError as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            _LOGGER.warning("could not write cache entry %s: %s", entry, exc)


def _atomic_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    tmp.write_text(text)
    os.replace(tmp, path)


def _replace_dir(tmp: Path, entry: Path) -> None:
    """Rename ``tmp`` to ``entry``; an existing (stale or unreadable) entry is moved aside
    first and removed after, so a reader sees the old entry, nothing, or the new one."""
    old = None
    if entry.exists():
        old = entry.with_name(f".old-{entry.name}-{uuid.uuid4().hex}")
        os.rename(entry, old)
    os.rename(tmp, entry)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# One day's frames <-> Parquet files


def _write(table: pa.Table, path: Path) -> None:
    pq.write_table(table, path, compression="zstd")


def _strings(values: Iterable[Any]) -> pa.Array:
    return pa.array(list(values), type=pa.string())


def _write_day(folder: Path, day: DayFrames) -> dict[str, Any]:
    """Every frame of ``day`` as files in ``folder``; the meta that lists them."""
    meta: dict[str, Any] = {"folds": {}, "instant": {}, "range": {}, "daily": []}
    _write(pa.Table.from_pandas(day.parts, preserve_index=False), folder / "parts.parquet")
    for index, (time, frame) in enumerate(sorted(day.daily.items())):
        _write(pa.Table.from_pandas(frame, preserve_index=False), folder / f"daily.{index}.parquet")
        meta["daily"].append(time)
    for name, (frame, rows) in sorted(day.folds.items()):
        columns = {
            label: _strings(frame[label].tolist()) for label in frame.columns if label != "value"
        }
        columns["value"] = pa.array(frame["value"].to_numpy(dtype=float))
        _write(pa.table(columns), folder / f"fold.{name}.parquet")
        meta["folds"][name] = rows
    for name, answers in sorted(day.answers.items()):
        for index, answer in enumerate(answers):
            if isinstance(answer, pd.DataFrame):
                _write(_instant_table(answer), folder / f"instant.{name}.{index}.parquet")
                meta["instant"][name] = index + 1
            else:
                _write(_range_table(answer), folder / f"range.{name}.{index}.parquet")
                meta["range"][name] = index + 1
    return meta


def _instant_table(frame: pd.DataFrame) -> pa.Table:
    columns = {name: _strings(frame[name].tolist()) for name in frame.columns if name != "value"}
    columns["value"] = pa.array(frame["value"].to_numpy(dtype=float))
    return pa.table(columns)


def _range_table(answer: RangeAnswer) -> pa.Table:
    """A range answer: one row per series, its labels as JSON and its points as two lists."""
    offsets = pa.array(np.concatenate([[0], np.cumsum(answer.lengths)]).astype(np.int32))
    return pa.table(
        {
            "labels": _strings(orjson.dumps(labels).decode() for labels in answer.metrics),
            "t": pa.ListArray.from_arrays(offsets, pa.array(answer.seconds())),
            "v": pa.ListArray.from_arrays(offsets, pa.array(answer.values())),
        }
    )


def _column(table: pa.Table, name: str) -> np.ndarray:
    """A column as numpy: floats as they are, strings (and all-null columns) as objects.

    Key strings are not interned here: :class:`~.fold.Fold` and the combiner intern the keys
    they have not seen, and only those are kept.
    """
    column = table[name]
    if pa.types.is_floating(column.type) or pa.types.is_integer(column.type):
        return column.to_numpy()
    return np.array(column.to_pylist(), dtype=object)


def _read_day(folder: Path, meta: Mapping[str, Any]) -> DayFrames:
    """The day's frames back from its files."""
    parts_table = pq.read_table(folder / "parts.parquet")
    parts = pd.DataFrame({name: _column(parts_table, name) for name in parts_table.column_names})
    missing = sorted(set(AGGREGATE_PARTS) - set(parts.columns))
    if missing and len(parts):
        raise ValueError(f"parts.parquet lacks {missing}")
    specs = folds_of()
    folds: dict[str, tuple[pd.DataFrame, int]] = {}
    for name, rows in meta["folds"].items():
        spec = specs[name]  # KeyError: a fold this catalog does not have
        table = pq.read_table(folder / f"fold.{name}.parquet")
        labels = [*spec.key, *spec.extra, "value"]
        folds[name] = (pd.DataFrame({label: _column(table, label) for label in labels}), int(rows))
    answers: dict[str, list[Any]] = {}
    for name, count in meta["instant"].items():
        for index in range(int(count)):
            table = pq.read_table(folder / f"instant.{name}.{index}.parquet")
            instant = pd.DataFrame(
                {
                    column: pd.Series(_column(table, column), dtype=object)
                    for column in table.column_names
                    if column != "value"
                }
            )
            instant["value"] = table["value"].to_numpy()
            answers.setdefault(name, []).append(instant)
    for name, count in meta["range"].items():
        for index in range(int(count)):
            table = pq.read_table(folder / f"range.{name}.{index}.parquet")
            answers.setdefault(name, []).append(_range_answer(table))
    daily: dict[float, pd.DataFrame] = {}
    for index, time in enumerate(meta["daily"]):
        table = pq.read_table(folder / f"daily.{index}.parquet")
        daily[float(time)] = pd.DataFrame(
            {name: _column(table, name) for name in table.column_names}
        )
    return DayFrames(parts, folds, answers, daily)


def _range_answer(table: pa.Table) -> RangeAnswer:
    labels = table["labels"].to_pylist()
    t_list = table["t"].combine_chunks()
    v_list = table["v"].combine_chunks()
    offsets = t_list.offsets.to_numpy()
    if not np.array_equal(offsets, v_list.offsets.to_numpy()):
        raise ValueError("range answer's time and value lists differ in length")
    metrics = [
        {name: sys.intern(value) for name, value in orjson.loads(text).items()} for text in labels
    ]
    return RangeAnswer(
        metrics, np.diff(offsets), t_list.values.to_numpy(), v_list.values.to_numpy()
    )
