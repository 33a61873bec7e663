"""Write recommendations into Helm values files, changing only the recommended values.

Each workload's chart is ``<charts>/<chart>/<values_file>`` where ``chart`` is the workload name
unless ``[helm] chart_for`` maps it (``"workload"`` or ``"namespace/workload"`` -> chart folder).
What is written, in the ``helm create`` convention (paths configurable):

* right-sizing (rows with status ``ok``): ``resources.requests.cpu``/``memory`` and
  ``resources.limits.cpu``/``memory`` as Kubernetes quantities (``120m``, ``192Mi``). A recommended
  ``cpu_limit`` of ``None`` removes the CPU limit; any other ``None`` leaves the value alone.
* HPA (rows with status ``ok``): ``autoscaling.minReplicas``, ``maxReplicas``,
  ``targetCPUUtilizationPercentage``, ``targetMemoryUtilizationPercentage`` (a ``None`` memory
  target removes the key: no scaling on memory).

Multi-container charts: a chart's values describe its *main* container. The main container is the
one named like the chart or the workload, else ``app`` or ``main``, else the workload's only
container. Other containers (sidecars) are written only when ``[helm] container_paths`` maps
``"workload/container"`` to the dotted path of their resources block; otherwise they are reported
as skipped.

A value is written only when it changes what Kubernetes would see (``0.25`` and ``250m`` are the
same): the file is edited in place (see :mod:`kianax_capacity.outputs.yaml_edit`), so comments, key
order, quoting and anchors stay as they were. A missing chart or values file, or a file too unusual
to edit safely, is reported for that workload and skipped.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from kianax_capacity.errors import UserInputError
from kianax_capacity.outputs.yaml_edit import (
    Edit,
    RemoveValue,
    SetValue,
    YamlEditError,
    edit_yaml,
    read_scalar,
    scalar_style,
)
from kianax_capacity.recommendations import (
    HpaRow,
    RecommendationSet,
    RightsizingRow,
    write_text_atomic,
)
from kianax_capacity.units import format_cpu, format_memory, parse_cpu, parse_memory

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

_RESOURCE_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("cpu_request", "requests", "cpu"),
    ("memory_request", "requests", "memory"),
    ("cpu_limit", "limits", "cpu"),
    ("memory_limit", "limits", "memory"),
)
_HPA_FIELDS: tuple[tuple[str, str], ...] = (
    ("min_replicas", "minReplicas"),
    ("max_replicas", "maxReplicas"),
    ("target_cpu_utilization", "targetCPUUtilizationPercentage"),
    ("target_memory_utilization", "targetMemoryUtilizationPercentage"),
)
_MAIN_NAMES = ("app", "main")


@dataclass(frozen=True)
class HelmLayout:
    """Where charts live and where in a values file each recommendation goes."""

    charts_dir: Path
    values_file: str = "values-prod.yaml"
    chart_for: Mapping[str, str] = field(default_factory=dict)
    resources_path: str = "resources"
    autoscaling_path: str = "autoscaling"
    container_paths: Mapping[str, str] = field(default_factory=dict)

    def chart(self, namespace: str, workload: str) -> str:
        """The chart folder name for a workload (``namespace/workload`` mapping wins)."""
        return (
            self.chart_for.get(f"{namespace}/{workload}")
            or self.chart_for.get(workload)
            or workload
        )

    def values_path(self, chart: str) -> Path:
        return self.charts_dir / chart / self.values_file


@dataclass(frozen=True)
class ValueChange:
    """One value written (or, with ``new`` None, removed) in a values file."""

    workload: str
    container: str | None
    path: str
    old: str | None
    new: str | None
    note: str = ""

    def describe(self) -> str:
        who = f"{self.workload}/{self.container}" if self.container else self.workload
        old = self.old if self.old is not None else "(unset)"
        if self.new is None:
            return f"{who}: {self.path} {old} -> (removed){' — ' + self.note if self.note else ''}"
        return f"{who}: {self.path} {old} -> {self.new}{' — ' + self.note if self.note else ''}"


@dataclass(frozen=True)
class FileResult:
    """What happened to one values file."""

    chart: str
    path: Path
    status: Literal["changed", "unchanged", "skipped"]
    changes: tuple[ValueChange, ...] = ()
    messages: tuple[str, ...] = ()
    diff: str = ""


@dataclass(frozen=True)
class ApplyResult:
    """The outcome of ``apply``: one entry per chart, plus rows that were not applied."""

    files: tuple[FileResult, ...]
    skipped_rows: tuple[str, ...] = ()

    @property
    def changed_files(self) -> tuple[FileResult, ...]:
        return tuple(f for f in self.files if f.status == "changed")

    @property
    def diff(self) -> str:
        return "".join(f.diff for f in self.files)


def main_container(chart: str, workload: str, containers: Iterable[str]) -> str | None:
    """The container a chart's top-level ``resources`` describes, or None when it is ambiguous.

    Example:
        >>> main_container("api-gateway", "api-gateway", ["istio-proxy", "app"])
        'app'
    """
    names = sorted(set(containers))
    for candidate in (chart, workload, *_MAIN_NAMES):
        if candidate in names:
            return candidate
    return names[0] if len(names) == 1 else None


def _split(path: str) -> tuple[str, ...]:
    parts = tuple(p for p in path.split(".") if p)
    if not parts:
        raise UserInputError(f"empty Helm key path {path!r}; use a dotted path like resources")
    return parts


def _cpu_text(cores: float, numeric: bool) -> str:
    """``120m`` — or ``0.12`` when the file writes CPU as a plain number of cores."""
    if numeric:
        millicores = math.ceil(round(cores * 1000, 6))
        return str(millicores // 1000 if millicores % 1000 == 0 else millicores / 1000)
    return format_cpu(cores)


def _memory_text(size: int, numeric: bool) -> str:
    """``192Mi`` — or a plain byte count when the file writes memory as a number."""
    return str(int(size)) if numeric else format_memory(size)


def _shown(value: Any) -> str | None:
    return None if value is None else str(value)


def _same_quantity(existing: Any, new_text: str, parse: Any) -> bool:
    try:
        return bool(parse(existing) == parse(new_text))
    except (UserInputError, TypeError, ValueError):
        return False


def _is_quantity(value: Any, parse: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return False
    try:
        parse(value)
    except (UserInputError, ValueError):
        return False
    return True


class _FilePlan:
    """Edits for one values file, built from the rows of the workloads that share it."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.edits: list[Edit] = []
        self.changes: list[ValueChange] = []
        self.messages: list[str] = []

    def resources(self, row: RightsizingRow, prefix: tuple[str, ...]) -> None:
        for attr, group, resource in _RESOURCE_FIELDS:
            path = (*prefix, group, resource)
            dotted = ".".join(path)
            existing = read_scalar(self.text, path)
            recommended = getattr(row.recommended, attr)
            if recommended is None:
                if attr == "cpu_limit" and existing is not None:
                    self.edits.append(RemoveValue(path))
                    self.changes.append(
                        ValueChange(
                            row.workload,
                            row.container,
                            dotted,
                            _shown(existing),
                            None,
                            "no CPU limit: avoids CFS throttling; the request still reserves CPU",
                        )
                    )
                continue
            numeric = (
                isinstance(existing, int | float)
                and not isinstance(existing, bool)
                and (scalar_style(self.text, path) == "plain")
            )
            if resource == "cpu":
                text = _cpu_text(float(recommended), numeric)
                parse: Any = parse_cpu
            else:
                text = _memory_text(int(recommended), numeric)
                parse = parse_memory
            if existing is not None and _same_quantity(existing, text, parse):
                continue
            if existing is None and getattr(row.current, attr) == recommended:
                # Not set in this file (it comes from the chart's defaults) and the cluster
                # already runs the recommended value: nothing changes, so nothing is written.
                continue
            if existing is not None and not _is_quantity(existing, parse):
                # A template expression or a nested block: not ours to overwrite.
                self.messages.append(f"{dotted} is not a quantity ({existing!r}); left alone")
                continue
            self.edits.append(SetValue(path, text))
            self.changes.append(
                ValueChange(row.workload, row.container, dotted, _shown(existing), text)
            )

    def autoscaling(self, row: HpaRow, prefix: tuple[str, ...]) -> None:
        for attr, key in _HPA_FIELDS:
            path = (*prefix, key)
            dotted = ".".join(path)
            existing = read_scalar(self.text, path)
            recommended = getattr(row.recommended, attr)
            if recommended is None:
                if attr == "target_memory_utilization" and existing is not None:
                    self.edits.append(RemoveValue(path))
                    self.changes.append(
                        ValueChange(
                            row.workload,
                            None,
                            dotted,
                            _shown(existing),
                            None,
                            "no scaling on memory",
                        )
                    )
                continue
            number = round(float(recommended))
            current = getattr(row.current, attr)
            if existing is None and current is not None and round(float(current)) == number:
                continue  # set by the chart's defaults, and already what we recommend
            if (
                isinstance(existing, int | float)
                and not isinstance(existing, bool)
                and existing == number
            ):
                continue
            if isinstance(existing, str) and existing.strip().isdigit() and int(existing) == number:
                continue
            self.edits.append(SetValue(path, str(number)))
            self.changes.append(
                ValueChange(row.workload, None, dotted, _shown(existing), str(number))
            )


