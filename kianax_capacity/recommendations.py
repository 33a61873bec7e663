"""The recommendation set: typed rows and their ``recommendations.json`` form (schema v1).

``recommend`` produces a :class:`RecommendationSet`; reports, ``diff``, ``apply`` and PR comments
consume it, from memory or from the JSON file. Units follow the contract: CPU in cores, memory in
bytes, money in USD per month (730 h); ``None`` means unset.

Each row keeps a free-form ``extra`` mapping whose keys are written beside the named ones (the
schema welcomes extra keys), so strategies can add evidence without changing the contract.
"""

from __future__ import annotations

import html
import json
import math
import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

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


@dataclass(frozen=True)
class Resources:
    """A container's requests and limits in canonical units (None = unset)."""

    cpu_request: float | None = None
    cpu_limit: float | None = None
    memory_request: int | None = None
    memory_limit: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return _clean(
            {
                "cpu_request": self.cpu_request,
                "cpu_limit": self.cpu_limit,
                "memory_request": None if self.memory_request is None else int(self.memory_request),
                "memory_limit": None if self.memory_limit is None else int(self.memory_limit),
            }
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Resources:
        data = data or {}
        return cls(
            cpu_request=_opt_float(data.get("cpu_request")),
            cpu_limit=_opt_float(data.get("cpu_limit")),
            memory_request=_opt_int(data.get("memory_request")),
            memory_limit=_opt_int(data.get("memory_limit")),
        )


@dataclass(frozen=True)
class RightsizingRow:
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

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.namespace, self.kind, self.workload, self.container)

    def to_dict(self) -> dict[str, Any]:
        out = {
            "namespace": self.namespace,
            "kind": self.kind,
            "workload": self.workload,
            "container": self.container,
            "replicas": self.replicas,
            "current": self.current.to_dict(),
            "recommended": self.recommended.to_dict(),
            "monthly_savings_usd": self.monthly_savings_usd,
            "risk": self.risk,
            "status": self.status,
            "reason": self.reason,
            "evidence": dict(self.evidence),
        }
        if self.confidence is not None:
            out["confidence"] = self.confidence
        return _clean({**self.extra, **out})

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RightsizingRow:
        named = {
            "namespace",
            "kind",
            "workload",
            "container",
            "replicas",
            "current",
            "recommended",
            "monthly_savings_usd",
            "risk",
            "status",
            "reason",
            "evidence",
            "confidence",
        }
        return cls(
            namespace=data["namespace"],
            kind=data["kind"],
            workload=data["workload"],
            container=data["container"],
            replicas=_opt_float(data.get("replicas")),
            current=Resources.from_dict(data.get("current")),
            recommended=Resources.from_dict(data.get("recommended")),
            monthly_savings_usd=_opt_float(data.get("monthly_savings_usd")),
            risk=data.get("risk"),
            status=data["status"],
            reason=data["reason"],
            evidence=dict(data.get("evidence") or {}),
            extra={k: v for k, v in data.items() if k not in named},
            confidence=data.get("confidence"),
        )


@dataclass(frozen=True)
class HpaSettings:
    """An HPA's bounds and targets (target utilisations in percent of request)."""

    min_replicas: int | None = None
    max_replicas: int | None = None
    target_cpu_utilization: float | None = None
    target_memory_utilization: float | None = None
    scale_down_stabilization_seconds: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return _clean(
            {
                "min_replicas": self.min_replicas,
                "max_replicas": self.max_replicas,
                "target_cpu_utilization": self.target_cpu_utilization,
                "target_memory_utilization": self.target_memory_utilization,
                "scale_down_stabilization_seconds": self.scale_down_stabilization_seconds,
            }
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> HpaSettings:
        data = data or {}
        return cls(
            min_replicas=_opt_int(data.get("min_replicas")),
            max_replicas=_opt_int(data.get("max_replicas")),
            target_cpu_utilization=_opt_float(data.get("target_cpu_utilization")),
            target_memory_utilization=_opt_float(data.get("target_memory_utilization")),
            scale_down_stabilization_seconds=_opt_int(data.get("scale_down_stabilization_seconds")),
        )


@dataclass(frozen=True)
class HpaRow:
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

    @property
    def key(self) -> tuple[str, str]:
        return (self.namespace, self.workload)

    def to_dict(self) -> dict[str, Any]:
        out = {
            "namespace": self.namespace,
            "workload": self.workload,
            "current": self.current.to_dict(),
            "recommended": self.recommended.to_dict(),
            "monthly_savings_usd": self.monthly_savings_usd,
            "saturated_minutes": dict(self.saturated_minutes),
            "status": self.status,
            "reason": self.reason,
        }
        return _clean({**self.extra, **out})

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> HpaRow:
        named = {
            "namespace",
            "workload",
            "current",
            "recommended",
            "monthly_savings_usd",
            "saturated_minutes",
            "status",
            "reason",
        }
        return cls(
            namespace=data["namespace"],
            workload=data["workload"],
            current=HpaSettings.from_dict(data.get("current")),
            recommended=HpaSettings.from_dict(data.get("recommended")),
            monthly_savings_usd=_opt_float(data.get("monthly_savings_usd")),
            saturated_minutes=dict(data.get("saturated_minutes") or {}),
            status=data["status"],
            reason=data["reason"],
            extra={k: v for k, v in data.items() if k not in named},
        )


@dataclass(frozen=True)
class SpotRow:
    """Whether a workload can move to spot capacity, and what stops it."""

    namespace: str
    kind: str
    workload: str
    ready: bool
    blockers: tuple[str, ...] = ()
    monthly_savings_usd: float | None = None
    interruption_range: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.namespace, self.kind, self.workload)

    def to_dict(self) -> dict[str, Any]:
        out = {
            "namespace": self.namespace,
            "kind": self.kind,
            "workload": self.workload,
            "ready": self.ready,
            "blockers": list(self.blockers),
            "monthly_savings_usd": self.monthly_savings_usd,
            "interruption_range": self.interruption_range,
        }
        return _clean({**self.extra, **out})

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SpotRow:
        named = {
            "namespace",
            "kind",
            "workload",
            "ready",
            "blockers",
            "monthly_savings_usd",
            "interruption_range",
        }
        return cls(
            namespace=data["namespace"],
            kind=data["kind"],
            workload=data["workload"],
            ready=bool(data["ready"]),
            blockers=tuple(data.get("blockers") or ()),
            monthly_savings_usd=_opt_float(data.get("monthly_savings_usd")),
            interruption_range=data.get("interruption_range"),
            extra={k: v for k, v in data.items() if k not in named},
        )


