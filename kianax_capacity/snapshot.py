"""Snapshots: the one input every recommender, notebook and report reads.

A snapshot is a folder::

    manifest.json        schema version, cluster, window, step, source, created_at, tables
    nodes.parquet        one row per node (name is unique over the window)
    workloads.parquet    one row per controller (namespace, kind, workload) with PDB and volumes
    pods.parquet         one row per pod, with its owning workload and node
    containers.parquet   one row per (pod, container): requests, limits, restarts, OOM kills
    usage.parquet        one row per (timestamp, pod, container): CPU cores, memory bytes, throttling
    hpas.parquet         one row per HorizontalPodAutoscaler: spec
    replicas.parquet     one row per (timestamp, HPA): current and desired replicas
    terminations.parquet one row per container termination (OOMKilled, Error, ...) with its time
    node_usage.parquet   optional: one row per (timestamp, node): busy CPU cores (node-exporter)
    container_daily_stats.parquet   optional (aggregate shape): container_stats per day
    container_season_stats.parquet  optional (aggregate shape): per-season CPU percentiles
    hpa_demand.parquet   optional (aggregate shape): one row per (timestamp, HPA, container name)
    memory_peaks.parquet optional (aggregate shape): hourly peaks of the leak candidates

Column names carry their unit (``_cores``, ``_bytes``, ``_seconds``); unset requests and limits
are NaN. ``TABLE_COLUMNS`` below is the contract; :func:`validate_tables` enforces it.
Writing is atomic: the folder is built under a temporary name beside the target and renamed
into place, so an interrupted write never leaves half a snapshot where a good one was.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from kianax_capacity.errors import OutputError, SnapshotError, UserInputError

__all__ = [
    "DEFAULTED_COLUMNS",
    "SNAPSHOT_SCHEMA",
    "SNAPSHOT_SCHEMA_VERSION",
    "TABLE_COLUMNS",
    "Snapshot",
    "SnapshotManifest",
    "atomic_directory",
    "load_snapshot",
    "validate_tables",
    "with_defaults",
    "write_snapshot",
]

SNAPSHOT_SCHEMA = "kianax-capacity/snapshot"
SNAPSHOT_SCHEMA_VERSION = 1

#: Column name -> dtype kind for every table. "str" columns may be categorical.
#: "time" columns are tz-aware UTC timestamps; "float" may hold NaN (unset).
TABLE_COLUMNS: dict[str, dict[str, str]] = {
    "nodes": {
        "node": "str",
        "node_group": "str",
        "instance_type": "str",
        "zone": "str",
        "capacity_type": "str",  # ON_DEMAND | SPOT | UNKNOWN (no source said; priced on-demand)
        "architecture": "str",  # amd64 | arm64
        "cpu_capacity_cores": "float",
        "memory_capacity_bytes": "float",
        "cpu_allocatable_cores": "float",
        "memory_allocatable_bytes": "float",
        "pods_allocatable": "float",
        "first_seen": "time",
        "last_seen": "time",
        # Where each fact came from: kube_node_labels | node_dmi_info | provider_id | ec2 |
        # config | demo | unknown ("unknown": the fact column is "" or UNKNOWN).
        "instance_type_source": "str",
        "node_group_source": "str",
        "zone_source": "str",
        "capacity_type_source": "str",
        "provisioner": "str",  # managed | karpenter | self-managed | unknown
        "instance_id": "str",  # EC2 instance id (from provider_id); "" = not known
    },
    "workloads": {
        "namespace": "str",
        "kind": "str",  # Deployment | StatefulSet | DaemonSet | CronJob | Job | ReplicaSet | Pod
        "workload": "str",
        "pdb_min_available": "float",  # absolute pods; NaN = no PDB or percentage form unknown
        "pdb_max_unavailable": "float",
        "pdb_disruptions_allowed": "float",  # NaN when no PDB covers the workload
        "has_pvc": "bool",
        "has_emptydir": "bool",
    },
    "pods": {
        "namespace": "str",
        "pod": "str",
        "kind": "str",
        "workload": "str",
        "node": "str",
        "first_seen": "time",
        "last_seen": "time",
    },
    "containers": {
        "namespace": "str",
        "pod": "str",
        "container": "str",
        "cpu_request_cores": "float",
        "cpu_limit_cores": "float",
        "memory_request_bytes": "float",
        "memory_limit_bytes": "float",
        "restarts": "int",
        "oom_kills": "int",
    },
    "usage": {
        "timestamp": "time",
        "namespace": "str",
        "pod": "str",
        "container": "str",
        "cpu_cores": "float",  # average CPU rate over the step ending at timestamp
        "memory_bytes": "float",  # working set at timestamp
        "cpu_throttled_ratio": "float",  # throttled / total CFS periods in the step; NaN = no limit
    },
    "hpas": {
        "namespace": "str",
        "hpa": "str",
        "kind": "str",  # scale target kind
        "workload": "str",  # scale target name
        "min_replicas": "int",
        "max_replicas": "int",
        "target_cpu_utilization": "float",  # percent of request; NaN = not a CPU target
        "target_memory_utilization": "float",
        "scale_down_stabilization_seconds": "float",
        # "" = the CPU target is the pod-level Resource metric; a name = a ContainerResource
        # metric on that container (kube-state-metrics >= 2.19 labels it).
        "target_container": "str",
    },
    "replicas": {
        "timestamp": "time",
        "namespace": "str",
        "hpa": "str",
        "current_replicas": "float",
        "desired_replicas": "float",
    },
    "terminations": {
        "timestamp": "time",
        "namespace": "str",
        "pod": "str",
        "container": "str",
        "reason": "str",  # OOMKilled | Error | Completed ...
    },
    # Optional: node CPU busy cores from node-exporter's node_cpu_seconds_total{mode!="idle"}
    # (rate summed over the node's CPUs, the step ending at timestamp), where it is scraped.
    # The burstable-credit simulation prefers it to the sum of the node's containers.
    "node_usage": {
        "timestamp": "time",
        "node": "str",
        "cpu_cores": "float",
    },
    # Optional: written by the Prometheus source in the "aggregate" shape (manifest shape =
    # "aggregate"), where the server computes per-container statistics over the whole window at
    # the step and ``usage`` is empty. One row per (pod, container); quantiles interpolate.
    "container_stats": {
        "namespace": "str",
        "pod": "str",
        "container": "str",
        "samples": "int",  # steps with a working-set sample
        "cpu_cores_p50": "float",
        "cpu_cores_p90": "float",
        "cpu_cores_p95": "float",
        "cpu_cores_p99": "float",
        "cpu_cores_max": "float",
        "cpu_cores_mean": "float",
        "memory_bytes_p50": "float",
        "memory_bytes_p90": "float",
        "memory_bytes_p95": "float",
        "memory_bytes_p99": "float",
        "memory_bytes_max": "float",
        "memory_bytes_mean": "float",
        "cpu_throttled_ratio_mean": "float",  # NaN = no CPU limit
    },
    # Optional, aggregate shape: container_stats' quantiles, max and counts of each aggregate
    # chunk (a day by default) before they are combined, from the same answers: one row per
    # (day, pod, container), so the recommender pools the days exactly as it pools the pods.
    "container_daily_stats": {
        "day_end": "time",
        "namespace": "str",
        "pod": "str",
        "container": "str",
        "samples": "int",  # steps with a working-set sample that day
        "cpu_cores_count": "int",  # steps with a CPU value that day
        "cpu_cores_p50": "float",
        "cpu_cores_p90": "float",
        "cpu_cores_p95": "float",
        "cpu_cores_p99": "float",
        "cpu_cores_max": "float",
        "memory_bytes_p50": "float",
        "memory_bytes_p90": "float",
        "memory_bytes_p95": "float",
        "memory_bytes_p99": "float",
        "memory_bytes_max": "float",
    },
    # Optional, aggregate shape: the kianax strategy's seasons computed on the server (the CPU
    # subquery filtered to each season's steps, each step throttle-adjusted as the strategy
    # does per sample): one row per (aggregate chunk, pod, container, season) with steps in
    # it; the recommender pools the chunks and pods.
    "container_season_stats": {
        "day_end": "time",  # the end of the aggregate chunk (a day by default)
        "namespace": "str",
        "pod": "str",
        "container": "str",
        "season": "str",  # market | weekday | weekend (strategies/kianax.py SEASONS)
        "samples": "int",  # steps of the season with a CPU value
        "cpu_cores_p90": "float",
        "cpu_cores_p95": "float",
        "cpu_cores_p99": "float",
        "cpu_cores_max": "float",
    },
    # Optional, aggregate shape: the demand each HPA scales on, summed on the server over the
    # pods of its scale target (one series per HPA and container name, whatever the replicas),
    # so the HPA replay runs without usage samples. The HPA recommender keeps the named
    # container of a ContainerResource HPA (hpas.target_container), else sums them all.
    "hpa_demand": {
        "timestamp": "time",
        "namespace": "str",
        "hpa": "str",
        "container": "str",
        "cpu_cores": "float",  # summed over the pods, the step ending at timestamp
        "memory_bytes": "float",  # summed working set
    },
    # Optional, aggregate shape: hourly working-set peaks of the pod containers the leak screen
    # picked (see sources/prometheus/leaks.py), for the same leak detection as on samples.
    "memory_peaks": {
        "timestamp": "time",
        "namespace": "str",
        "pod": "str",
        "container": "str",
        "memory_bytes": "float",  # peak working set in the hour ending at timestamp
    },
    # Optional: JVM memory as the JVM's exporter reports it (Micrometer's JvmMemoryMetrics,
    # jvm_memory_used_bytes / jvm_memory_max_bytes per pool, tags id and area = heap | nonheap;
    # client_java / jmx_exporter per area, also as jvm_memory_bytes_used / _max), summed over
    # the pools of an area. One row per (timestamp, pod, container, area); container "" when
    # the scrape has no container label. max_bytes: the sum of the pools' defined maxima (a
    # pool reports -1 for none: G1's Eden and Survivor, Metaspace), so the heap's is -Xmx; NaN
    # where no pool of the area defines one.
    "jvm_memory": {
        "timestamp": "time",
        "namespace": "str",
        "pod": "str",
        "container": "str",
        "area": "str",  # heap | nonheap
        "used_bytes": "float",
        "max_bytes": "float",
    },
}

_REQUIRED_TABLES = ("nodes", "workloads", "pods", "containers", "usage")

#: Columns added after schema version 1 shipped, with the value a table without them gets (an
#: older snapshot, or a builder that predates them): loaders and writers fill them in.
DEFAULTED_COLUMNS: dict[str, dict[str, str]] = {
    "nodes": {
        "instance_type_source": "unknown",
        "node_group_source": "unknown",
        "zone_source": "unknown",
        "capacity_type_source": "unknown",
        "provisioner": "unknown",
        "instance_id": "",
    },
    "hpas": {"target_container": ""},
}


def with_defaults(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with the :data:`DEFAULTED_COLUMNS` of table ``name`` it lacks (same frame if
    it lacks none)."""
    missing = {c: v for c, v in DEFAULTED_COLUMNS.get(name, {}).items() if c not in frame.columns}
    if not missing:
        return frame
    out = frame.copy(deep=False)
    for column, value in missing.items():
        out[column] = pd.Series([value] * len(frame), index=frame.index, dtype=object)
    return out


