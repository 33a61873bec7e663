"""Write recommendations into Helm values files, only where the chart reads them.

Each workload's chart is ``<charts>/<chart>/`` where ``chart`` is the workload name unless
``[helm] chart_for`` maps it (``"workload"`` or ``"namespace/workload"`` -> chart folder); the file
written is ``<values_file>`` in it, the top of the stack ``values.yaml`` (the chart's defaults)
-> ``[helm] values_stack`` files -> ``<values_file>``.

Where each container's resources live comes from the chart itself, in this order
(:mod:`kianax_capacity.outputs.helm_resolve`):

1. ``[helm] container_paths`` (``"workload/container" = "dotted.path"``), checked against the
   templates when they are at hand;
2. the chart's templates (``charts/<chart>/templates/``, vendored subcharts in ``charts/``),
   read statically by :mod:`kianax_capacity.outputs.helm_paths`;
3. the shipped table of known charts (``Chart.yaml`` name and major version, or a dependency);
4. ``[helm] resources_path`` for the main container, when set.

Anything else is refused with the reason and the exact ``container_paths`` entry to add; two rows
on one key are both refused. HPA rows go to the prefix the chart's HPA template reads (or
``[helm] autoscaling_path`` when set), only for the keys it reads.

A value is written only when it changes what the chart sees (``0.25`` and ``250m`` are the same):
the file is edited in place (:mod:`kianax_capacity.outputs.yaml_edit`), so comments, key order,
quoting, anchors, BOM and line endings stay as they were. After the edit, the stack is read again
through the same paths and must equal the recommendation, or the file is not written.
"""

from __future__ import annotations

import difflib
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from kianax_capacity.errors import OutputError, UserInputError
from kianax_capacity.outputs.helm_plan import FilePlan, ValueChange, verify_resources
from kianax_capacity.outputs.helm_resolve import (
    ChartLayout,
    Target,
    discover_chart,
    match_container,
    match_hpa,
)
from kianax_capacity.outputs.helm_values import ValueStack
from kianax_capacity.outputs.yaml_edit import YamlEditError, edit_yaml, load_data, split_style
from kianax_capacity.recommendations import HpaRow, RecommendationSet, RightsizingRow

__all__ = [
    "SECTIONS",
    "ApplyResult",
    "FileResult",
    "HelmLayout",
    "ValueChange",
    "apply_recommendations",
    "main_container",
]

SECTIONS = ("rightsizing", "hpa")
_MAIN_NAMES = ("app", "main")
_HPA_KEYS = (
    "minReplicas",
    "maxReplicas",
    "targetCPUUtilizationPercentage",
    "targetMemoryUtilizationPercentage",
)


@dataclass(frozen=True)
class HelmLayout:
    """Where charts live, which values files stack up, and any explicit key paths."""

    charts_dir: Path
    values_file: str = "values-prod.yaml"
    chart_for: Mapping[str, str] = field(default_factory=dict)
    resources_path: str = ""  # main container's resources when the chart's layout is unknown
    autoscaling_path: str = ""  # HPA prefix when the chart has no HPA template
    container_paths: Mapping[str, str] = field(default_factory=dict)
    values_stack: tuple[str, ...] = ()  # files between values.yaml and values_file

    def chart(self, namespace: str, workload: str) -> str:
        """The chart folder of a workload: ``chart_for`` (``namespace/workload`` first), else the
        folder named like it, else the longest folder its name starts with (a release's
        workloads are named ``<release>-<component>``: ``cert-manager-webhook``), else its name.
        """
        mapped = self.chart_for.get(f"{namespace}/{workload}") or self.chart_for.get(workload)
        if mapped:
            return mapped
        if (self.charts_dir / workload).is_dir():
            return workload
        parts = workload.split("-")
        for end in range(len(parts) - 1, 0, -1):
            prefix = "-".join(parts[:end])
            if (self.charts_dir / prefix).is_dir():
                return prefix
        return workload

    def values_path(self, chart: str) -> Path:
        return self.charts_dir / chart / self.values_file

    def stack_paths(self, chart: str) -> list[Path]:
        """The values files below the environment's file, lowest first (existing ones only)."""
        folder = self.charts_dir / chart
        names = ["values.yaml", *self.values_stack]
        return [
            folder / name
            for name in names
            if name != self.values_file and (folder / name).is_file()
        ]


