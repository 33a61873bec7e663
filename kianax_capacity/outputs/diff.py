"""What changed between two recommendation sets, or between current values and a set's advice.

Two modes, one result type (:class:`RecommendationDiff`):

* :func:`diff_recommendations` (``diff OLD NEW``): rows matched by their stable keys — right-sizing
  ``(namespace, kind, workload, container)``, HPA ``(namespace, workload)``, spot
  ``(namespace, kind, workload)``, node groups ``(name,)``, forecast ``(scope, resource)`` — and
  their *recommended* values and status compared. Keys on one side only are ``added``/``removed``.
* :func:`diff_against_current` (``diff --against-current NEW``): each actionable row of one set
  compared with its own current values — what a PR applying the set changes.

Noise thresholds keep weekly wobbles out of PR comments. A numeric value counts as changed when it
moved by at least ``min_change_percent`` of its old value; appearing or disappearing (a limit
removed), or any change of a non-numeric value (status, instance types, spot readiness), always
counts. A changed row is then reported when a status/non-numeric value changed, or when the row is
worth at least ``min_change_usd`` a month (its monthly savings or extra cost, in either set; unknown
dollars pass): a 20% move on a container worth 30 cents a month is noise. Added and removed rows
are always reported.

Ordering is stable: by absolute dollars (largest first), then by key.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from kianax_capacity.recommendations import RecommendationSet

__all__ = [
    "COMPARED_FIELDS",
    "SECTIONS",
    "Change",
    "DiffThresholds",
    "FieldChange",
    "RecommendationDiff",
    "diff_against_current",
    "diff_recommendations",
    "risk_counts",
    "total_usd",
]

Section = Literal["rightsizing", "hpa", "spot", "nodegroups", "forecast"]
SECTIONS: tuple[Section, ...] = ("rightsizing", "hpa", "spot", "nodegroups", "forecast")
ChangeKind = Literal["added", "removed", "changed"]

# Which values of each section are compared, in display order.
COMPARED_FIELDS: dict[str, tuple[str, ...]] = {
    "rightsizing": ("cpu_request", "cpu_limit", "memory_request", "memory_limit"),
    "hpa": ("min_replicas", "max_replicas", "target_cpu_utilization", "target_memory_utilization"),
    "spot": ("ready", "blockers"),
    "nodegroups": ("instance_types", "capacity_type", "min_size", "max_size", "nodes_avg"),
    "forecast": ("exhausted_on",),
}


@dataclass(frozen=True)
class DiffThresholds:
    """Noise thresholds: numeric moves below ``min_change_percent`` of the old value, and rows
    worth less than ``min_change_usd`` a month, are not changes. Zero for both reports every
    difference."""

    min_change_percent: float = 10.0
    min_change_usd: float = 1.0


@dataclass(frozen=True)
class FieldChange:
    """One compared value: ``name`` is a field (``cpu_request``) or ``status``."""

    name: str
    old: Any
    new: Any


@dataclass(frozen=True)
class Change:
    """One added, removed or changed row.

    ``old_row``/``new_row`` are the rows themselves (in against-current mode both are the same
    row); ``monthly_usd`` is the row's monthly savings in the newer set (the older for removed
    rows) and ``delta_usd`` the change in savings between the two sets.
    """

    section: Section
    kind: ChangeKind
    key: tuple[str, ...]
    fields: tuple[FieldChange, ...]
    old_row: Any
    new_row: Any
    monthly_usd: float | None
    delta_usd: float | None

    @property
    def row(self) -> Any:
        """The newest version of the row."""
        return self.new_row if self.new_row is not None else self.old_row

    @property
    def namespace(self) -> str:
        return str(getattr(self.row, "namespace", "") or "")

    def to_json(self) -> dict[str, Any]:
        return {
            "section": self.section,
            "change": self.kind,
            "key": list(self.key),
            "fields": [
                {"name": f.name, "old": _jsonable(f.old), "new": _jsonable(f.new)}
                for f in self.fields
            ],
            "monthly_savings_usd": self.monthly_usd,
            "delta_usd": None if self.delta_usd is None else round(self.delta_usd, 2),
            "risk": getattr(self.row, "risk", None),
        }


@dataclass(frozen=True)
class RecommendationDiff:
    """The changes between two sets (``old`` None in against-current mode)."""

    old: RecommendationSet | None
    new: RecommendationSet
    changes: tuple[Change, ...]
    thresholds: DiffThresholds
    suppressed: int = 0

    @property
    def mode(self) -> Literal["between", "against_current"]:
        return "against_current" if self.old is None else "between"

    @property
    def is_empty(self) -> bool:
        return not self.changes

    def section(self, name: Section) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.section == name)

    def to_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "cluster": self.new.cluster,
            "old_generated_at": None if self.old is None else _iso(self.old.generated_at),
            "new_generated_at": _iso(self.new.generated_at),
            "thresholds": {
                "min_change_percent": self.thresholds.min_change_percent,
                "min_change_usd": self.thresholds.min_change_usd,
            },
            "suppressed": self.suppressed,
            "changes": [c.to_json() for c in self.changes],
        }


def _iso(moment: Any) -> str:
    return str(moment.strftime("%Y-%m-%dT%H:%M:%SZ"))


def _jsonable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _values(section: str, row: Any, which: str) -> dict[str, Any]:
    """The compared values of a row: its ``recommended`` (or ``current``) settings."""
    if section in ("rightsizing", "hpa", "nodegroups"):
        settings = getattr(row, which)
        return {name: getattr(settings, name) for name in COMPARED_FIELDS[section]}
    values = {name: getattr(row, name) for name in COMPARED_FIELDS[section]}
    if section == "forecast" and row.extra.get("already_at_capacity"):
        # Its date is the window's last day, which moves every week: the state is what counts.
        values["exhausted_on"] = "already at capacity"
    return values


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _significant(old: Any, new: Any, min_percent: float) -> bool:
    if old == new:
        return False
    if _is_number(old) and _is_number(new):
        if old == 0:
            return True
        return abs(new - old) / abs(old) * 100.0 >= min_percent - 1e-9
    return True


def _compare(
    old: Mapping[str, Any], new: Mapping[str, Any], min_percent: float
) -> tuple[list[FieldChange], bool]:
    """Significant field changes, and whether any of them is structural (not a numeric move)."""
    found: list[FieldChange] = []
    structural = False
    for name in new:
        before, after = old.get(name), new[name]
        if _significant(before, after, min_percent):
            found.append(FieldChange(name, before, after))
            if not (_is_number(before) and _is_number(after)):
                structural = True
    return found, structural


def _status(row: Any) -> str | None:
    return getattr(row, "status", None)


def _savings(row: Any) -> float | None:
    value = getattr(row, "monthly_savings_usd", None)
    return None if value is None else float(value)


def _worth(limits: DiffThresholds, *savings: float | None) -> bool:
    """Whether a row's dollars (in either set) reach the threshold; unknown dollars pass."""
    if any(usd is None for usd in savings):
        return True
    return max(abs(usd) for usd in savings if usd is not None) >= limits.min_change_usd - 1e-9


