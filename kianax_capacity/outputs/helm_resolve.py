"""Which values key feeds each recommended container, or why none can be named safely.

The chart's own templates decide (:mod:`helm_paths`); for a chart used by name the shipped table
(:mod:`chart_table`); then ``[helm] container_paths``. Nothing is guessed: a container that
matches no template, or several that read different keys, is refused with the reason and the
exact ``container_paths`` entry that would settle it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from kianax_capacity.outputs.chart_table import known_chart, known_versions, table_info
from kianax_capacity.outputs.helm_paths import ChartPaths, ContainerSite, HpaSite, read_chart

__all__ = ["ChartLayout", "Target", "discover_chart", "match_container", "match_hpa"]


@dataclass(frozen=True)
class Target:
    """Where one row is written: the values path and, for bitnami charts, the preset key."""

    path: str
    preset: str = ""
    preset_default: str = ""
    source: str = ""  # templates | table | config


@dataclass(frozen=True)
class ChartLayout:
    """What is known about one chart folder: its paths, or why they are unknown."""

    paths: ChartPaths | None
    why_unknown: str = ""


def _chart_meta(folder: Path) -> dict[str, Any]:
    try:
        data = YAML(typ="safe", pure=True).load((folder / "Chart.yaml").read_bytes())
    except (OSError, YAMLError):
        return {}
    return data if isinstance(data, dict) else {}


def _prefixed(paths: ChartPaths, prefix: str) -> ChartPaths:
    def site(s: ContainerSite) -> ContainerSite:
        return replace(
            s,
            resources=f"{prefix}.{s.resources}" if s.resources else "",
            preset=f"{prefix}.{s.preset}" if s.preset else "",
        )

    def hpa(h: HpaSite) -> HpaSite:
        return replace(h, prefix=f"{prefix}.{h.prefix}")

    return replace(
        paths,
        containers=tuple(site(s) for s in paths.containers),
        hpas=tuple(hpa(h) for h in paths.hpas),
    )


def _dependencies(folder: Path, meta: Mapping[str, Any]) -> list[ChartPaths]:
    """Subcharts: vendored under ``charts/<dep>/`` (read), else known to the table."""
    found: list[ChartPaths] = []
    for dep in meta.get("dependencies") or []:
        if not isinstance(dep, dict) or not dep.get("name"):
            continue
        name, key = str(dep["name"]), str(dep.get("alias") or dep["name"])
        vendored = folder / "charts" / name
        if (vendored / "templates").is_dir():
            found.append(_prefixed(read_chart(vendored), key))
            continue
        known = known_chart(name, str(dep.get("version") or "").lstrip("^~>=< "))
        if known is not None:
            found.append(_prefixed(known, key))
    return found


def discover_chart(folder: Path) -> ChartLayout:
    """The container and HPA paths of the chart in ``folder``, from the best source at hand."""
    meta = _chart_meta(folder)
    parts: list[ChartPaths] = []
    if (folder / "templates").is_dir():
        own = read_chart(folder)
        if own.containers or own.hpas:
            parts.append(own)
    if not parts and meta.get("name"):
        known = known_chart(str(meta["name"]), str(meta.get("version") or ""))
        if known is not None:
            parts.append(known)
    parts.extend(_dependencies(folder, meta))
    if parts:
        first = parts[0]
        return ChartLayout(
            replace(
                first,
                containers=tuple(s for p in parts for s in p.containers),
                hpas=tuple(h for p in parts for h in p.hpas),
            )
        )
    if meta.get("name"):
        versions = known_versions(str(meta["name"]))
        why = f"chart {meta['name']} {meta.get('version', '')} has no templates here and " + (
            f"the table knows only version(s) {', '.join(versions)}"
            if versions
            else f"is not in {table_info()}"
        )
    else:
        why = f"{folder} has no templates/ and no Chart.yaml naming a chart in {table_info()}"
    return ChartLayout(None, why)


def _kind_ok(site_kind: str, kind: str) -> bool:
    if not site_kind:
        return True
    kinds = set(site_kind.split("|"))
    return kind in kinds or (kind in ("Job", "CronJob") and bool(kinds & {"Job", "CronJob"}))


def _score(hint: tuple[str, ...], workload: str) -> int:
    """How many words of a template's name hint the workload's name carries (``read`` counts
    for ``readreplica``: helpers are named in one word, resources in dashed parts)."""
    words = {w for w in re.split(r"[^a-z0-9]+", workload.lower()) if w}
    return sum(
        1
        for hint_word in hint
        if any(hint_word == w or (len(w) >= 3 and hint_word.startswith(w)) for w in words)
    )


def _hint_narrowed(candidates: list[Any], workload: str) -> list[Any]:
    best = max(_score(c.workload_hint, workload) for c in candidates)
    return [c for c in candidates if _score(c.workload_hint, workload) == best]


def match_container(
    paths: ChartPaths, workload: str, kind: str, container: str
) -> tuple[Target | None, str]:
    """The target of one container, or (None, the reason it cannot be named)."""
    sites = [s for s in paths.containers if s.matches(container) and _kind_ok(s.kind, kind)]
    if not sites:
        names = sorted({s.name_pattern.replace("\\", "") for s in paths.containers if not s.init})
        return None, (
            f"no container {container!r} in the chart's {paths.source} "
            f"(containers: {', '.join(names) or 'none'})"
        )
    literal = [s for s in sites if s.name_literal]
    sites = literal or sites
    if len({s.resources for s in sites}) > 1:
        sites = _hint_narrowed(sites, workload)
    chosen = {s.resources for s in sites}
    if len(chosen) > 1:
        where = ", ".join(f"{s.template} reads {s.resources or '?'}" for s in sites)
        return None, f"several templates run a container {container!r} ({where})"
    site = sites[0]
    if not site.resources:
        return None, f"{site.template}: {site.why}"
    return Target(site.resources, site.preset, site.preset_default, paths.source), ""


def match_hpa(paths: ChartPaths, workload: str) -> tuple[HpaSite | None, str]:
    """The HPA template of a workload, or (None, why)."""
    if not paths.hpas:
        return None, f"the chart's {paths.source} have no HorizontalPodAutoscaler"
    hpas = list(paths.hpas)
    if len({h.prefix for h in hpas}) > 1:
        hpas = _hint_narrowed(hpas, workload)
    if len({h.prefix for h in hpas}) > 1:
        return None, "several HPAs: " + ", ".join(f"{h.template} ({h.prefix})" for h in hpas)
    return hpas[0], ""
