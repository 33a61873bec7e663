"""Recommendations as Prometheus metrics: ``recommendations.json`` -> OpenMetrics gauges.

SREs look at Grafana, not at JSON files. :func:`recommendation_metrics` turns a
:class:`~kianax_capacity.recommendations.RecommendationSet` into typed metric families (pure: no
I/O, no clock); :func:`render_metrics` writes them in the OpenMetrics or the Prometheus text
format, :func:`write_textfile` writes them atomically for node-exporter's textfile collector and
:func:`push_to_gateway` replaces the cluster's group on a Pushgateway. The last three use
``prometheus_client`` (extra ``metrics``), which also escapes label values.

Every name starts with ``kianax_capacity_`` and ends with its base unit (``_cores``,
``_bytes``, ``_usd``, ``_seconds``, ``_ratio``); money is USD per month of 730 h like everywhere
in the tool. Every sample carries the ``cluster`` label; the others are ``namespace``, ``kind``,
``workload``, ``container``, ``nodegroup`` and, for forecasts, ``scope_type``/``scope``/``resource``.
An unset value (no limit, no exhaustion within the horizon) is no sample rather than a made-up
number, so ``absent()`` and ``unless`` tell the two apart.

Fields that newer recommenders add (node-group ``effective_monthly_cost_usd`` and
``burstable_surplus_usd``, right-sizing ``confidence`` and ``evidence.backtest``) are read from
the JSON form of each row when present, so an older file exports without them.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from kianax_capacity._optional import import_optional
from kianax_capacity.errors import OutputError, UserInputError
from kianax_capacity.recommendations import RecommendationSet, write_text_atomic

__all__ = [
    "METRICS",
    "PUSH_JOB",
    "MetricFamily",
    "MetricSample",
    "MetricSpec",
    "push_to_gateway",
    "recommendation_metrics",
    "render_metrics",
    "write_textfile",
]

log = logging.getLogger(__name__)

PREFIX = "kianax_capacity_"
#: The Pushgateway ``job`` every push uses; the grouping key adds ``cluster``.
PUSH_JOB = "kianax-capacity"
MetricsFormat = Literal["openmetrics", "prometheus"]


@dataclass(frozen=True)
class MetricSpec:
    """A gauge's name (without the prefix), unit suffix and help text."""

    name: str
    unit: str
    help: str

    @property
    def full_name(self) -> str:
        return PREFIX + self.name


def _spec(name: str, help_text: str) -> MetricSpec:
    for unit in ("cores", "bytes", "usd", "seconds", "ratio"):
        if name.endswith("_" + unit):
            return MetricSpec(name, unit, help_text)
    return MetricSpec(name, "", help_text)


_RESOURCES = (
    ("cpu_request_cores", "cpu_request", "CPU request"),
    ("cpu_limit_cores", "cpu_limit", "CPU limit"),
    ("memory_request_bytes", "memory_request", "memory request"),
    ("memory_limit_bytes", "memory_limit", "memory limit"),
)
_HPA_SETTINGS = (
    ("min_replicas", "min_replicas", 1.0, "minReplicas"),
    ("max_replicas", "max_replicas", 1.0, "maxReplicas"),
    ("target_cpu_utilization_ratio", "target_cpu_utilization", 0.01, "CPU target (of request)"),
    (
        "target_memory_utilization_ratio",
        "target_memory_utilization",
        0.01,
        "memory target (of request)",
    ),
)
_STATES = ("current", "recommended")

