"""Folding answers as they arrive: per-key running values, so no chunk's answer is kept.

:class:`Results` holds every answer of a fetch by query name: inventory answers folded into
one row per key (:class:`Fold`), the aggregate statistics combined per container
(:class:`ChunkCombiner`), other instant answers as compact frames and range answers as
:class:`~.range_answer.RangeAnswer`. The worker threads add to it concurrently.
"""

from __future__ import annotations

import itertools
import pickle
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kianax_capacity.sources.prometheus.catalog import (
    AGGREGATE_PARTS,
    AGGREGATE_QUERIES,
    DAILY_PARTS,
    LABEL_VALUE_SEPARATOR,
    FoldSpec,
    folds_of,
)
from kianax_capacity.sources.prometheus.plan import QueryJob
from kianax_capacity.sources.prometheus.range_answer import RangeAnswer

__all__ = [
    "CONTAINER",
    "SPILLED_ANSWERS",
    "ChunkCombiner",
    "CompleteParts",
    "DayFrames",
    "Fold",
    "Results",
    "SpilledAnswer",
    "folds",
    "objects",
    "utc_times",
]

#: The labels that name one container.
CONTAINER = ["namespace", "pod", "container"]


def _ids_of(ids: dict[tuple[str, ...], int], keys: Iterable[tuple[str, ...]]) -> np.ndarray:
    """The id of each key in ``ids``, adding unseen keys with the next ids.

    An unseen key is stored with interned strings: a key's strings come from one parsed answer
    and would otherwise each stay allocated among that answer's freed objects (a pod's name in
    every fold and for every day it is first seen), which fragments the heap (docs/scaling.md).
    """
    found = ids.get
    out: list[int] = []
    append = out.append
    for key in keys:
        index = found(key)
        if index is None:
            index = ids[tuple([sys.intern(part) for part in key])] = len(ids)
        append(index)
    return np.array(out, dtype=np.intp)