@dataclass(frozen=True)
class FileResult:
    """What happened to one values file."""

    chart: str
    path: Path
    status: Literal["changed", "unchanged", "skipped"]
    changes: tuple[ValueChange, ...] = ()
    messages: tuple[str, ...] = ()
    diff: str = ""
    verified: tuple[str, ...] = ()


@dataclass(frozen=True)
class ApplyResult:
    """The outcome of ``apply``: one entry per chart, plus rows that were not applied."""

    files: tuple[FileResult, ...]
    skipped_rows: tuple[str, ...] = ()

    @property
    def changed_files(self) -> tuple[FileResult, ...]:
        return tuple(f for f in self.files if f.status == "changed")

    @property
    def skipped_count(self) -> int:
        return sum(1 for f in self.files if f.status == "skipped") + len(self.skipped_rows)

    @property
    def diff(self) -> str:
        return "".join(f.diff for f in self.files)


def main_container(chart: str, workload: str, containers: Iterable[str]) -> str | None:
    """The container a chart's main ``resources`` describes, or None when it is ambiguous.

    Example:
        >>> main_container("api-gateway", "api-gateway", ["istio-proxy", "app"])
        'app'
    """
    names = sorted(set(containers))
    for candidate in (chart, workload, *_MAIN_NAMES):
        if candidate in names:
            return candidate
    return names[0] if len(names) == 1 else None


def split_path(path: str) -> tuple[str, ...]:
    parts = tuple(p for p in path.split(".") if p)
    if not parts:
        raise UserInputError(f"empty Helm key path {path!r}; use a dotted path like resources")
    return parts


@dataclass
class PlanItem:
    section: Literal["rightsizing", "hpa"]
    row: Any
    prefix: tuple[str, ...]
    preset: str = ""
    keys: tuple[str, ...] = _HPA_KEYS

    @property
    def who(self) -> str:
        row = self.row
        if self.section == "hpa":
            return f"{row.namespace}/{row.workload} (HPA)"
        return f"{row.namespace}/{row.workload}/{row.container}"


class Resolver:
    """Resolves rows to values paths, one chart discovery per chart folder."""

    def __init__(self, recommendations: RecommendationSet, layout: HelmLayout) -> None:
        self.layout = layout
        self.charts: dict[str, ChartLayout] = {}
        self.containers_of: dict[tuple[str, str], list[str]] = {}
        for row in recommendations.rightsizing:
            self.containers_of.setdefault((row.namespace, row.workload), []).append(row.container)

    def chart_layout(self, chart: str) -> ChartLayout:
        if chart not in self.charts:
            self.charts[chart] = discover_chart(self.layout.charts_dir / chart)
        return self.charts[chart]

    def container(self, chart: str, row: RightsizingRow) -> tuple[Target | None, str]:
        key = f"{row.workload}/{row.container}"
        entry = f'[helm] container_paths = {{"{key}" = "<path>.resources"}}'
        known = self.chart_layout(chart)
        found: Target | None = None
        why = known.why_unknown
        if known.paths is not None:
            found, why = match_container(known.paths, row.workload, row.kind, row.container)
        mapped = self.layout.container_paths.get(key)
        if mapped:
            if found is not None and found.path != mapped and found.source == "templates":
                return None, (
                    f"container_paths maps {key} to {mapped}, but the chart's templates read "
                    f"{found.path}; fix the mapping"
                )
            preset = found.preset if found is not None and found.path == mapped else ""
            return Target(mapped, preset, source="config"), ""
        if found is not None:
            return found, ""
        if self.layout.resources_path and known.paths is None:
            main = main_container(
                chart, row.workload, self.containers_of[(row.namespace, row.workload)]
            )
            if main == row.container:
                return Target(self.layout.resources_path, source="config"), ""
            why = f"{why}; not the main container for [helm] resources_path"
        return None, f"{why}; add {entry}"

    def hpa(self, chart: str, row: HpaRow) -> tuple[PlanItem | None, str]:
        known = self.chart_layout(chart)
        why = known.why_unknown
        if known.paths is not None:
            site, why = match_hpa(known.paths, row.workload)
            if site is not None:
                return PlanItem("hpa", row, split_path(site.prefix), keys=site.keys), ""
        if self.layout.autoscaling_path:
            return PlanItem("hpa", row, split_path(self.layout.autoscaling_path)), ""
        return None, f"{why}; set [helm] autoscaling_path to the chart's HPA prefix"


