"""A recommendation diff as the Markdown of one sticky GitHub PR comment.

Layout: the hidden marker :data:`MARKER` as the very first line (``comment`` finds and updates the
comment by it), a title, a one-paragraph summary (dollars, number of changes, risk), a table of the
top right-sizing changes, one collapsed ``<details>`` section per namespace for the rest, then HPA,
spot, node-group and forecast sections, and a footer with the window, profile and strategy.

GitHub rejects comments over 65,536 characters. The comment is assembled from blocks; when the next
block does not fit, a table is cut between rows (never inside one, and always closed properly), the
rest is dropped, and a note says how many changes are not shown and how to see them all.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kianax_capacity.outputs.diff import (
    COMPARED_FIELDS,
    Change,
    RecommendationDiff,
    risk_counts,
    total_usd,
)
from kianax_capacity.recommenders.confidence import backtest_sentence
from kianax_capacity.units import format_cpu, format_memory, format_usd

__all__ = ["GITHUB_COMMENT_LIMIT", "MARKER", "render_markdown"]

MARKER = "<!-- kianax-capacity -->"
#: GitHub's limit on an issue comment body, in characters.
GITHUB_COMMENT_LIMIT = 65_536

_LABELS = {
    "cpu_request": "CPU request",
    "cpu_limit": "CPU limit",
    "memory_request": "memory request",
    "memory_limit": "memory limit",
    "min_replicas": "min replicas",
    "max_replicas": "max replicas",
    "target_cpu_utilization": "CPU target",
    "target_memory_utilization": "memory target",
    "instance_types": "instance types",
    "capacity_type": "capacity type",
    "min_size": "min size",
    "max_size": "max size",
    "nodes_avg": "average nodes",
    "ready": "spot",
    "blockers": "blockers",
    "exhausted_on": "runs out on",
    "capacity": "capacity",
    "status": "status",
}


def _cell(value: Any) -> str:
    """Text safe inside a Markdown table cell (no pipes, newlines or raw HTML)."""
    text = str(value).replace("\r", " ").replace("\n", " ")
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")


def _fmt(name: str, value: Any) -> str:
    if name == "status":
        return "-" if value is None else f"`{value}`"
    if name in ("cpu_limit", "memory_limit") and value is None:
        return "no limit"
    if name == "target_memory_utilization" and value is None:
        return "off"
    if value is None:
        return "unset"
    if name.startswith("cpu_"):
        return format_cpu(value)
    if name.startswith("memory_"):
        return format_memory(value)
    if name.startswith("target_"):
        return f"{float(value):g}%"
    if name == "ready":
        return "ready" if value else "not ready"
    if name in ("instance_types", "blockers"):
        return ", ".join(value) if value else "none"
    if name == "nodes_avg":
        return f"{float(value):.1f}"
    return str(value)


def _usd(value: float | None) -> str:
    return format_usd(value, signed=True)


@dataclass
class _Block:
    """A piece of the comment; a table keeps its rows in ``units`` so it can be cut between rows."""

    head: str
    units: list[str] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)  # changes each unit shows
    tail: str = ""

    def text(self, upto: int | None = None) -> str:
        return self.head + "".join(self.units[:upto]) + self.tail


@dataclass(frozen=True)
class _Table:
    header: tuple[str, ...]
    align: tuple[str, ...]

    def head(self) -> str:
        return "| " + " | ".join(self.header) + " |\n|" + "|".join(self.align) + "|\n"


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |\n"


def _tag(change: Change) -> str:
    return {"added": " *(new)*", "removed": " *(removed)*"}.get(change.kind, "")


def _field_pairs(change: Change, mode: str) -> list[tuple[str, str]]:
    """(label, "before → after") for each line a change shows."""
    if change.kind == "removed":
        return [("-", "no longer recommended")]
    if change.kind == "added":
        row = change.new_row
        if change.section in ("rightsizing", "hpa", "nodegroups"):
            pairs = []
            for name in _section_fields(change.section):
                before = getattr(row.current, name)
                after = getattr(row.recommended, name)
                if before != after:
                    pairs.append((_LABELS[name], f"{_fmt(name, before)} → {_fmt(name, after)}"))
            status = getattr(row, "status", None)
            if status and status != "ok":
                pairs.insert(0, ("status", _fmt("status", status)))
            return pairs or [("-", "no change from current")]
        if change.section == "spot":
            return [("spot", _fmt("ready", row.ready))]
        return [("runs out on", _fmt("exhausted_on", row.exhausted_on))]
    return [
        (_LABELS.get(f.name, f.name), f"{_fmt(f.name, f.old)} → {_fmt(f.name, f.new)}")
        for f in change.fields
    ]


def _section_fields(section: str) -> tuple[str, ...]:
    return COMPARED_FIELDS[section]


def _rightsizing_unit(change: Change, mode: str, with_namespace: bool) -> str:
    row = change.row
    workload = f"{row.namespace}/{row.workload}" if with_namespace else row.workload
    lines = []
    for index, (label, values) in enumerate(_field_pairs(change, mode)):
        first = index == 0
        lines.append(
            _row(
                [
                    _cell(workload) + _tag(change) if first else "",
                    _cell(row.container) if first else "",
                    _cell(label),
                    _cell(values),
                    _usd(change.monthly_usd) if first else "",
                    _cell(row.risk or "-") if first else "",
                    _cell(_backtest_cell(row)) if first else "",
                ]
            )
        )
    return "".join(lines)


def _backtest_cell(row: Any) -> str:
    """The row's replay beside its change: "0 OOM, CPU above request 1.2% ... (confidence high)"."""
    evidence = getattr(row, "evidence", None) or {}
    sentence = backtest_sentence(evidence.get("backtest"))
    confidence = getattr(row, "confidence", None)
    if not sentence:
        sentence = "no replay" if "backtest_note" in evidence else "-"
    return f"{sentence} (confidence {confidence})" if confidence else sentence


