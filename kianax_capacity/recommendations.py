"""The recommendation set: typed rows and their ``recommendations.json`` form (schema v1).

``recommend`` produces a :class:`RecommendationSet`; reports, ``diff``, ``apply`` and PR comments
consume it, from memory or from the JSON file. Units follow the contract: CPU in cores, memory in
bytes, money in USD per month (730 h); ``None`` means unset.

Every row and setting is serialised one way (``_Record``): the class names its JSON keys once,
with how each reads and writes. Each row keeps a free-form ``extra`` mapping whose keys are
written beside the named ones (the schema welcomes extra keys), so strategies can add evidence
without changing the contract; the fields the summary and the outputs compute with (dollars,
``request_change_included``, ``replayed_requests``) are typed fields, not ``extra``.
"""

from __future__ import annotations

import html
import json
import math
import os
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar, Literal, Self

import pandas as pd

from kianax_capacity.errors import OutputError, RecommendationFileError, UserInputError

__all__ = [
    "SCHEMA_ID",
    "SECTIONS",
    "STATUSES",
    "ForecastRow",
    "HpaRow",
    "HpaSettings",
    "NodeGroupRow",
    "NodeGroupSettings",
    "RecommendationSet",
    "Resources",
    "RightsizingRow",
    "Section",
    "SpotRow",
    "load_recommendations",
    "validate_recommendations_json",
]

SCHEMA_ID = "kianax-capacity/recommendations/v1"
Status = Literal["ok", "insufficient_data", "hpa_managed", "excluded", "no_change"]
STATUSES: tuple[str, ...] = ("ok", "insufficient_data", "hpa_managed", "excluded", "no_change")


#: The sections of a recommendation set, in the order of ``recommendations.json``.
SECTIONS = ("rightsizing", "hpa", "spot", "nodegroups", "forecast")
Section = Literal["rightsizing", "hpa", "spot", "nodegroups", "forecast"]

#: Nested settings that a frame spreads into prefixed columns.
_FLATTENED = ("current", "recommended", "saturated_minutes")


def _flat_record(row: Mapping[str, Any]) -> dict[str, Any]:
    record: dict[str, Any] = {}
    for name, value in row.items():
        if name in _FLATTENED and isinstance(value, Mapping):
            for inner, inner_value in value.items():
                record[f"{name}_{inner}"] = inner_value
        else:
            record[name] = value
    return record


def _clean(value: Any) -> Any:
    """JSON-safe: NaN/inf -> None, numpy scalars -> Python, tuples -> lists, recursively."""
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return value


# One serialisation for every row and setting: each class names its JSON keys once, in file
# order, with the codec of each (``_Key``); ``_Record`` writes and reads them, and keeps any key
# it does not name in ``extra`` (the schema welcomes extra keys), so a field promoted from
# ``extra`` to a typed one reads back from files written before the promotion.


@dataclass(frozen=True)
class _Key:
    """One JSON key of a record: how it reads (from the value, None when absent) and writes."""

    name: str
    read: Callable[[Any], Any]
    write: Callable[[Any], Any] = lambda value: value  # as it is (str, float, bool)
    #: left out of the file while None or empty (keys added after v1 files were written, or
    #: that only some rows have)
    omit_empty: bool = False


def _required(value: Any) -> Any:
    if value is None:
        raise KeyError("required")
    return value


def _identity(value: Any) -> Any:
    return value


def _mapping(value: Any) -> dict[str, Any]:
    return dict(value or {})


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(value or ())


def _nested(kind: type[_Record]) -> Callable[[Any], Any]:
    return kind.from_dict


def _written(value: Any) -> Any:
    return value.to_dict()


def _memory(value: int | None) -> int | None:
    return None if value is None else int(value)


class _Record:
    """``to_dict`` / ``from_dict`` from the class's ``_KEYS`` (and ``extra``, when it has one)."""

    _KEYS: ClassVar[tuple[_Key, ...]]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key in self._KEYS:
            value = getattr(self, key.name)
            if key.omit_empty and (value is None or value == {}):
                continue
            out[key.name] = None if value is None else key.write(value)
        extra = getattr(self, "extra", None)
        return _clean({**extra, **out} if extra is not None else out)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Self:
        data = data or {}
        values: dict[str, Any] = {}
        for key in cls._KEYS:
            try:
                values[key.name] = key.read(data.get(key.name))
            except KeyError as exc:
                raise KeyError(key.name) from exc
        if "extra" in cls.__dataclass_fields__:  # type: ignore[attr-defined]
            named = {key.name for key in cls._KEYS}
            values["extra"] = {k: v for k, v in data.items() if k not in named}
        return cls(**values)