def _plan_rows(
    recommendations: RecommendationSet, layout: HelmLayout, only: Sequence[str]
) -> tuple[dict[str, list[PlanItem]], list[str], set[str]]:
    """Rows grouped by chart, refused rows, and charts whose folder or file is missing."""
    resolver = Resolver(recommendations, layout)
    work: dict[str, list[PlanItem]] = {}
    refused: list[str] = []
    missing: set[str] = set()

    def usable(chart: str, item_who: str) -> bool:
        if not layout.values_path(chart).is_file():
            missing.add(chart)
            return False
        return True

    if "rightsizing" in only:
        for row in recommendations.rightsizing:
            if row.status != "ok":
                continue
            chart = layout.chart(row.namespace, row.workload)
            who = f"{row.namespace}/{row.workload}/{row.container}"
            if not usable(chart, who):
                work.setdefault(chart, [])
                continue
            target, why = resolver.container(chart, row)
            if target is None:
                refused.append(f"{who}: {why}")
                continue
            item = PlanItem("rightsizing", row, split_path(target.path), target.preset)
            work.setdefault(chart, []).append(item)
    if "hpa" in only:
        for hpa in recommendations.hpa:
            if hpa.status != "ok":
                continue
            chart = layout.chart(hpa.namespace, hpa.workload)
            if not usable(chart, hpa.workload):
                work.setdefault(chart, [])
                continue
            item_or_none, why = resolver.hpa(chart, hpa)
            if item_or_none is None:
                refused.append(f"{hpa.namespace}/{hpa.workload} (HPA): {why}")
                continue
            work.setdefault(chart, []).append(item_or_none)
    for chart, items in work.items():
        work[chart], collisions = without_collisions(items)
        refused.extend(collisions)
    return work, refused, missing


def without_collisions(items: list[PlanItem]) -> tuple[list[PlanItem], list[str]]:
    """Two rows on one key: neither is written (the last would win and the next run flip)."""
    by_key: dict[tuple[str, tuple[str, ...]], list[PlanItem]] = {}
    for item in items:
        by_key.setdefault((item.section, item.prefix), []).append(item)
    kept: list[PlanItem] = []
    refused: list[str] = []
    for (_, prefix), group in by_key.items():
        if len(group) == 1:
            kept.append(group[0])
            continue
        names = " and ".join(item.who for item in group)
        for item in group:
            refused.append(
                f"{item.who}: {names} would both write {'.'.join(prefix)}; map each to its own "
                "key with [helm] container_paths"
            )
    return kept, refused


def apply_recommendations(
    recommendations: RecommendationSet,
    layout: HelmLayout,
    only: Sequence[str] = SECTIONS,
    dry_run: bool = False,
) -> ApplyResult:
    """Patch the Helm values files of every workload with an ``ok`` recommendation.

    Args:
        recommendations: the set to apply.
        layout: where the charts are, the values stack, and explicit key paths.
        only: sections to apply, a subset of ``("rightsizing", "hpa")``.
        dry_run: compute the diff but write nothing.

    Returns:
        One :class:`FileResult` per chart (with a unified diff of the change and what the
        re-read verified) and the rows that could not be applied, each with its reason.

    Raises:
        UserInputError: ``only`` names an unknown section or a key path is empty.
        OutputError: a changed file cannot be written.
    """
    unknown = sorted(set(only) - set(SECTIONS))
    if unknown:
        raise UserInputError(
            f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}",
            parameter="only",
        )
    work, refused, missing = _plan_rows(recommendations, layout, only)
    results: list[FileResult] = []
    for chart in sorted(work):
        if chart in missing:
            results.append(_missing(chart, layout, recommendations))
        elif work[chart]:
            results.append(_apply_chart(chart, work[chart], layout, dry_run))
    return ApplyResult(files=tuple(results), skipped_rows=tuple(refused))