def _sort_key(change: Change) -> tuple[int, float, tuple[str, ...]]:
    dollars = abs(change.monthly_usd) if change.monthly_usd is not None else 0.0
    return (SECTIONS.index(change.section), -dollars, change.key)


def _rows(recs: RecommendationSet, section: Section) -> dict[tuple[str, ...], Any]:
    return {tuple(row.key): row for row in getattr(recs, section)}


def diff_recommendations(
    old: RecommendationSet, new: RecommendationSet, thresholds: DiffThresholds | None = None
) -> RecommendationDiff:
    """Rows added, removed and changed (recommended values or status) from ``old`` to ``new``.

    Example:
        >>> # diff_recommendations(last_week, this_week).is_empty  -> True when nothing moved
    """
    limits = thresholds or DiffThresholds()
    changes: list[Change] = []
    suppressed = 0
    for section in SECTIONS:
        before, after = _rows(old, section), _rows(new, section)
        for key in sorted(set(before) | set(after)):
            old_row, new_row = before.get(key), after.get(key)
            if old_row is None:
                changes.append(
                    Change(
                        section,
                        "added",
                        key,
                        (),
                        None,
                        new_row,
                        _savings(new_row),
                        _savings(new_row),
                    )
                )
                continue
            if new_row is None:
                old_usd = _savings(old_row)
                changes.append(
                    Change(
                        section,
                        "removed",
                        key,
                        (),
                        old_row,
                        None,
                        old_usd,
                        None if old_usd is None else -old_usd,
                    )
                )
                continue
            found, structural = _compare(
                _values(section, old_row, "recommended"),
                _values(section, new_row, "recommended"),
                limits.min_change_percent,
            )
            if _status(old_row) != _status(new_row):
                found.insert(0, FieldChange("status", _status(old_row), _status(new_row)))
                structural = True
            old_usd, new_usd = _savings(old_row), _savings(new_row)
            delta = None if old_usd is None or new_usd is None else new_usd - old_usd
            if not found:
                # Same advice, or a move below the percent threshold (dollars may have moved with
                # prices): nothing to review, but say how many small moves were hidden.
                old_values = _values(section, old_row, "recommended")
                if old_values != _values(section, new_row, "recommended"):
                    suppressed += 1
                continue
            if structural or _worth(limits, old_usd, new_usd):
                changes.append(
                    Change(section, "changed", key, tuple(found), old_row, new_row, new_usd, delta)
                )
            else:
                suppressed += 1
    changes.sort(key=_sort_key)
    return RecommendationDiff(old, new, tuple(changes), limits, suppressed)