@dataclass(frozen=True)
class Resources(_Record):
    """A container's requests and limits in canonical units (None = unset)."""

    cpu_request: float | None = None
    cpu_limit: float | None = None
    memory_request: int | None = None
    memory_limit: int | None = None

    _KEYS: ClassVar[tuple[_Key, ...]] = (
        _Key("cpu_request", lambda v: _opt_float(v)),
        _Key("cpu_limit", lambda v: _opt_float(v)),
        _Key("memory_request", lambda v: _opt_int(v), _memory),
        _Key("memory_limit", lambda v: _opt_int(v), _memory),
    )


@dataclass(frozen=True)
class RightsizingRow(_Record):
    """Requests/limits for one container of one workload; key (namespace, kind, workload, container)."""

    namespace: str
    kind: str
    workload: str
    container: str
    current: Resources
    recommended: Resources
    status: Status
    reason: str
    replicas: float | None = None
    monthly_savings_usd: float | None = None
    risk: str | None = None
    evidence: Mapping[str, Any] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)
    #: high | medium | low: how far the row's backtest and history back it (None: not rated)
    confidence: str | None = None

    _KEYS: ClassVar[tuple[_Key, ...]] = (
        _Key("namespace", _required),
        _Key("kind", _required),
        _Key("workload", _required),
        _Key("container", _required),
        _Key("replicas", lambda v: _opt_float(v)),
        _Key("current", _nested(Resources), _written),
        _Key("recommended", _nested(Resources), _written),
        _Key("monthly_savings_usd", lambda v: _opt_float(v)),
        _Key("risk", _identity),
        _Key("status", _required),
        _Key("reason", _required),
        _Key("evidence", _mapping, dict),
        _Key("confidence", _identity, omit_empty=True),
    )

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.namespace, self.kind, self.workload, self.container)


@dataclass(frozen=True)
class HpaSettings(_Record):
    """An HPA's bounds and targets (target utilisations in percent of request)."""

    min_replicas: int | None = None
    max_replicas: int | None = None
    target_cpu_utilization: float | None = None
    target_memory_utilization: float | None = None
    scale_down_stabilization_seconds: int | None = None

    _KEYS: ClassVar[tuple[_Key, ...]] = (
        _Key("min_replicas", lambda v: _opt_int(v)),
        _Key("max_replicas", lambda v: _opt_int(v)),
        _Key("target_cpu_utilization", lambda v: _opt_float(v)),
        _Key("target_memory_utilization", lambda v: _opt_float(v)),
        _Key("scale_down_stabilization_seconds", lambda v: _opt_int(v)),
    )


@dataclass(frozen=True)
class HpaRow(_Record):
    """Recommended HPA settings for one workload; key (namespace, workload)."""

    namespace: str
    workload: str
    current: HpaSettings
    recommended: HpaSettings
    status: Status
    reason: str
    monthly_savings_usd: float | None = None
    saturated_minutes: Mapping[str, float] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)
    #: What the workload's replicas cost a month, USD: {"current": ..., "recommended": ...}.
    monthly_cost_usd: Mapping[str, float | None] = field(default_factory=dict)
    #: True when the replay priced the right-sizing rows' new requests too: the row's dollars
    #: then are the workload's whole change, and its right-sizing rows are not added again.
    request_change_included: bool = False
    #: The per-pod requests the replay ran on ({"cpu_request": cores, "memory_request": bytes}).
    replayed_requests: Mapping[str, float | None] = field(default_factory=dict)

    _KEYS: ClassVar[tuple[_Key, ...]] = (
        _Key("namespace", _required),
        _Key("workload", _required),
        _Key("current", _nested(HpaSettings), _written),
        _Key("recommended", _nested(HpaSettings), _written),
        _Key("monthly_savings_usd", lambda v: _opt_float(v)),
        _Key("saturated_minutes", _mapping, dict),
        _Key("status", _required),
        _Key("reason", _required),
        _Key("monthly_cost_usd", _mapping, dict, omit_empty=True),
        _Key("request_change_included", bool),
        _Key("replayed_requests", _mapping, dict, omit_empty=True),
    )

    @property
    def key(self) -> tuple[str, str]:
        return (self.namespace, self.workload)