class ChunkCombiner:
    """Running per-container aggregates of the aggregate parts, combined as answers arrive.

    Each (namespace, pod, container) gets an integer id on first sight; every part is a numpy
    column indexed by id, combined in place with the part's rule (``max``, ``min`` or ``sum``).
    Memory is O(pod containers x parts) whatever the number of chunks, and no chunk's answer is
    kept once combined. Thread-safe: the fetch's worker threads call :meth:`add` concurrently.

    Args:
        rules: part name -> ``max``, ``min`` or ``sum``.
    """

    def __init__(self, rules: Mapping[str, str]) -> None:
        unknown = sorted(set(rules.values()) - {"max", "min", "sum"})
        if unknown:
            raise ValueError(f"unknown combination rule(s) {unknown}")
        self._rules = dict(rules)
        self._ids: dict[tuple[str, ...], int] = {}
        self._columns = {name: np.full(0, np.nan) for name in self._rules}
        self._lock = threading.Lock()

    def add_answer(self, part: str, result: list[dict[str, Any]]) -> None:
        """Combine one instant answer (Prometheus JSON ``result``) into ``part``."""
        self.add_labelled({"": part}, None, result)

    def add_labelled(
        self,
        parts: Mapping[str, str],
        label: str | tuple[str, ...] | None,
        result: list[dict[str, Any]],
    ) -> None:
        """Combine one instant answer holding several parts, told apart by ``label``.

        ``parts`` maps a label value to its part; values compare as numbers when they are
        numbers (``phi="0.50"`` is ``0.5``). With several labels, a key of ``parts`` is their
        values joined by :data:`~.catalog.LABEL_VALUE_SEPARATOR`. A series whose value names no
        part (a server adding statistics it was not asked for) is ignored rather than mixed
        into another part. With ``label`` None every series belongs to the one part of ``parts``.

        One pass over the answer: a day's MetricsQL answers hold a series per container and
        statistic, and splitting them by part first, then reading each part's keys and values
        again, would read every series twice.
        """
        labels = () if label is None else (label,) if isinstance(label, str) else label
        names = list(dict.fromkeys(parts.values()))
        code_of = {
            _labels_key(value.split(LABEL_VALUE_SEPARATOR)): names.index(part)
            for value, part in parts.items()
        }
        seen: dict[tuple[str, ...], int] = {}  # raw label values -> part index (-1: not asked)
        keys: list[tuple[str, str, str]] = []
        codes: list[int] = []
        values: list[str] = []
        for series in result:
            metric = series.get("metric", {})
            code = 0
            if labels:
                raw = tuple([metric.get(name, "") for name in labels])
                found = seen.get(raw)
                if found is None:
                    found = seen[raw] = code_of.get(_labels_key(raw), -1)
                if found < 0:
                    continue
                code = found
            keys.append(
                (metric.get("namespace", ""), metric.get("pod", ""), metric.get("container", ""))
            )
            codes.append(code)
            values.append(series["value"][1])
        numbers = np.array(values, dtype=float)
        part_codes = np.array(codes, dtype=np.intp)
        with self._lock:
            ids = _ids_of(self._ids, keys)
            self._grow(len(self._ids))
            for code, part in enumerate(names):
                chosen = part_codes == code if len(names) > 1 else slice(None)
                self._combine(part, ids[chosen], numbers[chosen])

    def add(self, part: str, keys: list[tuple[str, str, str]], values: np.ndarray) -> None:
        """Combine one chunk's ``values`` (one per key) into the running ``part``."""
        values = np.asarray(values, dtype=float)
        with self._lock:
            ids = _ids_of(self._ids, keys)
            self._grow(len(self._ids))
            self._combine(part, ids, values)

    def add_frame(self, frame: pd.DataFrame) -> None:
        """Combine another combiner's :meth:`frame` (one day's parts, live or cached) into this
        one; a NaN there is a part the key had no value for, and is skipped."""
        if frame.empty:
            return
        keys = list(zip(*[frame[label].tolist() for label in CONTAINER], strict=True))
        with self._lock:
            ids = _ids_of(self._ids, keys)
            self._grow(len(self._ids))
            for part in self._rules:
                if part not in frame.columns:
                    continue
                values = frame[part].to_numpy(dtype=float)
                seen = ~np.isnan(values)
                self._combine(part, ids[seen], values[seen])

    def _combine(self, part: str, ids: np.ndarray, values: np.ndarray) -> None:
        """Fold ``values`` into ``part`` at ``ids`` with the part's rule (lock held)."""
        rule = self._rules[part]
        column = self._columns[part]
        # ufunc.at applies repeated ids one after the other, so a key listed twice in one
        # answer still combines correctly. fmax/fmin ignore the NaN of "not seen yet".
        if rule == "max":
            np.fmax.at(column, ids, values)
        elif rule == "min":
            np.fmin.at(column, ids, values)
        else:
            fresh = ids[np.isnan(column[ids])]
            column[fresh] = 0.0
            np.add.at(column, ids, values)

    def _grow(self, size: int) -> None:
        for name, column in self._columns.items():
            if len(column) < size:
                grown = np.full(max(size, 2 * len(column)), np.nan)
                grown[: len(column)] = column
                self._columns[name] = grown

    def frame(self, parts: Iterable[str] | None = None) -> pd.DataFrame:
        """One row per key seen: ``namespace``, ``pod``, ``container`` and one column per part
        (NaN where the part never had a value for that key); only ``parts`` if given."""
        size = len(self._ids)
        keys = list(self._ids)  # insertion order = id order
        out = pd.DataFrame(
            {
                label: np.array([key[i] for key in keys], dtype=object)
                for i, label in enumerate(CONTAINER)
            }
        )
        for name in self._columns if parts is None else parts:
            out[name] = self._columns[name][:size]
        return out