def _missing(chart: str, layout: HelmLayout, recs: RecommendationSet) -> FileResult:
    path = layout.values_path(chart)
    rows: list[Any] = [*recs.rightsizing, *recs.hpa]
    workloads = ", ".join(
        sorted({r.workload for r in rows if layout.chart(r.namespace, r.workload) == chart})
    )
    if not (layout.charts_dir / chart).is_dir():
        message = f"{workloads}: no chart folder {layout.charts_dir / chart}; map it with [helm] chart_for"
    else:
        message = f"{workloads}: no values file {path}; set `values_file` or create it"
    return FileResult(chart, path, "skipped", messages=(message,))


def load_values(text: str) -> Any:
    data = load_data(text)
    return data if data is not None else {}


def _read_stack(layout: HelmLayout, chart: str) -> ValueStack:
    layers = []
    for path in layout.stack_paths(chart):
        try:
            text, _ = split_style(path.read_bytes().decode("utf-8"))
            layers.append(load_values(text))
        except (OSError, UnicodeDecodeError, YamlEditError) as exc:
            raise YamlEditError(f"cannot read the lower values file {path} ({exc})") from exc
    return ValueStack(tuple(layers))


def _apply_chart(
    chart: str, items: list[PlanItem], layout: HelmLayout, dry_run: bool
) -> FileResult:
    path = layout.values_path(chart)
    try:
        raw = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return FileResult(chart, path, "skipped", messages=(f"{path}: cannot read ({exc})",))
    try:
        text, style = split_style(raw)
        lower = _read_stack(layout, chart)
        stack = ValueStack((*lower.layers, load_values(text)))
        plan = FilePlan(text, stack)
        for item in items:
            if item.section == "rightsizing":
                plan.resources(item.row, item.prefix, item.preset)
            else:
                plan.autoscaling(item.row, item.prefix, item.keys)
        new_text = edit_yaml(text, plan.edits)
        verified = verify_items(
            stack.with_top(load_values(new_text)), items, frozenset(plan.left_alone)
        )
    except YamlEditError as exc:  # includes a failed re-read (verify_items)
        return FileResult(chart, path, "skipped", messages=(f"{path}: {exc}",))
    if new_text == text:
        return FileResult(
            chart, path, "unchanged", messages=tuple(plan.messages), verified=verified
        )
    new_raw = style.restore(new_text)
    diff = unified_diff(path, raw, new_raw)
    if not dry_run:
        write_atomic(path, new_raw.encode("utf-8"))
    return FileResult(
        chart, path, "changed", tuple(plan.changes), tuple(plan.messages), diff, verified
    )


def verify_items(
    stack: ValueStack, items: list[PlanItem], left_alone: frozenset[tuple[str, ...]]
) -> tuple[str, ...]:
    """Re-read the patched stack through each row's path: it must equal the recommendation.

    Raises:
        YamlEditError: a row's values would not equal its recommendation after the edit.
    """
    lines = []
    for item in items:
        if item.section != "rightsizing":
            continue
        wrong = verify_resources(stack, item.row, item.prefix, left_alone)
        if wrong:
            raise YamlEditError(
                f"after patching, {'.'.join(item.prefix)} would not equal the recommendation for "
                f"{item.who} ({wrong}); nothing written"
            )
        lines.append(f"{item.who}: {'.'.join(item.prefix)} equals the recommendation")
    return tuple(lines)


def unified_diff(path: Path, before: str, after: str) -> str:
    shown = str(path)
    old, new = (shown, shown) if path.is_absolute() else (f"a/{shown}", f"b/{shown}")
    diff = "".join(
        difflib.unified_diff(
            before.splitlines(keepends=True),
            after.splitlines(keepends=True),
            fromfile=old,
            tofile=new,
        )
    )
    return diff if diff.endswith("\n") else diff + "\n"


def write_atomic(target: Path, data: bytes) -> None:
    """Bytes through a temp file and a rename: a reader never sees half a values file."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    except OSError as exc:
        raise OutputError(f"cannot write {target}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, target.stat().st_mode & 0o777)
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise OutputError(f"cannot write {target}: {exc.strerror or exc}") from exc
