"""The edits of one values file: each recommended field compared with what the chart sees.

A field is written only when the value the chart reads through the whole stack of values files
differs from the recommendation; a value inherited from a lower file that must go is overridden
with ``null``. A bitnami ``resourcesPreset`` that is in force is replaced by every field it set
(with the recommended ones swapped in) and ``resourcesPreset: none``. After the edit the new
stack is read back through the same paths: the re-read must equal the recommendation.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kianax_capacity.errors import UserInputError
from kianax_capacity.outputs.chart_table import bitnami_preset
from kianax_capacity.outputs.helm_values import ValueStack
from kianax_capacity.outputs.yaml_edit import Edit, RemoveValue, SetValue, scalar_style
from kianax_capacity.recommendations import HpaRow, RightsizingRow
from kianax_capacity.units import format_cpu, format_memory, parse_cpu, parse_memory

__all__ = ["RESOURCE_FIELDS", "FilePlan", "ValueChange", "verify_resources"]

RESOURCE_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("cpu_request", "requests", "cpu"),
    ("memory_request", "requests", "memory"),
    ("cpu_limit", "limits", "cpu"),
    ("memory_limit", "limits", "memory"),
)
HPA_FIELDS: tuple[tuple[str, str], ...] = (
    ("min_replicas", "minReplicas"),
    ("max_replicas", "maxReplicas"),
    ("target_cpu_utilization", "targetCPUUtilizationPercentage"),
    ("target_memory_utilization", "targetMemoryUtilizationPercentage"),
)
_NO_CPU_LIMIT = "no CPU limit: avoids CFS throttling; the request still reserves CPU"


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
        new = "(removed)" if self.new is None else self.new
        return f"{who}: {self.path} {old} -> {new}{' — ' + self.note if self.note else ''}"


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


def _same(existing: Any, new_text: str, parse: Callable[[Any], Any]) -> bool:
    try:
        return bool(parse(existing) == parse(new_text))
    except (UserInputError, TypeError, ValueError):
        return False


def _is_quantity(value: Any, parse: Callable[[Any], Any]) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return False
    try:
        parse(value)
    except (UserInputError, ValueError):
        return False
    return True


def _parser(resource: str) -> Callable[[Any], Any]:
    return parse_cpu if resource == "cpu" else parse_memory


def verify_resources(
    stack: ValueStack,
    row: RightsizingRow,
    prefix: tuple[str, ...],
    left_alone: frozenset[tuple[str, ...]] = frozenset(),
) -> str:
    """ "" when the stack's resources at ``prefix`` equal the recommendation, else what differs.

    ``left_alone`` paths were deliberately not written (a template expression sits there).
    """
    wrong: list[str] = []
    for attr, group, resource in RESOURCE_FIELDS:
        if (*prefix, group, resource) in left_alone:
            continue
        want = getattr(row.recommended, attr)
        got = stack.effective((*prefix, group, resource))
        if want is None:
            if attr == "cpu_limit" and got is not None:
                wrong.append(f"{group}.{resource} is {got}, want no limit")
            continue
        if got is None and getattr(row.current, attr) == want:
            continue  # set outside the values files, and already what runs
        parse = _parser(resource)
        if got is None or not _same(got, str(want), parse):
            wrong.append(f"{group}.{resource} is {got}, want {want}")
    return "; ".join(wrong)


class FilePlan:
    """Edits for one values file, built from the rows of the workloads that share it."""

    def __init__(self, text: str, stack: ValueStack, key_prefix: tuple[str, ...] = ()) -> None:
        self.text = text
        self.stack = stack
        # Where the values sit in ``text``: () for a values file, the valuesObject's key path
        # for values inline in an ArgoCD Application. Stack paths never carry it.
        self.key_prefix = key_prefix
        self.edits: list[Edit] = []
        self.changes: list[ValueChange] = []
        self.messages: list[str] = []
        self.left_alone: set[tuple[str, ...]] = set()

    def _set(self, path: tuple[str, ...], text: str) -> None:
        self.edits.append(SetValue((*self.key_prefix, *path), text))

    def _remove(self, path: tuple[str, ...]) -> None:
        self.edits.append(RemoveValue((*self.key_prefix, *path)))

    def _numeric(self, path: tuple[str, ...]) -> bool:
        existing = self.stack.effective(path) if self.stack.top_sets(path) else None
        return (
            isinstance(existing, int | float)
            and not isinstance(existing, bool)
            and scalar_style(self.text, (*self.key_prefix, *path)) == "plain"
        )

    def _drop(
        self, who: tuple[str, str | None], path: tuple[str, ...], existing: Any, note: str
    ) -> None:
        """Take a value away: delete it from this file, or null it when a lower file sets it."""
        inherited = self.stack.below_top().effective(path) is not None
        dotted = ".".join(path)
        if inherited:
            self._set(path, "null")
            note = f"{note}; null overrides the value inherited from a lower values file"
            self.changes.append(ValueChange(*who, dotted, _shown(existing), "null", note))
            return
        self._remove(path)
        self.changes.append(ValueChange(*who, dotted, _shown(existing), None, note))

    def resources(self, row: RightsizingRow, prefix: tuple[str, ...], preset: str = "") -> None:
        """Plan the resource fields of one container at ``prefix``."""
        if preset and self._preset_in_force(prefix, preset):
            self._replace_preset(row, prefix, preset)
            return
        for attr, group, resource in RESOURCE_FIELDS:
            path = (*prefix, group, resource)
            existing = self.stack.effective(path)
            recommended = getattr(row.recommended, attr)
            if recommended is None:
                if attr == "cpu_limit" and existing is not None:
                    self._drop((row.workload, row.container), path, existing, _NO_CPU_LIMIT)
                continue
            numeric = self._numeric(path)
            text = (
                _cpu_text(float(recommended), numeric)
                if resource == "cpu"
                else _memory_text(int(recommended), numeric)
            )
            parse = _parser(resource)
            if existing is not None and _same(existing, text, parse):
                continue
            if existing is None and getattr(row.current, attr) == recommended:
                # Not set in any values file (it comes from a default outside them) and the
                # cluster already runs the recommended value: nothing changes, nothing written.
                continue
            if existing is not None and not _is_quantity(existing, parse):
                # A template expression or a nested block: not ours to overwrite.
                self.messages.append(
                    f"{'.'.join(path)} is not a quantity ({existing!r}); left alone"
                )
                self.left_alone.add(path)
                continue
            self._set(path, text)
            self.changes.append(
                ValueChange(row.workload, row.container, ".".join(path), _shown(existing), text)
            )

    def _preset_in_force(self, prefix: tuple[str, ...], preset: str) -> bool:
        value = self.stack.effective(tuple(preset.split(".")))
        return self.stack.effective(prefix) in (None, {}) and value not in (None, "", "none")

    def _replace_preset(self, row: RightsizingRow, prefix: tuple[str, ...], preset: str) -> None:
        preset_path = tuple(preset.split("."))
        name = str(self.stack.effective(preset_path))
        fields = bitnami_preset(name)
        if fields is None:
            self.messages.append(
                f"{preset}: unknown preset {name!r}; set {'.'.join(prefix)} by hand"
            )
            return
        wanted = {attr: getattr(row.recommended, attr) for attr, _, _ in RESOURCE_FIELDS}
        for attr, group, resource in RESOURCE_FIELDS:
            value = wanted[attr]
            if value is None and attr != "cpu_limit" and resource in fields.get(group, {}):
                continue  # kept from the preset below
            if value is None:
                fields.get(group, {}).pop(resource, None)
                continue
            fields.setdefault(group, {})[resource] = (
                format_cpu(float(value)) if resource == "cpu" else format_memory(int(value))
            )
        for group in ("requests", "limits"):
            for resource, text in fields.get(group, {}).items():
                path = (*prefix, group, resource)
                self._set(path, text)
                self.changes.append(
                    ValueChange(
                        row.workload,
                        row.container,
                        ".".join(path),
                        None,
                        text,
                        f"was set by resourcesPreset {name}",
                    )
                )
        self._set(preset_path, "none")
        self.changes.append(
            ValueChange(
                row.workload,
                row.container,
                preset,
                name,
                "none",
                "a non-empty resources block replaces the preset; every field it set is written",
            )
        )

    def autoscaling(self, row: HpaRow, prefix: tuple[str, ...], keys: tuple[str, ...]) -> None:
        for attr, key in HPA_FIELDS:
            path = (*prefix, key)
            dotted = ".".join(path)
            existing = self.stack.effective(path)
            recommended = getattr(row.recommended, attr)
            if key not in keys:
                if recommended is not None and recommended != getattr(row.current, attr):
                    self.messages.append(f"{dotted}: the chart's HPA does not read it; not written")
                continue
            if recommended is None:
                if attr == "target_memory_utilization" and existing is not None:
                    self._drop((row.workload, None), path, existing, "no scaling on memory")
                continue
            number = round(float(recommended))
            current = getattr(row.current, attr)
            if existing is None and current is not None and round(float(current)) == number:
                continue  # set by a default outside the files, and already what we recommend
            if _integer(existing) == number:
                continue
            self._set(path, str(number))
            self.changes.append(
                ValueChange(row.workload, None, dotted, _shown(existing), str(number))
            )


def _integer(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return int(value) if float(value).is_integer() else None
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None