@dataclass(frozen=True)
class SpotRow(_Record):
    """Whether a workload can move to spot capacity, and what stops it."""

    namespace: str
    kind: str
    workload: str
    ready: bool
    blockers: tuple[str, ...] = ()
    monthly_savings_usd: float | None = None
    interruption_range: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    _KEYS: ClassVar[tuple[_Key, ...]] = (
        _Key("namespace", _required),
        _Key("kind", _required),
        _Key("workload", _required),
        _Key("ready", lambda v: bool(_required(v))),
        _Key("blockers", _strings, list),
        _Key("monthly_savings_usd", lambda v: _opt_float(v)),
        _Key("interruption_range", _identity),
    )

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.namespace, self.kind, self.workload)


@dataclass(frozen=True)
class NodeGroupSettings(_Record):
    """A node group's shape and its monthly cost."""

    instance_types: tuple[str, ...] = ()
    capacity_type: str | None = None  # ON_DEMAND | SPOT | MIXED
    nodes_avg: float | None = None
    min_size: int | None = None
    max_size: int | None = None
    monthly_cost_usd: float | None = None
    # Additive (issue 18): what monthly_cost_usd is made of, and on which prices.
    list_monthly_cost_usd: float | None = None  # node-hours at list (on-demand/spot) prices
    burstable_surplus_usd: float | None = None  # unlimited-mode surplus credits; None = unknown
    effective_monthly_cost_usd: float | None = None  # at billed (Savings Plan / RI) rates
    cost_basis: str | None = None  # "list" | "effective": what monthly_cost_usd is priced at

    # The cost parts are written only when known, so files from before them read back
    # unchanged.
    _KEYS: ClassVar[tuple[_Key, ...]] = (
        _Key("instance_types", _strings, list),
        _Key("capacity_type", _identity),
        _Key("nodes_avg", lambda v: _opt_float(v)),
        _Key("min_size", lambda v: _opt_int(v)),
        _Key("max_size", lambda v: _opt_int(v)),
        _Key("monthly_cost_usd", lambda v: _opt_float(v)),
        _Key("list_monthly_cost_usd", lambda v: _opt_float(v), omit_empty=True),
        _Key("burstable_surplus_usd", lambda v: _opt_float(v), omit_empty=True),
        _Key("effective_monthly_cost_usd", lambda v: _opt_float(v), omit_empty=True),
        _Key("cost_basis", _identity, omit_empty=True),
    )

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        if self.cost_basis is not None and self.burstable_surplus_usd is None:
            out["burstable_surplus_usd"] = None  # priced, and the surplus is unknown: say so
        return out


@dataclass(frozen=True)
class NodeGroupRow(_Record):
    """Recommended shape for one node group."""

    name: str
    current: NodeGroupSettings
    recommended: NodeGroupSettings
    monthly_savings_usd: float | None
    reason: str
    extra: Mapping[str, Any] = field(default_factory=dict)
    #: What committing the recommended shape (Savings Plan / RI) would save a month, in USD.
    commitment_monthly_savings_usd: float | None = None

    _KEYS: ClassVar[tuple[_Key, ...]] = (
        _Key("name", _required),
        _Key("current", _nested(NodeGroupSettings), _written),
        _Key("recommended", _nested(NodeGroupSettings), _written),
        _Key("monthly_savings_usd", lambda v: _opt_float(v)),
        _Key("reason", _required),
        _Key("commitment_monthly_savings_usd", lambda v: _opt_float(v), omit_empty=True),
    )

    @property
    def key(self) -> tuple[str]:
        return (self.name,)