class CompleteParts:
    """One chunk's daily parts once the chunk is complete (fetched or read from the cache): the
    frame its :class:`ChunkCombiner` gave, kept as is.

    A fetch holds a day's parts from the day it is absorbed to the assembly (14 at once): as a
    combiner each costs a key dict (~150 bytes a pod container) and columns grown by doubling;
    as a frame, a pointer per key label and a float per part. The key strings are interned, so
    a pod's name is one string across the days and the other results.
    """

    __slots__ = ("_frame",)

    def __init__(self, frame: pd.DataFrame) -> None:
        columns: dict[str, Any] = {
            label: np.array([sys.intern(str(v)) for v in frame[label].tolist()], dtype=object)
            for label in CONTAINER
        }
        for part in DAILY_PARTS:
            columns[part] = (
                frame[part].to_numpy(dtype=float)
                if part in frame.columns
                else np.full(len(frame), np.nan)
            )
        self._frame = pd.DataFrame(columns)

    def frame(self, parts: Iterable[str] | None = None) -> pd.DataFrame:
        """As :meth:`ChunkCombiner.frame` gives it (the held frame: read it, do not change it)."""
        if parts is None:
            return self._frame
        return self._frame[[*CONTAINER, *parts]]


def objects(values: np.ndarray) -> pd.Series:
    """Label values as an object column of the (shared, interned) Python strings.

    pandas 3 would otherwise copy every string into an Arrow buffer (the ``str`` dtype): seconds
    and hundreds of MB for the millions of replica rows, only for the snapshot table contract to
    turn them back into objects.
    """
    return pd.Series(values, dtype=object, copy=False)


class Fold:
    """One inventory query's answers folded as they arrive (see :class:`FoldSpec`).

    Memory is O(distinct keys) whatever the number of chunks: keeping every day's answer until
    assembly would grow with the days (the pod inventory has a row per pod container a day). Answers may arrive in any chunk order (the worker pool); a key's extra labels
    are replaced only by a chunk at or after the one they came from. Not thread-safe on its
    own: :class:`Results` serialises :meth:`add`.
    """

    def __init__(self, spec: FoldSpec, ids: dict[tuple[str, ...], int] | None = None) -> None:
        self.spec = spec
        self.rows = 0  # rows received, over all answers
        # Folds with the same key labels may share one key -> id dict (a key costs ~150 bytes
        # there, and the pod inventory has five folds keyed by (namespace, pod)); a fold's own
        # rows are the ids it has a chunk for.
        self._ids: dict[tuple[str, ...], int] = {} if ids is None else ids
        self._chunk = np.full(0, -1, dtype=np.int64)
        self._value = np.full(0, np.nan)
        self._extra = [np.full(0, "", dtype=object) for _ in spec.extra]

    def add(self, chunk: int, result: list[dict[str, Any]]) -> None:
        if not result:
            return
        spec = self.spec
        self.rows += len(result)
        metrics = [series.get("metric", {}) for series in result]
        if len(spec.key) == 1:
            (label,) = spec.key
            keys: Iterable[tuple[str, ...]] = [(m.get(label, ""),) for m in metrics]
        else:
            keys = [tuple([m.get(label, "") for label in spec.key]) for m in metrics]
        values = np.array([series["value"][1] for series in result], dtype=float)
        self._fold(
            chunk, keys, values, lambda label, rows: [metrics[i].get(label, "") for i in rows]
        )

    def add_frame(self, chunk: int, frame: pd.DataFrame, rows: int) -> None:
        """Fold rows already folded elsewhere (one chunk's fold: a day, live or cached) in as
        chunk ``chunk``: ``frame`` as :meth:`frame` gives it for the key and extra labels, and
        ``rows`` the answer rows it stood for. The result equals adding that chunk's answer."""
        self.rows += rows
        if frame.empty:
            return
        keys = list(zip(*[frame[label].tolist() for label in self.spec.key], strict=True))
        values = frame["value"].to_numpy(dtype=float)
        extras = {label: frame[label].tolist() for label in self.spec.extra}
        self._fold(chunk, keys, values, lambda label, rows: [extras[label][i] for i in rows])

    def _fold(
        self,
        chunk: int,
        keys: Iterable[tuple[str, ...]],
        values: np.ndarray,
        extra_at: Callable[[str, list[int]], list[str]],
    ) -> None:
        """Fold one chunk's rows: ``extra_at(label, rows)`` gives an extra label's values at
        those row positions (only the rows that win are read)."""
        ids = _ids_of(self._ids, keys)
        self._grow(len(self._ids))
        # The last row of each key in this answer (np.unique gives first positions: reverse).
        unique, first_reversed = np.unique(ids[::-1], return_index=True)
        last_rows = len(ids) - 1 - first_reversed
        newer = chunk >= self._chunk[unique]
        take, rows = unique[newer], last_rows[newer]
        self._chunk[take] = chunk
        positions = rows.tolist()
        for label, column in zip(self.spec.extra, self._extra, strict=True):
            picked = extra_at(label, positions)
            column[take] = np.array([sys.intern(v) for v in picked], dtype=object)
        if self.spec.value == "last":
            self._value[take] = values[rows]
        elif self.spec.value == "min":
            np.fmin.at(self._value, ids, values)
        else:
            np.fmax.at(self._value, ids, values)

    def _grow(self, size: int) -> None:
        if len(self._chunk) >= size:
            return
        new_size = max(size, 2 * len(self._chunk), 64)
        chunk = np.full(new_size, -1, dtype=np.int64)
        chunk[: len(self._chunk)] = self._chunk
        value = np.full(new_size, np.nan)
        value[: len(self._value)] = self._value
        extras = []
        for column in self._extra:
            grown = np.full(new_size, "", dtype=object)
            grown[: len(column)] = column
            extras.append(grown)
        self._chunk, self._value, self._extra = chunk, value, extras

    def present(self) -> np.ndarray:
        """The ids of the keys this fold has a row for, ascending."""
        self._grow(len(self._ids))
        return np.flatnonzero(self._chunk[: len(self._ids)] >= 0)

    def at(self, ids: np.ndarray, label: str) -> np.ndarray:
        """An extra label's values (objects) or ``"value"`` (floats) at ``ids`` of the id dict
        this fold uses; None or NaN where the fold has no row for the id."""
        self._grow(len(self._ids))
        missing = self._chunk[ids] < 0
        if label == "value":
            values = self._value[ids]
            values[missing] = np.nan
            return values
        column = self._extra[self.spec.extra.index(label)][ids]
        column[missing] = None
        return column

    def key_column(self, label: str, ids: np.ndarray) -> pd.Series:
        """Key label ``label``'s values (the shared, interned strings) at ``ids``."""
        position = self.spec.key.index(label)
        # The id dict's insertion order is the id order.
        every = np.array([key[position] for key in self._ids], dtype=object)
        return objects(every[ids] if len(every) else every)

    def frame(self, labels: Iterable[str]) -> pd.DataFrame:
        """One row per key: the requested ``labels`` (key or extra) and ``value``."""
        mine = self.present()
        out: dict[str, Any] = {}
        for label in labels:
            if label in self.spec.key:
                out[label] = self.key_column(label, mine)
            else:
                out[label] = objects(self._extra[self.spec.extra.index(label)][mine])
        out["value"] = self._value[mine]
        return pd.DataFrame(out)