#: Every gauge the export can write, in output order (the dashboard and the docs use these).
METRICS: tuple[MetricSpec, ...] = (
    _spec("run_info", "The run the recommendations come from (strategy, profile, tool version)."),
    _spec("run_generated_timestamp_seconds", "When the recommendations were computed."),
    _spec("run_window_start_timestamp_seconds", "Start of the observed window."),
    _spec("run_window_end_timestamp_seconds", "End of the observed window."),
    _spec("run_window_seconds", "Length of the observed window."),
    _spec("run_step_seconds", "Sample step of the observed window."),
    _spec("cluster_monthly_cost_usd", "What the cluster costs per month (nodes + control plane)."),
    _spec("cluster_idle_monthly_usd", "Node cost per month that no pod requests."),
    _spec("cluster_idle_ratio", "Share of node cost that no pod requests."),
    _spec("namespace_monthly_cost_usd", "What a namespace's requests cost per month."),
    _spec("monthly_savings_usd", "Savings on offer per month, all sections combined."),
    _spec("section_monthly_savings_usd", "Savings on offer per month by section."),
    *(
        _spec(
            f"rightsizing_{state}_{name}",
            f"{state.capitalize()} {what} of one container (unset: no sample).",
        )
        for state in _STATES
        for name, _, what in _RESOURCES
    ),
    _spec(
        "rightsizing_monthly_savings_usd",
        "Monthly savings of one container's recommendation (negative: it costs more).",
    ),
    _spec(
        "rightsizing_risk_level", "Risk of one container's recommendation: 0 low, 1 medium, 2 high."
    ),
    _spec("rightsizing_confidence_ratio", "Confidence in one container's recommendation (0-1)."),
    _spec("rightsizing_backtest_value", "A back-test measure of one container's recommendation."),
    _spec("rightsizing_info", "Status, risk and confidence of one container's recommendation."),
    *(
        _spec(f"hpa_{state}_{name}", f"{state.capitalize()} HPA {what}.")
        for state in _STATES
        for name, _, _, what in _HPA_SETTINGS
    ),
    *(
        _spec(
            f"hpa_{state}_saturated_seconds",
            f"Seconds per week the HPA sits at maxReplicas, with the {state} settings.",
        )
        for state in _STATES
    ),
    _spec("hpa_monthly_savings_usd", "Monthly savings of one HPA's recommendation."),
    _spec("spot_ready", "1 if a workload can move to spot capacity, 0 if something stops it."),
    _spec("spot_blockers", "How many things stop a workload from moving to spot."),
    _spec("spot_monthly_savings_usd", "Monthly savings of moving a workload to spot."),
    *(
        _spec(f"nodegroup_{state}_{name}", f"{state.capitalize()} {what} of a node group.")
        for state in _STATES
        for name, what in (
            ("monthly_cost_usd", "list-price monthly cost"),
            ("effective_monthly_cost_usd", "effective monthly cost (after commitments, credits)"),
            ("nodes", "average node count"),
            ("min_nodes", "minimum size"),
            ("max_nodes", "maximum size"),
        )
    ),
    _spec("nodegroup_burstable_surplus_usd", "Monthly burstable-credit surplus of a node group."),
    _spec("nodegroup_monthly_savings_usd", "Monthly savings of a node group's recommendation."),
    _spec(
        "forecast_exhaustion_timestamp_seconds",
        "When a scope runs out of a resource at the current trend (none within the horizon: no sample).",
    ),
    _spec("forecast_horizon_seconds", "How far ahead a forecast looks."),
)
_BY_NAME = {spec.name: spec for spec in METRICS}
_RISK_LEVEL = {"low": 0.0, "medium": 1.0, "high": 2.0}


@dataclass(frozen=True)
class MetricSample:
    """One gauge value and its labels (``cluster`` first)."""

    labels: tuple[tuple[str, str], ...]
    value: float


@dataclass(frozen=True)
class MetricFamily:
    """A gauge and its samples."""

    spec: MetricSpec
    samples: tuple[MetricSample, ...]


class _Collector:
    """Samples by metric, the first of any repeated label set kept (Prometheus refuses doubles)."""

    def __init__(self, cluster: str) -> None:
        self.cluster = cluster
        self._samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}

    def add(self, name: str, value: Any, **labels: str) -> None:
        number = _number(value)
        if number is None:
            return
        if name not in _BY_NAME:  # a programming error, not an input problem
            raise KeyError(f"metric {name!r} is not in METRICS")
        key = (("cluster", self.cluster), *((k, str(v)) for k, v in labels.items()))
        samples = self._samples.setdefault(name, {})
        if key in samples:  # rows are unique by now (_unique); keep the first anyway
            return
        samples[key] = number

    def families(self) -> tuple[MetricFamily, ...]:
        return tuple(
            MetricFamily(
                spec,
                tuple(MetricSample(k, v) for k, v in self._samples[spec.name].items()),
            )
            for spec in METRICS
            if self._samples.get(spec.name)
        )


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, str | Mapping | list | tuple):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _pair(row: Mapping[str, Any], key: str) -> tuple[Any, Any]:
    """(current, recommended) of ``key``, nested under current/recommended or as a mapping."""
    current = (row.get("current") or {}).get(key)
    recommended = (row.get("recommended") or {}).get(key)
    top = row.get(key)
    if isinstance(top, Mapping):
        current = top.get("current", current)
        recommended = top.get("recommended", recommended)
    return current, recommended


def _timestamp(text: Any) -> float | None:
    """Seconds since the epoch of an ISO date (midnight UTC) or time; None if unparseable."""
    if not text:
        return None
    raw = str(text)
    try:
        if len(raw) == 10:
            return datetime.combine(date.fromisoformat(raw), time(), tzinfo=UTC).timestamp()
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _run_metrics(
    out: _Collector, recs: RecommendationSet, data: Mapping[str, Any], tool_version: str
) -> None:
    out.add(
        "run_info",
        1,
        strategy=recs.strategy,
        profile=recs.profile,
        version=str(data.get("tool_version") or tool_version),
    )
    out.add("run_generated_timestamp_seconds", recs.generated_at.timestamp())
    out.add("run_window_start_timestamp_seconds", recs.window_start.timestamp())
    out.add("run_window_end_timestamp_seconds", recs.window_end.timestamp())
    out.add("run_window_seconds", (recs.window_end - recs.window_start).total_seconds())
    out.add("run_step_seconds", recs.step_seconds)
    summary = recs.summary
    out.add("cluster_monthly_cost_usd", summary.get("monthly_cost_usd"))
    out.add("cluster_idle_monthly_usd", summary.get("idle_monthly_usd"))
    out.add("cluster_idle_ratio", summary.get("idle_fraction"))
    for namespace, cost in (summary.get("namespace_monthly_usd") or {}).items():
        out.add("namespace_monthly_cost_usd", cost, namespace=namespace)
    out.add("monthly_savings_usd", summary.get("monthly_savings_usd"))
    for section, saving in (summary.get("monthly_savings_by_section_usd") or {}).items():
        out.add("section_monthly_savings_usd", saving, section=section)


def _rightsizing_metrics(out: _Collector, rows: list[Mapping[str, Any]]) -> None:
    for row in rows:
        labels = {
            "namespace": row["namespace"],
            "kind": row["kind"],
            "workload": row["workload"],
            "container": row["container"],
        }
        for state in _STATES:
            settings = row.get(state) or {}
            for name, key, _ in _RESOURCES:
                out.add(f"rightsizing_{state}_{name}", settings.get(key), **labels)
        out.add("rightsizing_monthly_savings_usd", row.get("monthly_savings_usd"), **labels)
        risk = row.get("risk")
        out.add("rightsizing_risk_level", _RISK_LEVEL.get(str(risk)), **labels)
        confidence = row.get("confidence")
        if isinstance(confidence, Mapping):  # {"score": 0.8, "level": "high"} or similar
            out.add("rightsizing_confidence_ratio", confidence.get("score"), **labels)
            confidence = confidence.get("level", "")
        else:
            out.add("rightsizing_confidence_ratio", confidence, **labels)
        backtest = (row.get("evidence") or {}).get("backtest")
        if isinstance(backtest, Mapping):
            for measure, value in backtest.items():
                out.add("rightsizing_backtest_value", value, **labels, measure=str(measure))
        out.add(
            "rightsizing_info",
            1,
            **labels,
            status=str(row.get("status") or ""),
            risk=str(risk or ""),
            confidence=confidence if isinstance(confidence, str) else "",
        )


def _hpa_metrics(out: _Collector, rows: list[Mapping[str, Any]]) -> None:
    for row in rows:
        labels = {"namespace": row["namespace"], "workload": row["workload"]}
        for state in _STATES:
            settings = row.get(state) or {}
            for name, key, scale, _ in _HPA_SETTINGS:
                value = _number(settings.get(key))
                out.add(f"hpa_{state}_{name}", None if value is None else value * scale, **labels)
            minutes = _number((row.get("saturated_minutes") or {}).get(state))
            out.add(
                f"hpa_{state}_saturated_seconds",
                None if minutes is None else minutes * 60,
                **labels,
            )
        out.add("hpa_monthly_savings_usd", row.get("monthly_savings_usd"), **labels)


def _spot_metrics(out: _Collector, rows: list[Mapping[str, Any]]) -> None:
    for row in rows:
        labels = {"namespace": row["namespace"], "kind": row["kind"], "workload": row["workload"]}
        out.add("spot_ready", 1.0 if row.get("ready") else 0.0, **labels)
        out.add("spot_blockers", len(row.get("blockers") or ()), **labels)
        out.add("spot_monthly_savings_usd", row.get("monthly_savings_usd"), **labels)


def _nodegroup_metrics(out: _Collector, rows: list[Mapping[str, Any]]) -> None:
    for row in rows:
        labels = {"nodegroup": row["name"]}
        for key, name in (
            ("monthly_cost_usd", "monthly_cost_usd"),
            ("effective_monthly_cost_usd", "effective_monthly_cost_usd"),
            ("nodes_avg", "nodes"),
            ("min_size", "min_nodes"),
            ("max_size", "max_nodes"),
        ):
            for state, value in zip(_STATES, _pair(row, key), strict=True):
                out.add(f"nodegroup_{state}_{name}", value, **labels)
        surplus = row.get("burstable_surplus_usd")
        if isinstance(surplus, Mapping):
            surplus = surplus.get("current")
        out.add("nodegroup_burstable_surplus_usd", surplus, **labels)
        out.add("nodegroup_monthly_savings_usd", row.get("monthly_savings_usd"), **labels)


def _forecast_metrics(out: _Collector, rows: list[Mapping[str, Any]]) -> None:
    for row in rows:
        scope_type = str(row.get("scope_type") or "")
        labels = {"scope_type": scope_type, "scope": row["scope"], "resource": row["resource"]}
        if scope_type == "nodegroup":
            labels["nodegroup"] = row["scope"]
        elif scope_type == "namespace":
            labels["namespace"] = row["scope"]
        out.add(
            "forecast_exhaustion_timestamp_seconds", _timestamp(row.get("exhausted_on")), **labels
        )
        horizon = _number(row.get("horizon_days"))
        out.add("forecast_horizon_seconds", None if horizon is None else horizon * 86400, **labels)


def recommendation_metrics(
    recs: RecommendationSet, *, tool_version: str
) -> tuple[MetricFamily, ...]:
    """Every gauge of ``recs``, in :data:`METRICS` order (pure).

    Args:
        recs: the recommendation set (e.g. from ``load_recommendations``).
        tool_version: the exporting tool's version, used when the file does not name its own.

    Example:
        >>> families = recommendation_metrics(recs, tool_version="0.1.0")  # doctest: +SKIP
        >>> render_metrics(families)[:60]  # doctest: +SKIP
        b'# HELP kianax_capacity_run_info The run the recommendations ...'
    """
    data = recs.to_json()
    out = _Collector(recs.cluster)
    repeated: list[int] = []
    _run_metrics(out, recs, data, tool_version)
    _rightsizing_metrics(out, _unique(data["rightsizing"], _ROW_KEYS["rightsizing"], repeated))
    _hpa_metrics(out, _unique(data["hpa"], _ROW_KEYS["hpa"], repeated))
    _spot_metrics(out, _unique(data["spot"], _ROW_KEYS["spot"], repeated))
    _nodegroup_metrics(out, _unique(data["nodegroups"], _ROW_KEYS["nodegroups"], repeated))
    _forecast_metrics(out, _unique(data["forecast"], _ROW_KEYS["forecast"], repeated))
    if sum(repeated):
        log.warning(
            "%d repeated row(s) in the recommendations of %s: exported the first of each",
            sum(repeated),
            recs.cluster,
        )
    return out.families()


#: The fields that identify a row of each section (as RecommendationSet's row keys).
_ROW_KEYS = {
    "rightsizing": ("namespace", "kind", "workload", "container"),
    "hpa": ("namespace", "workload"),
    "spot": ("namespace", "kind", "workload"),
    "nodegroups": ("name",),
    "forecast": ("scope_type", "scope", "resource"),
}


def _unique(
    rows: list[Mapping[str, Any]], fields: tuple[str, ...], repeated: list[int]
) -> list[Mapping[str, Any]]:
    """The first row of each key (Prometheus refuses two samples with the same labels)."""
    seen: set[tuple[str, ...]] = set()
    kept = []
    for row in rows:
        key = tuple(str(row.get(name) or "") for name in fields)
        if key not in seen:
            seen.add(key)
            kept.append(row)
    repeated.append(len(rows) - len(kept))
    return kept


def _registry(families: tuple[MetricFamily, ...]) -> Any:
    """A prometheus_client registry that serves exactly ``families``."""
    registry_module = import_optional("prometheus_client.registry", extra="metrics")
    core = import_optional("prometheus_client.metrics_core", extra="metrics")

    class _Families(registry_module.Collector):  # type: ignore[name-defined]
        def collect(self) -> Iterator[Any]:
            for family in families:
                gauge = core.GaugeMetricFamily(
                    family.spec.full_name,
                    family.spec.help,
                    labels=[name for name, _ in family.samples[0].labels],
                    unit=family.spec.unit,
                )
                for sample in family.samples:
                    # Label names differ between rows of one family only by optional labels
                    # (nodegroup/namespace of a forecast): add each sample with its own names.
                    gauge.samples.append(
                        core.Sample(gauge.name, dict(sample.labels), sample.value, None, None)
                    )
                yield gauge

    registry = registry_module.CollectorRegistry(auto_describe=False)
    registry.register(_Families())
    return registry


def render_metrics(families: tuple[MetricFamily, ...], fmt: MetricsFormat = "openmetrics") -> bytes:
    """The families in the OpenMetrics text format (ending ``# EOF``) or Prometheus' 0.0.4."""
    registry = _registry(families)
    if fmt == "openmetrics":
        exposition = import_optional("prometheus_client.openmetrics.exposition", extra="metrics")
    elif fmt == "prometheus":
        exposition = import_optional("prometheus_client.exposition", extra="metrics")
    else:
        raise UserInputError(f"unknown metrics format {fmt!r}; use openmetrics or prometheus")
    text: bytes = exposition.generate_latest(registry)
    return text


def write_textfile(
    families: tuple[MetricFamily, ...], path: Path | str, fmt: MetricsFormat = "openmetrics"
) -> Path:
    """Write the families atomically (temp file + rename), as the textfile collector needs.

    node-exporter reads ``*.prom`` files of its ``--collector.textfile.directory`` at every
    scrape; a rename is the only way it never reads half a file.
    """
    target = Path(path)
    write_text_atomic(target, render_metrics(families, fmt).decode())
    return target


def _redacted(url: str) -> str:
    """``url`` without user:password, for messages."""
    parts = urlsplit(url)
    if parts.username or parts.password:
        host = parts.hostname or ""
        netloc = f"<redacted>@{host}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def push_to_gateway(
    families: tuple[MetricFamily, ...],
    url: str,
    *,
    cluster: str,
    job: str = PUSH_JOB,
    timeout_seconds: float = 30,
) -> None:
    """Replace the group ``{job, cluster}`` on the Pushgateway at ``url`` with ``families``.

    A PUT: rows that disappeared since the last push disappear from the gateway too. Scrape the
    gateway with ``honor_labels: true`` so ``cluster`` stays the pushed value.

    Raises:
        UserInputError: the URL is not http(s).
        OutputError: the gateway is unreachable or refused the push (its answer included).
    """
    if urlsplit(url).scheme not in ("http", "https"):
        raise UserInputError(
            f"{_redacted(url)!r} is not an http(s) URL (e.g. http://pushgateway.monitoring:9091)",
            parameter="pushgateway",
        )
    exposition = import_optional("prometheus_client.exposition", extra="metrics")
    try:
        exposition.push_to_gateway(
            url,
            job=job,
            registry=_registry(families),
            grouping_key={"cluster": cluster},
            timeout=timeout_seconds,
        )
    except OSError as exc:  # urllib's URLError and HTTPError are OSErrors
        raise OutputError(_push_failure(exc, _redacted(url))) from exc


def _push_failure(exc: OSError, where: str) -> str:
    """One line: the gateway's refusal with its answer, or why it could not be reached."""
    status = getattr(exc, "code", None)
    if status is not None and hasattr(exc, "read"):  # an HTTP answer (urllib's HTTPError)
        try:
            body = " ".join(exc.read().decode(errors="replace").split())[:300]
        except OSError:
            body = ""
        return f"the Pushgateway at {where} refused the push (HTTP {status}): {body or exc}"
    reason = getattr(exc, "reason", None) or exc
    return f"cannot push to the Pushgateway at {where}: {reason}; check the URL and that it is up"