def _generic_unit(
    change: Change, mode: str, name: str, extra: Callable[[Change], str] | None = None
) -> str:
    lines = []
    for index, (label, values) in enumerate(_field_pairs(change, mode)):
        first = index == 0
        cells = [
            _cell(name) + _tag(change) if first else "",
            _cell(label),
            _cell(values),
            _usd(change.monthly_usd) if first else "",
        ]
        if extra is not None:
            cells.append(extra(change) if first else "")
        lines.append(_row(cells))
    return "".join(lines)


def _nodegroup_basis(changes: Sequence[Change]) -> str:
    """What the node-group dollars are: list or effective, and the surplus credits in them."""
    rows = [c.row for c in changes if getattr(c.row, "current", None) is not None]
    priced = [r for r in rows if r.current.cost_basis is not None]
    if not priced:
        return ""  # rows from before cost bases were recorded: nothing to state
    surplus = [
        f"{_cell(r.name)} {format_usd(r.current.burstable_surplus_usd)}"
        for r in priced
        if r.current.burstable_surplus_usd
    ]
    unknown = [_cell(r.name) for r in priced if r.current.burstable_surplus_usd is None]
    text = "Saves/month at list prices, surplus CPU credits included"
    if surplus:
        text += " (today's surplus a month: " + ", ".join(surplus) + ")"
    if unknown:
        text += "; surplus credits unknown for " + ", ".join(unknown)
    effective = [
        f"{_cell(r.name)} {format_usd(r.current.effective_monthly_cost_usd)} → "
        f"{format_usd(r.recommended.effective_monthly_cost_usd)}"
        for r in priced
        if r.current.effective_monthly_cost_usd is not None
        and r.recommended.effective_monthly_cost_usd is not None
    ]
    if effective:
        text += "; at billed (effective) rates: " + ", ".join(effective)
    return f"_{text}._\n\n"