def folds(specs: Mapping[str, FoldSpec]) -> dict[str, Fold]:
    """A fold per template; folds with the same key labels share their key -> id dict."""
    shared: dict[tuple[str, ...], dict[tuple[str, ...], int]] = {}
    return {name: Fold(spec, shared.setdefault(spec.key, {})) for name, spec in specs.items()}


@dataclass(frozen=True)
class DayFrames:
    """One aggregate chunk's results as plain frames: what the per-day cache stores and
    :meth:`Results.absorb` folds in.

    ``parts``: :meth:`ChunkCombiner.frame`; ``folds``: query name -> (:meth:`Fold.frame` of its
    key and extra labels, answer rows it stood for); ``answers``: the other answers by name
    (instant frames, :class:`~.range_answer.RangeAnswer`), in arrival order;
    ``daily``: the chunk's daily parts (:data:`~.catalog.DAILY_PARTS`) by query time, as
    :meth:`ChunkCombiner.frame` gives them.
    """

    parts: pd.DataFrame
    folds: Mapping[str, tuple[pd.DataFrame, int]]
    answers: Mapping[str, list[Any]]
    daily: Mapping[float, pd.DataFrame] = field(default_factory=dict)


#: The range answers assembly reads only at its very end (the HPA replica and demand series:
#: ~180 MB at 10,000 containers over 14 days). With a spill folder they wait there, not in
#: memory, while the leak screen and the rest of assembly run (docs/scaling.md).
SPILLED_ANSWERS = frozenset(
    {"hpa_current_replicas", "hpa_desired_replicas", "hpa_demand_cpu", "hpa_demand_memory"}
)