def apply_recommendations(
    recommendations: RecommendationSet,
    layout: HelmLayout,
    only: Sequence[str] = SECTIONS,
    dry_run: bool = False,
) -> ApplyResult:
    """Patch the Helm values files of every workload with an ``ok`` recommendation.

    Args:
        recommendations: the set to apply.
        layout: where the charts are and which key paths to write.
        only: sections to apply, a subset of ``("rightsizing", "hpa")``.
        dry_run: compute the diff but write nothing.

    Returns:
        One :class:`FileResult` per chart (with a unified diff of the change) and the rows that
        could not be applied (missing chart, sidecar without a key path).

    Raises:
        UserInputError: ``only`` names an unknown section or a key path is empty.
        OutputError: a changed file cannot be written.
    """
    unknown = sorted(set(only) - set(SECTIONS))
    if unknown:
        raise UserInputError(
            f"--only: unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}"
        )
    resources_prefix = _split(layout.resources_path)
    autoscaling_prefix = _split(layout.autoscaling_path)
    containers_of: dict[tuple[str, str], list[str]] = {}
    for row in recommendations.rightsizing:
        containers_of.setdefault((row.namespace, row.workload), []).append(row.container)

    # Group the work by chart so two workloads sharing a chart produce one coherent diff.
    work: dict[str, list[tuple[str, Any, tuple[str, ...]]]] = {}
    skipped: list[str] = []
    if "rightsizing" in only:
        for row in recommendations.rightsizing:
            if row.status != "ok":
                continue
            chart = layout.chart(row.namespace, row.workload)
            mapped = layout.container_paths.get(f"{row.workload}/{row.container}")
            if mapped:
                prefix = _split(mapped)
            elif (
                main_container(chart, row.workload, containers_of[(row.namespace, row.workload)])
                == row.container
            ):
                prefix = resources_prefix
            else:
                skipped.append(
                    f"{row.namespace}/{row.workload}/{row.container}: not the chart's main "
                    f"container; map it with [helm] container_paths = "
                    f'{{"{row.workload}/{row.container}" = "<path>.resources"}}'
                )
                continue
            work.setdefault(chart, []).append(("rightsizing", row, prefix))
    if "hpa" in only:
        for hpa in recommendations.hpa:
            if hpa.status == "ok":
                chart = layout.chart(hpa.namespace, hpa.workload)
                work.setdefault(chart, []).append(("hpa", hpa, autoscaling_prefix))

    results: list[FileResult] = []
    for chart in sorted(work):
        results.append(_apply_chart(chart, work[chart], layout, dry_run))
    return ApplyResult(files=tuple(results), skipped_rows=tuple(skipped))