def _summary(diff: RecommendationDiff) -> str:
    changes = diff.changes
    risks = risk_counts(changes)
    risk_text = ", ".join(f"{risks[r]} {r}" for r in ("high", "medium", "low") if r in risks)
    others = sorted(set(risks) - {"high", "medium", "low"})
    risk_text = (
        ", ".join([risk_text, *(f"{risks[r]} {r}" for r in others)]) if others else risk_text
    )
    risk_sentence = f" Right-sizing risk: {risk_text}." if risk_text else ""
    if diff.mode == "against_current":
        workloads = {
            (c.namespace, getattr(c.row, "workload", getattr(c.row, "name", ""))) for c in changes
        }
        by_section = []
        for section, label in (
            ("rightsizing", "right-sizing"),
            ("hpa", "HPA"),
            ("spot", "spot"),
            ("nodegroups", "node groups"),
        ):
            part = diff.section(section)  # type: ignore[arg-type]
            if part:
                by_section.append(f"{label} {_usd(total_usd(part))}")
        settings = sum(max(1, len(c.fields)) for c in changes)
        total = total_usd(changes)
        effect = (
            f"saving **{format_usd(total)}/month**"
            if total >= 0
            else f"costing **{format_usd(-total)}/month** more"
        )
        return (
            f"Applying these recommendations changes **{settings}** "
            f"setting{'s' if settings != 1 else ''} "
            f"on **{len(workloads)}** workload{'s' if len(workloads) != 1 else ''} or node "
            f"group{'s' if len(workloads) != 1 else ''}, {effect} "
            f"({'; '.join(by_section)}).{risk_sentence}"
        )
    counts = {
        kind: sum(1 for c in changes if c.kind == kind) for kind in ("changed", "added", "removed")
    }
    assert diff.old is not None
    return (
        f"Compared with the recommendations generated {_when(diff.old.generated_at)}: "
        f"**{counts['changed']}** changed, **{counts['added']}** added, "
        f"**{counts['removed']}** removed. "
        f"The monthly savings on offer for these rows change by **{_usd(total_usd(changes))}**."
        f"{risk_sentence}"
    )


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _footer(diff: RecommendationDiff) -> str:
    new = diff.new
    step = new.step_seconds
    step_text = f"{step // 60}m" if step % 60 == 0 else f"{step}s"
    parts = [
        f"window {new.window_start:%Y-%m-%d %H:%M} → {new.window_end:%Y-%m-%d %H:%M} UTC "
        f"({step_text} steps)",
        f"profile `{_cell(new.profile)}`",
        f"strategy `{_cell(new.strategy)}`",
        f"generated {_when(new.generated_at)}",
        f"thresholds {diff.thresholds.min_change_percent:g}% and "
        f"{format_usd(diff.thresholds.min_change_usd)}/month",
    ]
    if diff.suppressed:
        parts.append(
            f"{diff.suppressed} smaller change{'s' if diff.suppressed != 1 else ''} not shown"
        )
    return "\n---\n<sub>" + " · ".join(parts) + " · kianax-capacity</sub>\n"


def _blocks(diff: RecommendationDiff, top: int) -> list[_Block]:
    mode = diff.mode
    arrow = "Current → recommended" if mode == "against_current" else "Before → after"
    blocks: list[_Block] = []
    rightsizing = list(diff.section("rightsizing"))
    rs_table = _Table(
        ("Workload", "Container", "Resource", arrow, "Saves/month", "Risk", "Backtest"),
        ("---", "---", "---", "---", "---:", "---", "---"),
    )
    if rightsizing:
        head = "\n### Top right-sizing changes\n\n" + rs_table.head()
        shown = rightsizing[:top]
        blocks.append(
            _Block(head, [_rightsizing_unit(c, mode, True) for c in shown], [1] * len(shown))
        )
        rest: dict[str, list[Change]] = {}
        for change in rightsizing[top:]:
            rest.setdefault(change.namespace, []).append(change)
        for namespace in sorted(rest):
            group = rest[namespace]
            summary = (
                f"<b>{_cell(namespace)}</b>: {len(group)} more right-sizing "
                f"change{'s' if len(group) != 1 else ''}, {_usd(total_usd(group))}/month"
            )
            blocks.append(
                _Block(
                    f"\n<details><summary>{summary}</summary>\n\n" + rs_table.head(),
                    [_rightsizing_unit(c, mode, False) for c in group],
                    [1] * len(group),
                    "\n</details>\n",
                )
            )
    generic = _Table(("Workload", "Setting", arrow, "Saves/month"), ("---", "---", "---", "---:"))
    hpa = diff.section("hpa")
    if hpa:
        blocks.append(
            _Block(
                "\n### HPA changes\n\n" + generic.head(),
                [_generic_unit(c, mode, f"{c.key[0]}/{c.key[1]}") for c in hpa],
                [1] * len(hpa),
            )
        )
    spot = diff.section("spot")
    if spot:
        table = _Table(
            ("Workload", "Setting", arrow, "Saves/month", "Interruptions"),
            ("---", "---", "---", "---:", "---"),
        )
        blocks.append(
            _Block(
                "\n### Spot changes\n\n" + table.head(),
                [
                    _generic_unit(
                        c,
                        mode,
                        f"{c.key[0]}/{c.key[2]}",
                        lambda c: _cell(c.row.interruption_range or "-"),
                    )
                    for c in spot
                ],
                [1] * len(spot),
            )
        )
    nodegroups = diff.section("nodegroups")
    if nodegroups:
        table = _Table(
            ("Node group", "Setting", arrow, "Saves/month"), ("---", "---", "---", "---:")
        )
        blocks.append(
            _Block(
                "\n### Node-group changes\n\n" + _nodegroup_basis(nodegroups) + table.head(),
                [_generic_unit(c, mode, c.key[0]) for c in nodegroups],
                [1] * len(nodegroups),
            )
        )
    forecast = diff.section("forecast")
    if forecast:
        table = _Table(("Scope", "Resource", "Change"), ("---", "---", "---"))
        units = []
        for change in forecast:
            values = "; ".join(f"{label}: {text}" for label, text in _field_pairs(change, mode))
            units.append(
                _row([_cell(change.key[0]) + _tag(change), _cell(change.key[1]), _cell(values)])
            )
        blocks.append(_Block("\n### Forecast changes\n\n" + table.head(), units, [1] * len(units)))
    return blocks