class SpilledAnswer:
    """A :class:`~.range_answer.RangeAnswer` held in a file of the fetch's own spill folder
    until :meth:`load` (which removes the file). ``len()`` is its number of series."""

    __slots__ = ("path", "series")

    def __init__(self, path: Path, answer: RangeAnswer) -> None:
        # pickle: the process's own objects to its own private file, read back once by it.
        with path.open("wb") as file:
            pickle.dump(answer, file, protocol=pickle.HIGHEST_PROTOCOL)
        self.path = path
        self.series = len(answer)

    def __len__(self) -> int:
        return self.series

    def load(self) -> RangeAnswer:
        with self.path.open("rb") as file:
            answer: RangeAnswer = pickle.load(file)
        self.path.unlink()
        return answer


@dataclass
class Results:
    """Answers by template name.

    Inventory answers (:data:`~.catalog.QUERIES` with a ``fold``) are folded into one row per key as they arrive, on the
    worker thread, so neither the JSON nor the rows of a day outlive its answer. Other instant
    answers become compact frames; range answers are kept as :class:`~.range_answer.RangeAnswer`.
    """

    by_name: dict[str, list[tuple[int, Any]]] = field(default_factory=dict)
    folds: dict[str, Fold] = field(default_factory=lambda: folds(folds_of()))
    parts: ChunkCombiner = field(default_factory=lambda: ChunkCombiner(AGGREGATE_PARTS))
    #: The daily parts (:data:`~.catalog.DAILY_PARTS`) per chunk, by the chunk's query time:
    #: combined as answers arrive, or the complete chunk's frame once absorbed.
    daily_parts: dict[float, ChunkCombiner | CompleteParts] = field(default_factory=dict)
    #: Where absorbed :data:`SPILLED_ANSWERS` wait for :meth:`restore` (None: in memory).
    spill: Path | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _spilled: itertools.count[int] = field(default_factory=itertools.count)

    def add(self, job: QueryJob, result: list[dict[str, Any]]) -> None:
        query = AGGREGATE_QUERIES.get(job.name)
        if query is not None:
            # Folded into the running aggregates at once: no chunk's answer is kept. The daily
            # parts go into the chunk's own combiner as well (see DAILY_PARTS).
            daily = {value: part for value, part in query.parts if part in DAILY_PARTS}
            whole = {value: part for value, part in query.parts if part in AGGREGATE_PARTS}
            if daily and job.time is not None:
                with self._lock:
                    combiner = self._daily_combiner(job.time.timestamp())
                combiner.add_labelled(daily, query.label, result)
            if whole:
                self.parts.add_labelled(whole, query.label, result)
            return
        if job.grid is None and job.name in self.folds:
            with self._lock:
                self.folds[job.name].add(job.chunk, result)
            return
        answer: Any = _instant_frame(result) if job.grid is None else RangeAnswer.from_json(result)
        with self._lock:
            self.by_name.setdefault(job.name, []).append((job.chunk, answer))

    def day_frames(self) -> DayFrames:
        """These results (one aggregate chunk's) as the frames :meth:`absorb` folds in."""
        folds_ = {
            name: (fold.frame([*fold.spec.key, *fold.spec.extra]), fold.rows)
            for name, fold in self.folds.items()
            if fold.rows
        }
        answers = {name: [answer for _c, answer in items] for name, items in self.by_name.items()}
        daily = {time: combiner.frame() for time, combiner in sorted(self.daily_parts.items())}
        return DayFrames(self.parts.frame(), folds_, answers, daily)

    def absorb(self, day: DayFrames, chunk: int) -> None:
        """Fold one aggregate chunk's frames (a day fetched, or read from the cache) in as chunk
        ``chunk``: the same result as adding that chunk's answers here one by one."""
        self.parts.add_frame(day.parts)
        for time, frame in day.daily.items():
            with self._lock:
                if time not in self.daily_parts:  # the usual case: a day's parts come once
                    self.daily_parts[time] = CompleteParts(frame)
                    continue
                combiner = self._daily_combiner(time)
            combiner.add_frame(frame)
        answers_by_name = {
            name: [self._spilled_if_late(name, answer) for answer in answers]
            for name, answers in day.answers.items()
        }
        with self._lock:
            for name, (frame, rows) in day.folds.items():
                self.folds[name].add_frame(chunk, frame, rows)
            for name, answers in answers_by_name.items():
                self.by_name.setdefault(name, []).extend((chunk, answer) for answer in answers)

    def _spilled_if_late(self, name: str, answer: Any) -> Any:
        if self.spill is None or name not in SPILLED_ANSWERS or not isinstance(answer, RangeAnswer):
            return answer
        return SpilledAnswer(self.spill / f"{name}-{next(self._spilled)}.pickle", answer)

    def restore(self, *names: str) -> None:
        """Read the spilled answers of ``names`` back into memory (assembly, just before it
        joins them)."""
        for name in names:
            self.by_name[name] = [
                (chunk, answer.load() if isinstance(answer, SpilledAnswer) else answer)
                for chunk, answer in self.by_name.get(name, [])
            ]

    def _daily_combiner(self, time: float) -> ChunkCombiner:
        """The combiner of the daily parts at ``time``, made (from the complete frame held
        there, if any) when there is none (lock held)."""
        held = self.daily_parts.get(time)
        if isinstance(held, ChunkCombiner):
            return held
        combiner = ChunkCombiner(DAILY_PARTS)
        if held is not None:
            combiner.add_frame(held.frame())
        self.daily_parts[time] = combiner
        return combiner

    def vector(self, name: str, labels: Iterable[str]) -> pd.DataFrame:
        """Instant answers as a frame: label columns and ``value`` (plus ``chunk`` for answers
        that are not folded; folded ones have one row per key)."""
        labels = list(labels)
        if name in self.folds:
            return self.folds[name].frame(labels)
        frames = []
        for chunk, frame in sorted(self.by_name.get(name, []), key=lambda item: item[0]):
            out = pd.DataFrame(
                {
                    label: (
                        frame[label].fillna("").to_numpy(dtype=object)
                        if label in frame.columns
                        else np.full(len(frame), "", dtype=object)
                    )
                    for label in labels
                }
            )
            out["value"] = frame["value"].to_numpy(dtype=float)
            out["chunk"] = chunk
            frames.append(out)
        if not frames:
            return pd.DataFrame(columns=[*labels, "value", "chunk"])
        return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]

    def fold_columns(self, anchor: str, columns: Mapping[str, tuple[str, str]]) -> pd.DataFrame:
        """One row per key of fold ``anchor``: its key labels, then each column ``out`` ->
        (fold, label or ``"value"``) read at the same key (None/NaN where that fold has none).

        The folds share the anchor's key -> id dict (:func:`folds`), so this is the left join
        of their frames on the key without building them: no string merge, no copy of the key
        columns per fold (~200 MB transient for the pods at 10,000 containers).
        """
        base = self.folds[anchor]
        ids = base.present()
        out: dict[str, Any] = {label: base.key_column(label, ids) for label in base.spec.key}
        for name, (fold_name, label) in columns.items():
            fold = self.folds[fold_name]
            if fold._ids is not base._ids:
                raise ValueError(f"fold {fold_name!r} does not share {anchor!r}'s keys")
            values = fold.at(ids, label)
            out[name] = values if label == "value" else objects(values)
        return pd.DataFrame(out)

    def series_points(
        self, name: str, labels: Iterable[str], *, consume: bool = False
    ) -> tuple[list[tuple[str, ...]], np.ndarray, np.ndarray]:
        """Range answers in chunk order: each non-empty series' ``labels`` values (absent: ""),
        its number of points, and every point as one (seconds, value) array.

        ``consume`` drops the answers once copied (the HPA replicas are ~100 MB a side at
        10,000 containers over 14 days, and nothing reads them twice).
        """
        labels = list(labels)
        keys: list[tuple[str, ...]] = []
        lengths: list[np.ndarray] = []
        seconds: list[np.ndarray] = []
        values: list[np.ndarray] = []
        answers = self.by_name.pop(name, []) if consume else self.by_name.get(name, [])
        for _chunk, answer in sorted(answers, key=lambda item: item[0]):
            keys.extend(answer.keys(labels))
            lengths.append(answer.lengths[answer.lengths > 0])
            seconds.append(answer.seconds())
            values.append(answer.values())
        if not keys:
            return keys, np.zeros(0, dtype=np.intp), np.zeros((0, 2))
        points = np.column_stack((np.concatenate(seconds), np.concatenate(values)))
        return keys, np.concatenate(lengths), points

    def matrix(self, name: str, labels: Iterable[str]) -> pd.DataFrame:
        """Range answers in long form: label columns, ``timestamp`` (UTC) and ``value``.

        Built column by column from every series' points at once (no frame per series).
        """
        labels = list(labels)
        keys, lengths, points = self.series_points(name, labels)
        if not len(points):
            return pd.DataFrame(
                {
                    **{label: pd.Series(dtype=object) for label in labels},
                    "timestamp": pd.Series(dtype="datetime64[ns, UTC]"),
                    "value": pd.Series(dtype=float),
                }
            )
        out = pd.DataFrame(
            {
                label: objects(np.repeat(np.array([key[i] for key in keys], dtype=object), lengths))
                for i, label in enumerate(labels)
            }
        )
        out["timestamp"] = utc_times(points[:, 0])
        out["value"] = points[:, 1]
        return out

    def release(self, *names: str) -> None:
        """Drop the answers (folded or not) of ``names``: assembly has built what reads them."""
        for name in names:
            self.folds.pop(name, None)
            self.by_name.pop(name, None)

    def take_parts(self) -> pd.DataFrame:
        """The combined aggregate parts as a frame; the combiner is dropped (assembly holds
        the frame, not both: ~130 MB each at 10,000 containers)."""
        frame = self.parts.frame()
        self.parts = ChunkCombiner({})
        return frame

    def release_parts(self) -> None:
        """Drop the combined aggregate parts (after ``container_stats`` is built from them)."""
        self.parts = ChunkCombiner({})

    def release_daily_parts(self) -> None:
        """Drop the per-day parts (after the season and daily statistics are built)."""
        self.daily_parts = {}

    def empty(self, name: str) -> bool:
        if name in self.folds:
            return self.folds[name].rows == 0
        return not any(len(answer) for _chunk, answer in self.by_name.get(name, []))