@dataclass(frozen=True)
class ForecastRow(_Record):
    """When a scope (node group, namespace) runs out of a resource at the current trend."""

    scope: str
    resource: Literal["cpu", "memory", "pods", "cost"]
    status: Status
    exhausted_on: str | None = None  # ISO date
    horizon_days: int = 90
    extra: Mapping[str, Any] = field(default_factory=dict)

    _KEYS: ClassVar[tuple[_Key, ...]] = (
        _Key("scope", _required),
        _Key("resource", _required),
        _Key("status", _required),
        _Key("exhausted_on", _identity),
        _Key("horizon_days", lambda v: int(v or 90)),
    )

    @property
    def key(self) -> tuple[str, str]:
        return (self.scope, self.resource)


@dataclass(frozen=True)
class RecommendationSet:
    """Everything ``recommend`` concluded about one cluster over one window."""

    cluster: str
    generated_at: datetime
    window_start: datetime
    window_end: datetime
    step_seconds: int
    profile: str = "production"
    strategy: str = "kianax"
    summary: Mapping[str, Any] = field(default_factory=dict)
    rightsizing: tuple[RightsizingRow, ...] = ()
    hpa: tuple[HpaRow, ...] = ()
    spot: tuple[SpotRow, ...] = ()
    nodegroups: tuple[NodeGroupRow, ...] = ()
    forecast: tuple[ForecastRow, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    def with_rows(self, **sections: Iterable[Any]) -> RecommendationSet:
        """A copy with some sections replaced (``rightsizing=...``, ``hpa=...``)."""
        changes: dict[str, Any] = {name: tuple(rows) for name, rows in sections.items()}
        return replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        out = {
            "schema": SCHEMA_ID,
            "cluster": self.cluster,
            "generated_at": self.generated_at,
            "profile": self.profile,
            "strategy": self.strategy,
            "window": {
                "start": self.window_start,
                "end": self.window_end,
                "step_seconds": int(self.step_seconds),
            },
            "summary": dict(self.summary),
            "rightsizing": [row.to_dict() for row in self.rightsizing],
            "hpa": [row.to_dict() for row in self.hpa],
            "spot": [row.to_dict() for row in self.spot],
            "nodegroups": [row.to_dict() for row in self.nodegroups],
            "forecast": [row.to_dict() for row in self.forecast],
        }
        return _clean({**self.extra, **out})

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2, sort_keys=False, allow_nan=False) + "\n"

    def write(self, path: Path | str) -> Path:
        """Write ``recommendations.json`` atomically (temp file + rename), validated first."""
        target = Path(path)
        text = self.dumps()
        validate_recommendations_json(json.loads(text), where=str(target))
        write_text_atomic(target, text)
        return target

    @classmethod
    def from_json(
        cls, data: Mapping[str, Any], where: str = "recommendations"
    ) -> RecommendationSet:
        validate_recommendations_json(data, where=where)
        named = {
            "schema",
            "cluster",
            "generated_at",
            "profile",
            "strategy",
            "window",
            "summary",
            "rightsizing",
            "hpa",
            "spot",
            "nodegroups",
            "forecast",
        }
        window = data["window"]
        return cls(
            cluster=data["cluster"],
            generated_at=_parse_time(data["generated_at"]),
            window_start=_parse_time(window["start"]),
            window_end=_parse_time(window["end"]),
            step_seconds=int(window.get("step_seconds") or 300),
            profile=data.get("profile", "production"),
            strategy=data.get("strategy", "kianax"),
            summary=dict(data.get("summary") or {}),
            rightsizing=tuple(RightsizingRow.from_dict(r) for r in data["rightsizing"]),
            hpa=tuple(HpaRow.from_dict(r) for r in data["hpa"]),
            spot=tuple(SpotRow.from_dict(r) for r in data["spot"]),
            nodegroups=tuple(NodeGroupRow.from_dict(r) for r in data["nodegroups"]),
            forecast=tuple(ForecastRow.from_dict(r) for r in data["forecast"]),
            extra={k: v for k, v in data.items() if k not in named},
        )

    def frame(self, section: Section) -> pd.DataFrame:
        """One section's rows as a flat DataFrame, one row per recommendation.

        Scalar fields become columns as they are named in ``recommendations.json``; the nested
        settings (``current``, ``recommended``, ``saturated_minutes``) become ``current_*`` /
        ``recommended_*`` ... columns; free-form mappings (``evidence``) and lists stay whole in
        one column each, so nothing of the row is lost.

        Example:
            >>> recs.frame("hpa")[["workload", "current_max_replicas", "recommended_max_replicas"]]
            ... # doctest: +SKIP
        """
        if section not in SECTIONS:
            raise UserInputError(f"section {section!r} is not one of {', '.join(SECTIONS)}")
        records = [_flat_record(row.to_dict()) for row in getattr(self, section)]
        return pd.DataFrame.from_records(records)

    def rightsizing_frame(self) -> pd.DataFrame:
        """Right-sizing rows as a flat DataFrame (``frame("rightsizing")``)."""
        return self.frame("rightsizing")

    def _repr_html_(self) -> str:
        from kianax_capacity.units import format_cpu, format_memory, format_usd

        rows = sorted(self.rightsizing, key=lambda r: -(r.monthly_savings_usd or 0.0))
        cells = []
        for row in rows[:50]:
            cells.append(
                "<tr>"
                + "".join(
                    f"<td>{html.escape(str(v))}</td>"
                    for v in (
                        row.namespace,
                        row.workload,
                        row.container,
                        row.status,
                        f"{format_cpu(row.current.cpu_request)} → {format_cpu(row.recommended.cpu_request)}",
                        f"{format_memory(row.current.memory_request)} → {format_memory(row.recommended.memory_request)}",
                        format_usd(row.monthly_savings_usd),
                        row.risk or "",
                        row.reason,
                    )
                )
                + "</tr>"
            )
        header = "".join(
            f"<th>{h}</th>"
            for h in (
                "namespace",
                "workload",
                "container",
                "status",
                "CPU request",
                "memory request",
                "USD/month saved",
                "risk",
                "reason",
            )
        )
        total = sum(r.monthly_savings_usd or 0.0 for r in self.rightsizing)
        return (
            f"<p><b>{html.escape(self.cluster)}</b> · {len(self.rightsizing)} containers · "
            f"{len(self.hpa)} HPAs · right-sizing saves {format_usd(total)}/month</p>"
            f"<table><thead><tr>{header}</tr></thead><tbody>{''.join(cells)}</tbody></table>"
        )