def _truncation_note(hidden: int, total: int, max_chars: int) -> str:
    limit = (
        f"GitHub's {GITHUB_COMMENT_LIMIT:,}-character limit"
        if max_chars == GITHUB_COMMENT_LIMIT
        else f"{max_chars:,} characters"
    )
    return (
        f"\n> [!NOTE]\n> This comment was cut to fit {limit}: "
        f"{hidden} of {total} changes are not shown. Run `kianax-capacity diff --format json` "
        "for the full list.\n"
    )


def assumed_banner(summary: Mapping[str, Any]) -> str:
    """A warning block for each assumption the dollars rest on (instance type, capacity type),
    naming the fix; "" when there is none."""
    out = ""
    for key in ("assumed_instance_type", "assumed_capacity_type"):
        assumed = summary.get(key) or {}
        if assumed.get("assumed"):
            out += f"> [!WARNING]\n> {_cell(str(assumed.get('banner', '')))}\n\n"
    return out


def render_markdown(
    diff: RecommendationDiff, top: int = 10, max_chars: int = GITHUB_COMMENT_LIMIT
) -> str:
    """The PR comment for ``diff``, at most ``max_chars`` characters, starting with :data:`MARKER`.

    Args:
        diff: from :func:`~kianax_capacity.outputs.diff.diff_recommendations` or
            :func:`~kianax_capacity.outputs.diff.diff_against_current`.
        top: how many right-sizing changes the top table shows; the rest go into per-namespace
            ``<details>`` sections.
        max_chars: the size limit (GitHub's by default).
    """
    title = f"{MARKER}\n## Capacity recommendations for `{_cell(diff.new.cluster)}`\n\n"
    title += assumed_banner(diff.new.summary)
    footer = _footer(diff)
    if diff.is_empty:
        if diff.mode == "between":
            body = (
                "No changes since the previous recommendations: every difference is below the "
                "noise thresholds.\n"
            )
        else:
            body = "No changes to apply: the current values already match the recommendations.\n"
        return title + body + footer
    head = title + _summary(diff) + "\n"
    blocks = _blocks(diff, top)
    total = len(diff.changes)
    parts = [head]
    used = len(head) + len(footer)
    shown = 0
    for block in blocks:
        text = block.text()
        # Reserve room for the truncation note while anything is still left to show.
        reserve = len(_truncation_note(total, total, max_chars))
        if used + len(text) + reserve <= max_chars or (
            block is blocks[-1] and used + len(text) <= max_chars
        ):
            parts.append(text)
            used += len(text)
            shown += sum(block.counts)
            continue
        fits = 0
        size = len(block.head) + len(block.tail)
        for unit in block.units:
            if used + size + len(unit) + reserve > max_chars:
                break
            size += len(unit)
            fits += 1
        if fits:
            parts.append(block.text(fits))
            shown += sum(block.counts[:fits])
        parts.append(_truncation_note(total - shown, total, max_chars))
        break
    return "".join(parts) + footer