def _label_key(value: str) -> str:
    try:
        return repr(float(value))
    except ValueError:
        return value


def _labels_key(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(_label_key(value) for value in values)


def _instant_frame(result: list[dict[str, Any]]) -> pd.DataFrame:
    """An instant answer as object label columns (absent label: None) and a float ``value``."""
    if not result:
        return pd.DataFrame({"value": np.zeros(0)})
    # Label values interned and kept as object columns: shared, they cost one pointer per row.
    # (from_records would infer pandas' string dtype and copy every value into its own buffer.)
    metrics = [series.get("metric", {}) for series in result]
    names = sorted({name for metric in metrics for name in metric})
    frame = pd.DataFrame(
        {
            name: pd.Series(
                np.array(
                    [sys.intern(v) if (v := m.get(name)) is not None else None for m in metrics],
                    dtype=object,
                ),
                dtype=object,
            )
            for name in names
        }
    )
    frame["value"] = np.array([series["value"][1] for series in result], dtype=float)
    return frame


def whole_millis(seconds: np.ndarray) -> np.ndarray:
    """Answer timestamps (float seconds) as int64 milliseconds, the instant they name."""
    return np.round(seconds * 1000).astype("int64")


def utc_times(seconds: np.ndarray) -> pd.DatetimeIndex:
    """Answer timestamps (float seconds) as UTC times at millisecond precision."""
    return pd.to_datetime(whole_millis(seconds), unit="ms", utc=True)