def _apply_chart(
    chart: str, items: list[tuple[str, Any, tuple[str, ...]]], layout: HelmLayout, dry_run: bool
) -> FileResult:
    path = layout.values_path(chart)
    workloads = ", ".join(sorted({item[1].workload for item in items}))
    if not (layout.charts_dir / chart).is_dir():
        return FileResult(
            chart,
            path,
            "skipped",
            messages=(
                f"{workloads}: no chart folder {layout.charts_dir / chart}; "
                "map it with [helm] chart_for",
            ),
        )
    if not path.is_file():
        return FileResult(
            chart,
            path,
            "skipped",
            messages=(f"{workloads}: no values file {path}; pass --values-file or create it",),
        )
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        return FileResult(chart, path, "skipped", messages=(f"{path}: cannot read ({exc})",))
    try:
        plan = _FilePlan(text)
        for section, row, prefix in items:
            if section == "rightsizing":
                plan.resources(row, prefix)
            else:
                plan.autoscaling(row, prefix)
        new_text = edit_yaml(text, plan.edits)
    except YamlEditError as exc:
        return FileResult(chart, path, "skipped", messages=(f"{path}: {exc}",))
    if new_text == text:
        return FileResult(chart, path, "unchanged", messages=tuple(plan.messages))
    shown = str(path)
    before, after = (shown, shown) if path.is_absolute() else (f"a/{shown}", f"b/{shown}")
    diff = "".join(
        difflib.unified_diff(
            text.splitlines(keepends=True),
            new_text.splitlines(keepends=True),
            fromfile=before,
            tofile=after,
        )
    )
    if not diff.endswith("\n"):
        diff += "\n"
    if not dry_run:
        write_text_atomic(path, new_text)
    return FileResult(chart, path, "changed", tuple(plan.changes), tuple(plan.messages), diff)