@dataclass(frozen=True)
class NodeGroupSettings:
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

    def to_dict(self) -> dict[str, Any]:
        out = {
            "instance_types": list(self.instance_types),
            "capacity_type": self.capacity_type,
            "nodes_avg": self.nodes_avg,
            "min_size": self.min_size,
            "max_size": self.max_size,
            "monthly_cost_usd": self.monthly_cost_usd,
        }
        # Written only when known, so files from before these keys read back unchanged.
        for name in _COST_PARTS:
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        if self.cost_basis is not None and self.burstable_surplus_usd is None:
            out["burstable_surplus_usd"] = None
        return _clean(out)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> NodeGroupSettings:
        data = data or {}
        return cls(
            instance_types=tuple(data.get("instance_types") or ()),
            capacity_type=data.get("capacity_type"),
            nodes_avg=_opt_float(data.get("nodes_avg")),
            min_size=_opt_int(data.get("min_size")),
            max_size=_opt_int(data.get("max_size")),
            monthly_cost_usd=_opt_float(data.get("monthly_cost_usd")),
            list_monthly_cost_usd=_opt_float(data.get("list_monthly_cost_usd")),
            burstable_surplus_usd=_opt_float(data.get("burstable_surplus_usd")),
            effective_monthly_cost_usd=_opt_float(data.get("effective_monthly_cost_usd")),
            cost_basis=data.get("cost_basis"),
        )


_COST_PARTS = (
    "list_monthly_cost_usd",
    "burstable_surplus_usd",
    "effective_monthly_cost_usd",
    "cost_basis",
)


@dataclass(frozen=True)
class NodeGroupRow:
    """Recommended shape for one node group."""

    name: str
    current: NodeGroupSettings
    recommended: NodeGroupSettings
    monthly_savings_usd: float | None
    reason: str
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str]:
        return (self.name,)

    def to_dict(self) -> dict[str, Any]:
        out = {
            "name": self.name,
            "current": self.current.to_dict(),
            "recommended": self.recommended.to_dict(),
            "monthly_savings_usd": self.monthly_savings_usd,
            "reason": self.reason,
        }
        return _clean({**self.extra, **out})

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NodeGroupRow:
        named = {"name", "current", "recommended", "monthly_savings_usd", "reason"}
        return cls(
            name=data["name"],
            current=NodeGroupSettings.from_dict(data.get("current")),
            recommended=NodeGroupSettings.from_dict(data.get("recommended")),
            monthly_savings_usd=_opt_float(data.get("monthly_savings_usd")),
            reason=data["reason"],
            extra={k: v for k, v in data.items() if k not in named},
        )


@dataclass(frozen=True)
class ForecastRow:
    """When a scope (node group, namespace) runs out of a resource at the current trend."""

    scope: str
    resource: Literal["cpu", "memory", "pods", "cost"]
    status: Status
    exhausted_on: str | None = None  # ISO date
    horizon_days: int = 90
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str]:
        return (self.scope, self.resource)

    def to_dict(self) -> dict[str, Any]:
        out = {
            "scope": self.scope,
            "resource": self.resource,
            "status": self.status,
            "exhausted_on": self.exhausted_on,
            "horizon_days": self.horizon_days,
        }
        return _clean({**self.extra, **out})

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ForecastRow:
        named = {"scope", "resource", "status", "exhausted_on", "horizon_days"}
        return cls(
            scope=data["scope"],
            resource=data["resource"],
            status=data["status"],
            exhausted_on=data.get("exhausted_on"),
            horizon_days=int(data.get("horizon_days") or 90),
            extra={k: v for k, v in data.items() if k not in named},
        )


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