def diff_against_current(
    recs: RecommendationSet, thresholds: DiffThresholds | None = None
) -> RecommendationDiff:
    """What applying ``recs`` changes: each ``ok`` row's recommended values vs its current ones.

    Right-sizing and HPA rows with status ``ok``, spot rows that are ready, and node groups whose
    recommended shape differs are included; forecasts are not changes and are left out.
    """
    limits = thresholds or DiffThresholds()
    changes: list[Change] = []
    suppressed = 0
    for section in ("rightsizing", "hpa", "nodegroups"):
        for row in getattr(recs, section):
            if section != "nodegroups" and row.status != "ok":
                continue
            found, structural = _compare(
                _values(section, row, "current"),
                _values(section, row, "recommended"),
                limits.min_change_percent,
            )
            usd = _savings(row)
            if found and (structural or _worth(limits, usd)):
                changes.append(
                    Change(section, "changed", tuple(row.key), tuple(found), row, row, usd, usd)
                )
            elif found:
                suppressed += 1
    for spot in recs.spot:
        if spot.ready:
            usd = _savings(spot)
            if _worth(limits, usd):
                changes.append(
                    Change(
                        "spot",
                        "changed",
                        tuple(spot.key),
                        (FieldChange("capacity", "on-demand", "spot"),),
                        spot,
                        spot,
                        usd,
                        usd,
                    )
                )
            else:
                suppressed += 1
    changes.sort(key=_sort_key)
    return RecommendationDiff(None, recs, tuple(changes), limits, suppressed)


def total_usd(changes: Iterable[Change]) -> float:
    """Sum of the known dollar deltas of ``changes``."""
    return sum(c.delta_usd for c in changes if c.delta_usd is not None)


def risk_counts(changes: Sequence[Change]) -> dict[str, int]:
    """How many right-sizing changes carry each risk level (``high``, ``medium``, ``low``)."""
    counts: dict[str, int] = {}
    for change in changes:
        risk = getattr(change.row, "risk", None)
        if change.section == "rightsizing" and change.kind != "removed" and risk:
            counts[risk] = counts.get(risk, 0) + 1
    return counts