@dataclass(frozen=True)
class SnapshotManifest:
    """What ``manifest.json`` says about a snapshot."""

    cluster: str
    window_start: datetime
    window_end: datetime
    step_seconds: int
    source: str
    created_at: datetime
    tables: Mapping[str, int]
    shape: str = "series"
    warnings: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SNAPSHOT_SCHEMA,
            "schema_version": SNAPSHOT_SCHEMA_VERSION,
            "cluster": self.cluster,
            "window": {
                "start": _iso(self.window_start),
                "end": _iso(self.window_end),
                "step_seconds": self.step_seconds,
            },
            "source": self.source,
            "shape": self.shape,
            "created_at": _iso(self.created_at),
            "tables": {
                name: {"file": f"{name}.parquet", "rows": rows}
                for name, rows in self.tables.items()
            },
            "warnings": list(self.warnings),
            "extra": dict(self.extra),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], where: Path) -> SnapshotManifest:
        if data.get("schema") != SNAPSHOT_SCHEMA:
            raise SnapshotError(f"{where}: not a kianax-capacity snapshot manifest")
        version = data.get("schema_version")
        if not isinstance(version, int):
            raise SnapshotError(f"{where}: manifest has no integer schema_version")
        if version > SNAPSHOT_SCHEMA_VERSION:
            raise SnapshotError(
                f"{where}: snapshot schema version {version} is newer than this kianax-capacity "
                f"understands ({SNAPSHOT_SCHEMA_VERSION}); upgrade kianax-capacity"
            )
        try:
            window = data["window"]
            return cls(
                cluster=str(data["cluster"]),
                window_start=_parse_time(window["start"]),
                window_end=_parse_time(window["end"]),
                step_seconds=int(window["step_seconds"]),
                source=str(data["source"]),
                created_at=_parse_time(data["created_at"]),
                tables={name: int(info["rows"]) for name, info in data["tables"].items()},
                shape=str(data.get("shape", "series")),
                warnings=tuple(str(w) for w in data.get("warnings", [])),
                extra=dict(data.get("extra", {})),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise SnapshotError(f"{where}: manifest is incomplete or malformed ({exc})") from exc


@dataclass(frozen=True)
class Snapshot:
    """A cluster's inventory and usage over one window: the manifest plus its tables."""

    manifest: SnapshotManifest
    tables: Mapping[str, pd.DataFrame]

    def __getattr__(self, name: str) -> pd.DataFrame:
        # snapshot.usage, snapshot.nodes ...: tables read like attributes in notebooks.
        tables = object.__getattribute__(self, "tables")
        if name in TABLE_COLUMNS:
            if name in tables:
                return with_defaults(name, tables[name])
            return empty_table(name)
        raise AttributeError(name)

    def table(self, name: str) -> pd.DataFrame:
        """The named table; an empty table with the right columns when the source had none."""
        if name not in TABLE_COLUMNS:
            raise KeyError(f"unknown snapshot table {name!r}")
        return with_defaults(name, self.tables[name]) if name in self.tables else empty_table(name)

    @property
    def cluster(self) -> str:
        return self.manifest.cluster

    @property
    def window(self) -> tuple[datetime, datetime]:
        return self.manifest.window_start, self.manifest.window_end

    @property
    def step_seconds(self) -> int:
        return self.manifest.step_seconds

    def write(
        self,
        path: Path | str,
        *,
        cluster: str | None = None,
        created_at: datetime | None = None,
        source: str | None = None,
    ) -> Snapshot:
        """Write this snapshot to ``path`` (atomically), optionally under another cluster name.

        Example:
            >>> generate_demo_snapshot(days=2).write("snapshots/demo")  # doctest: +SKIP
        """
        m = self.manifest
        return write_snapshot(
            path,
            self.tables,
            cluster=cluster or m.cluster,
            window_start=m.window_start,
            window_end=m.window_end,
            step_seconds=m.step_seconds,
            source=source or m.source,
            created_at=created_at or m.created_at,
            shape=m.shape,
            warnings=m.warnings,
            extra=m.extra,
        )

    def __repr__(self) -> str:
        counts = ", ".join(f"{name}={len(df)}" for name, df in self.tables.items())
        return (
            f"Snapshot(cluster={self.cluster!r}, window={_iso(self.manifest.window_start)}.."
            f"{_iso(self.manifest.window_end)}, step={self.step_seconds}s, {counts})"
        )


def empty_table(name: str) -> pd.DataFrame:
    """An empty frame with the columns and dtypes of table ``name``."""
    columns = {}
    for column, kind in TABLE_COLUMNS[name].items():
        columns[column] = pd.Series(dtype=_pandas_dtype(kind))
    return pd.DataFrame(columns)


def _pandas_dtype(kind: str) -> Any:
    return {
        "str": "object",
        "float": "float64",
        "int": "int64",
        "bool": "bool",
        "time": "datetime64[ns, UTC]",
    }[kind]


def validate_tables(tables: Mapping[str, pd.DataFrame], where: str = "snapshot") -> None:
    """Check that required tables exist and every table has its columns with usable dtypes.

    Raises:
        SnapshotError: naming the table and the column that is wrong.
    """
    _check_required(tables, where)
    for name, frame in tables.items():
        validate_table(name, frame, where)


def _check_required(names: Iterable[str], where: str) -> None:
    present = set(names)
    for name in _REQUIRED_TABLES:
        if name not in present:
            raise SnapshotError(f"{where}: table {name!r} is missing")


def validate_table(name: str, frame: pd.DataFrame, where: str = "snapshot") -> None:
    """Check that table ``name`` has its columns with usable dtypes (tables the schema does not
    name pass).

    Raises:
        SnapshotError: naming the table and the column that is wrong.
    """
    spec = TABLE_COLUMNS.get(name)
    if spec is None:
        return
    defaulted = DEFAULTED_COLUMNS.get(name, {})
    missing = [c for c in spec if c not in frame.columns and c not in defaulted]
    if missing:
        raise SnapshotError(f"{where}: table {name!r} lacks column(s) {', '.join(missing)}")
    for column, kind in spec.items():
        if column not in frame.columns:
            continue  # a defaulted column, filled on load and write
        series = frame[column]
        ok = {
            "str": lambda s: (
                pd.api.types.is_object_dtype(s)
                or isinstance(s.dtype, pd.CategoricalDtype)
                or pd.api.types.is_string_dtype(s)
            ),
            "float": pd.api.types.is_numeric_dtype,
            "int": pd.api.types.is_integer_dtype,
            "bool": pd.api.types.is_bool_dtype,
            "time": lambda s: isinstance(s.dtype, pd.DatetimeTZDtype),
        }[kind](series)
        if not ok:
            raise SnapshotError(
                f"{where}: column {name}.{column} has dtype {series.dtype}, expected {kind}"
            )


@dataclass
class _AtomicDir:
    final: Path
    temporary: Path


class atomic_directory:
    """Build a folder under a temporary name and move it into place only on success.

    An existing folder at ``target`` is replaced only once the new one is complete; on any
    error the temporary folder is removed and the old one is left exactly as it was.
    ``argument`` is the caller's argument that named the folder, mentioned in its errors.

    Example:
        >>> with atomic_directory(Path("/tmp/out")) as tmp:  # doctest: +SKIP
        ...     (tmp / "manifest.json").write_text("{}")
    """

    def __init__(self, target: Path | str, *, argument: str = "out") -> None:
        self.target = Path(target)
        self.argument = argument

    def __enter__(self) -> Path:
        if self.target.exists() and not self.target.is_dir():
            raise UserInputError(
                f"{self.target} exists and is not a folder; choose another `{self.argument}` or "
                "remove it"
            )
        parent = self.target.parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
            self._tmp = Path(tempfile.mkdtemp(prefix=f".{self.target.name}.", dir=parent))
        except OSError as exc:
            raise UserInputError(
                f"cannot write under {parent}: {exc.strerror or exc}; choose a writable "
                f"`{self.argument}`"
            ) from exc
        return self._tmp

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            return
        try:
            os.chmod(self._tmp, 0o755)
            if self.target.exists():
                # Swap: move the old folder aside, put the new one in place, then drop the old.
                backup = Path(
                    tempfile.mkdtemp(prefix=f".{self.target.name}.old.", dir=self.target.parent)
                )
                backup.rmdir()
                os.rename(self.target, backup)
                try:
                    os.rename(self._tmp, self.target)
                except OSError:
                    os.rename(backup, self.target)
                    raise
                shutil.rmtree(backup, ignore_errors=True)
            else:
                os.rename(self._tmp, self.target)
        except OSError as exc:
            shutil.rmtree(self._tmp, ignore_errors=True)
            raise OutputError(f"cannot move the new output into {self.target}: {exc}") from exc


class SnapshotWriter:
    """Write a snapshot's tables one by one as they are built, then its manifest, atomically.

    A source that builds large tables in turn (the Prometheus fetch at 10,000 containers) hands
    each to :meth:`add` and drops it, so no more than one finished table is held at a time
    (docs/scaling.md). The folder appears at ``path`` only when the ``with`` block ends without
    an error, after :meth:`finish`; otherwise nothing at ``path`` changes.

    Example:
        >>> with SnapshotWriter("snapshots/s") as writer:  # doctest: +SKIP
        ...     writer.add("nodes", nodes)
        ...     manifest = writer.finish(cluster="c", ...)
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.rows: dict[str, int] = {}
        self._atomic = atomic_directory(self.path)
        self._folder: Path | None = None

    def __enter__(self) -> SnapshotWriter:
        self._folder = self._atomic.__enter__()
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self._atomic.__exit__(exc_type, exc, tb)

    def add(self, name: str, frame: pd.DataFrame) -> pd.DataFrame:
        """Check and write table ``name``; gives back the frame as written (defaults filled)."""
        if self._folder is None:
            raise RuntimeError("SnapshotWriter.add outside its with block")
        if name in self.rows:
            raise ValueError(f"table {name!r} written twice")
        frame = with_defaults(name, frame)
        validate_table(name, frame, where=str(self.path))
        try:
            frame.to_parquet(self._folder / f"{name}.parquet", index=False, compression="zstd")
        except OSError as exc:
            raise OutputError(
                f"cannot write snapshot to {self.path}: {exc.strerror or exc}"
            ) from exc
        self.rows[name] = len(frame)
        return frame

    def finish(
        self,
        *,
        cluster: str,
        window_start: datetime,
        window_end: datetime,
        step_seconds: int,
        source: str,
        created_at: datetime | None = None,
        shape: str = "series",
        warnings: tuple[str, ...] = (),
        extra: Mapping[str, Any] | None = None,
    ) -> SnapshotManifest:
        """Check that every required table was written and write the manifest."""
        if self._folder is None:
            raise RuntimeError("SnapshotWriter.finish outside its with block")
        _check_required(self.rows, str(self.path))
        manifest = SnapshotManifest(
            cluster=cluster,
            window_start=window_start,
            window_end=window_end,
            step_seconds=step_seconds,
            source=source,
            created_at=created_at or datetime.now(UTC),
            tables=dict(self.rows),
            shape=shape,
            warnings=warnings,
            extra=extra or {},
        )
        try:
            (self._folder / "manifest.json").write_text(
                json.dumps(manifest.to_json(), indent=2) + "\n"
            )
        except OSError as exc:
            raise OutputError(
                f"cannot write snapshot to {self.path}: {exc.strerror or exc}"
            ) from exc
        return manifest


def write_snapshot(
    path: Path | str,
    tables: Mapping[str, pd.DataFrame],
    *,
    cluster: str,
    window_start: datetime,
    window_end: datetime,
    step_seconds: int,
    source: str,
    created_at: datetime | None = None,
    shape: str = "series",
    warnings: tuple[str, ...] = (),
    extra: Mapping[str, Any] | None = None,
) -> Snapshot:
    """Validate ``tables`` and write them with a manifest to ``path``, atomically."""
    _check_required(tables, str(path))
    written: dict[str, pd.DataFrame] = {}
    with SnapshotWriter(path) as writer:
        for name, frame in tables.items():
            written[name] = writer.add(name, frame)
        manifest = writer.finish(
            cluster=cluster,
            window_start=window_start,
            window_end=window_end,
            step_seconds=step_seconds,
            source=source,
            created_at=created_at,
            shape=shape,
            warnings=warnings,
            extra=extra,
        )
    return Snapshot(manifest=manifest, tables=written)


class TablesOnDisk(Mapping[str, pd.DataFrame]):
    """A written snapshot's tables, each read from its Parquet file when first asked for: what
    a source that streamed its tables to disk gives back without holding them all again."""

    def __init__(self, folder: Path, rows: Mapping[str, int]) -> None:
        self.folder = folder
        self._rows = dict(rows)
        self._read: dict[str, pd.DataFrame] = {}

    def __getitem__(self, name: str) -> pd.DataFrame:
        if name not in self._rows:
            raise KeyError(name)
        if name not in self._read:
            self._read[name] = _read_table(self.folder, name, self._rows[name])
        return self._read[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)


def _read_table(folder: Path, name: str, rows: int) -> pd.DataFrame:
    """Table ``name`` of the snapshot in ``folder``, checked against the manifest's row count."""
    file = folder / f"{name}.parquet"
    try:
        frame = pd.read_parquet(file)
    except FileNotFoundError as exc:
        raise SnapshotError(f"{folder}: table file {file.name} is missing; re-run fetch") from exc
    except Exception as exc:  # pyarrow raises several unrelated types for a damaged file
        raise SnapshotError(
            f"{file}: corrupt Parquet table ({type(exc).__name__}); re-run fetch"
        ) from exc
    if len(frame) != rows:
        raise SnapshotError(f"{file}: has {len(frame)} rows, manifest says {rows}; re-run fetch")
    return with_defaults(name, frame)


def load_snapshot(path: Path | str, tables: tuple[str, ...] | None = None) -> Snapshot:
    """Read a snapshot folder written by :func:`write_snapshot`.

    Args:
        path: the snapshot folder.
        tables: only these tables (default: all in the manifest).

    Raises:
        SnapshotError: the folder or manifest is missing, corrupt, or from a newer version.
    """
    folder = Path(path)
    manifest_path = folder / "manifest.json"
    if not folder.is_dir():
        raise SnapshotError(
            f"{folder}: no such snapshot folder; create one with `kianax-capacity fetch`"
        )
    try:
        raw = json.loads(manifest_path.read_text())
    except FileNotFoundError as exc:
        raise SnapshotError(f"{folder}: no manifest.json, not a snapshot folder") from exc
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SnapshotError(f"{manifest_path}: corrupt manifest ({exc})") from exc
    if not isinstance(raw, dict):
        raise SnapshotError(f"{manifest_path}: corrupt manifest (not a JSON object)")
    manifest = SnapshotManifest.from_json(raw, manifest_path)
    wanted = tables or tuple(manifest.tables)
    frames = {
        name: _read_table(folder, name, manifest.tables[name])
        for name in wanted
        if name in manifest.tables
    }
    if tables is None:
        validate_tables(frames, where=str(folder))
    return Snapshot(manifest=manifest, tables=frames)


def iter_tables(snapshot: Snapshot) -> Iterator[tuple[str, pd.DataFrame]]:
    """(name, frame) for every table the snapshot holds."""
    yield from snapshot.tables.items()


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(text: str) -> datetime:
    moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