@cache
def _schema() -> dict[str, Any]:
    text = (
        resources.files("kianax_capacity.data")
        .joinpath("recommendations-v1.schema.json")
        .read_text()
    )
    schema: dict[str, Any] = json.loads(text)
    return schema


def validate_recommendations_json(data: Any, where: str = "recommendations") -> None:
    """Check ``data`` against the v1 JSON Schema.

    Raises:
        RecommendationFileError: with the first violation's path and message.
    """
    import jsonschema

    validator = jsonschema.Draft202012Validator(_schema())
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        location = "/".join(str(p) for p in first.absolute_path) or "(top level)"
        raise RecommendationFileError(
            f"{where}: not a valid {SCHEMA_ID} file at {location}: {first.message[:200]}"
        )


def load_recommendations(path: Path | str) -> RecommendationSet:
    """Read and validate a ``recommendations.json``.

    Raises:
        RecommendationFileError: missing, not JSON, or not schema v1.
    """
    file = Path(path)
    try:
        data = json.loads(file.read_text())
    except FileNotFoundError as exc:
        raise RecommendationFileError(
            f"{file}: no such file; create it with `kianax-capacity recommend`"
        ) from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RecommendationFileError(f"{file}: not a JSON file ({exc})") from exc
    return RecommendationSet.from_json(data, where=str(file))


def write_text_atomic(target: Path, text: str) -> None:
    """Write a text file via a temp file in the same folder and rename, so readers never see half."""
    if target.exists() and target.is_dir():
        raise OutputError(f"{target} is a folder; give a file path")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    except OSError as exc:
        raise OutputError(f"cannot write {target}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise OutputError(f"cannot write {target}: {exc.strerror or exc}") from exc


def _opt_float(value: Any) -> float | None:
    if value is None:
        return None
    result = float(value)
    return result if math.isfinite(result) else None


def _opt_int(value: Any) -> int | None:
    if value is None:
        return None
    return int(value)


def _parse_time(text: str) -> datetime:
    moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment
