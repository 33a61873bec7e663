"""Terminal formats of recommendations and diffs: a rich table, JSON, YAML or CSV on stdout.

What KRR users expect from ``recommend``: a table when a person is looking, a machine format
when a pipe is. Quantities are shown the Kubernetes way (``250m``, ``256Mi``) only here, at the
edge; JSON, YAML and CSV keep the canonical units of ``recommendations.json``.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any, Literal

from kianax_capacity.outputs.diff import RecommendationDiff
from kianax_capacity.recommendations import RecommendationSet

__all__ = ["FORMATS", "TerminalFormat", "render_diff_table", "render_recommendations"]

TerminalFormat = Literal["table", "json", "yaml", "csv"]
FORMATS: tuple[str, ...] = ("table", "json", "yaml", "csv")
_NAME_COLUMNS = frozenset({"namespace", "workload", "container"})
_CSV_COLUMNS = (
    "namespace",
    "kind",
    "workload",
    "container",
    "status",
    "risk",
    "replicas",
    "current_cpu_request",
    "recommended_cpu_request",
    "current_cpu_limit",
    "recommended_cpu_limit",
    "current_memory_request",
    "recommended_memory_request",
    "current_memory_limit",
    "recommended_memory_limit",
    "monthly_savings_usd",
    "reason",
)


def _console(width: int | None) -> Any:
    from rich.console import Console

    return Console(file=io.StringIO(), width=width or 160, force_terminal=False, color_system=None)


def _table_text(recs: RecommendationSet, width: int | None) -> str:
    from rich.table import Table

    from kianax_capacity.units import format_cpu, format_memory, format_usd

    total = sum(row.monthly_savings_usd or 0.0 for row in recs.rightsizing)
    table = Table(
        title=f"{recs.cluster}: right-sizing ({recs.strategy}), saves {format_usd(total)}/month",
        show_lines=False,
    )
    for header, justify in (
        ("namespace", "left"),
        ("workload", "left"),
        ("container", "left"),
        ("CPU request", "right"),
        ("CPU limit", "right"),
        ("memory request", "right"),
        ("memory limit", "right"),
        ("USD/month", "right"),
        ("risk", "left"),
        ("status", "left"),
    ):
        # Names never wrap: a person copies them into kubectl.
        table.add_column(header, justify=justify, no_wrap=header in _NAME_COLUMNS)  # type: ignore[arg-type]

    def move(old: str, new: str) -> str:
        return old if old == new else f"{old} → {new}"

    rows = sorted(recs.rightsizing, key=lambda r: -abs(r.monthly_savings_usd or 0.0))
    for row in rows:
        current, recommended = row.current, row.recommended
        table.add_row(
            row.namespace,
            row.workload,
            row.container,
            move(format_cpu(current.cpu_request), format_cpu(recommended.cpu_request)),
            move(format_cpu(current.cpu_limit), format_cpu(recommended.cpu_limit)),
            move(format_memory(current.memory_request), format_memory(recommended.memory_request)),
            move(format_memory(current.memory_limit), format_memory(recommended.memory_limit)),
            format_usd(row.monthly_savings_usd),
            row.risk or "",
            row.status,
        )
    console = _console(width)
    console.print(table)
    summary = recs.summary
    console.print(
        f"cluster {format_usd(summary.get('monthly_cost_usd'))}/month, "
        f"savings on offer {format_usd(summary.get('monthly_savings_usd'))}/month "
        f"({len(recs.hpa)} HPA, {len(recs.spot)} spot, {len(recs.nodegroups)} node-group rows "
        "in the JSON)"
    )
    text: str = console.file.getvalue()
    return text


def _csv_text(recs: RecommendationSet) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=_CSV_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    for row in recs.rightsizing:
        record: dict[str, Any] = {
            "namespace": row.namespace,
            "kind": row.kind,
            "workload": row.workload,
            "container": row.container,
            "status": row.status,
            "risk": row.risk or "",
            "replicas": row.replicas,
            "monthly_savings_usd": row.monthly_savings_usd,
            "reason": row.reason,
        }
        for state, resources in (("current", row.current), ("recommended", row.recommended)):
            for name, value in resources.to_dict().items():
                record[f"{state}_{name}"] = value
        writer.writerow({k: "" if v is None else v for k, v in record.items()})
    return buffer.getvalue()


def render_recommendations(
    recs: RecommendationSet, fmt: TerminalFormat, *, width: int | None = None
) -> str:
    """``recs`` for the terminal: ``table`` (right-sizing rows), or the whole set as
    ``json``/``yaml`` (the file's content), or the right-sizing rows as ``csv``."""
    if fmt == "table":
        return _table_text(recs, width)
    if fmt == "json":
        return recs.dumps()
    if fmt == "yaml":
        from ruamel.yaml import YAML

        yaml = YAML(typ="safe", pure=True)
        yaml.default_flow_style = False
        buffer = io.StringIO()
        yaml.dump(json.loads(recs.dumps()), buffer)
        return buffer.getvalue()
    if fmt == "csv":
        return _csv_text(recs)
    raise ValueError(f"unknown format {fmt!r}")


def render_diff_table(diff: RecommendationDiff, *, width: int | None = None) -> str:
    """The diff's changes as a rich table (section, key, what moved, dollars)."""
    from rich.table import Table

    from kianax_capacity.units import format_usd

    title = f"{diff.new.cluster}: {len(diff.changes)} change(s)"
    if diff.suppressed:
        title += f", {diff.suppressed} below the noise thresholds"
    table = Table(title=title)
    for header in ("section", "change", "what", "fields", "USD/month"):
        table.add_column(header, justify="right" if header == "USD/month" else "left")
    for change in diff.changes:
        fields = "; ".join(
            f"{f.name} {_short(f.name, f.old)} → {_short(f.name, f.new)}" for f in change.fields
        )
        table.add_row(
            change.section,
            change.kind,
            "/".join(change.key),
            fields,
            format_usd(change.delta_usd if change.delta_usd is not None else change.monthly_usd),
        )
    console = _console(width)
    console.print(table)
    text: str = console.file.getvalue()
    return text


def _short(name: str, value: Any) -> str:
    from kianax_capacity.units import format_cpu, format_memory

    if value is None:
        return "unset"
    if isinstance(value, int | float) and not isinstance(value, bool):
        if name.startswith("cpu_"):
            return format_cpu(float(value))
        if name.startswith("memory_"):
            return format_memory(float(value))
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
