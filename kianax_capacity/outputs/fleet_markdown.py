"""One sticky PR comment for several clusters: the fleet total first, then a section per cluster.

Each cluster's section is that cluster's own comment (:func:`~.markdown.render_markdown`) with
its headings one level down and without the marker, so a reader sees the same tables as in a
single-cluster comment. The comment as a whole starts with :data:`~.markdown.MARKER` (so
``comment`` updates it in place) and stays under the size limit: each section gets an equal
share of what the fleet table leaves, and cuts its own tables to fit, with its own note.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kianax_capacity.errors import UserInputError
from kianax_capacity.outputs.diff import (
    DiffThresholds,
    RecommendationDiff,
    diff_against_current,
    diff_recommendations,
    total_usd,
)
from kianax_capacity.outputs.markdown import GITHUB_COMMENT_LIMIT, MARKER, render_markdown
from kianax_capacity.recommendations import RecommendationSet, load_recommendations
from kianax_capacity.units import format_usd

__all__ = [
    "ClusterDiff",
    "fleet_diff_json",
    "fleet_diffs",
    "load_cluster_sets",
    "render_fleet_markdown",
]


@dataclass(frozen=True)
class ClusterDiff:
    """One cluster's diff; ``note`` says why it is against current (new cluster) or absent."""

    cluster: str
    diff: RecommendationDiff | None
    note: str = ""


def load_cluster_sets(paths: Sequence[Path]) -> dict[str, RecommendationSet]:
    """Recommendation files, or folders of them, as cluster -> set.

    A folder holds ``<cluster>/recommendations.json`` (a fleet ``recommend`` output, a report
    week's layout) or ``*.json`` files; the cluster is each file's own ``cluster`` field.
    """
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(path.glob("*/recommendations.json")) + sorted(path.glob("*.json"))
            if not found:
                raise UserInputError(
                    f"{path}: no recommendations in it (expected <cluster>/recommendations.json "
                    "or *.json)"
                )
            files.extend(found)
        else:
            files.append(path)
    sets: dict[str, RecommendationSet] = {}
    for file in files:
        recs = load_recommendations(file)
        if recs.cluster in sets:
            raise UserInputError(
                f"{file}: a second recommendations file for cluster {recs.cluster}"
            )
        sets[recs.cluster] = recs
    return sets


def fleet_diffs(
    old: Mapping[str, RecommendationSet] | None,
    new: Mapping[str, RecommendationSet],
    thresholds: DiffThresholds,
) -> list[ClusterDiff]:
    """Per-cluster diffs, clusters in ``new``'s order (then those only in ``old``).

    ``old`` None: every cluster against its current values. A cluster new this week is
    compared with its current values, one gone this week is listed with a note.
    """
    out: list[ClusterDiff] = []
    for cluster, recs in new.items():
        if old is None:
            out.append(ClusterDiff(cluster, diff_against_current(recs, thresholds)))
        elif cluster not in old:
            out.append(
                ClusterDiff(
                    cluster,
                    diff_against_current(recs, thresholds),
                    "new cluster: no earlier recommendations, so this is what applying them "
                    "changes",
                )
            )
        else:
            out.append(ClusterDiff(cluster, diff_recommendations(old[cluster], recs, thresholds)))
    for cluster in old or {}:
        if cluster not in new:
            out.append(ClusterDiff(cluster, None, "no recommendations this time"))
    return out


def _section_text(item: ClusterDiff, top: int, max_chars: int) -> str:
    if item.diff is None:
        return f"\n## `{item.cluster}`\n\n_{item.note}._\n"
    text = render_markdown(item.diff, top=top, max_chars=max_chars)
    text = text.removeprefix(MARKER + "\n")
    title, _, rest = text.partition("\n")
    rest = rest.replace("\n### ", "\n#### ")
    note = f"_{item.note}._\n" if item.note else ""
    return f"\n## `{item.cluster}`\n{note}{rest}" if title else rest


def _fleet_table(items: Sequence[ClusterDiff]) -> str:
    lines = [
        "| Cluster | Changes | Saves/month (these changes) | Cost/month | Savings on offer/month |",
        "|---|---:|---:|---:|---:|",
    ]
    changes = saves = cost = offer = 0.0
    for item in items:
        if item.diff is None:
            lines.append(f"| `{item.cluster}` | - | - | - | - |")
            continue
        summary = item.diff.new.summary
        item_saves = total_usd(item.diff.changes)
        item_cost = float(summary.get("monthly_cost_usd") or 0.0)
        item_offer = float(summary.get("monthly_savings_usd") or 0.0)
        changes += len(item.diff.changes)
        saves, cost, offer = saves + item_saves, cost + item_cost, offer + item_offer
        lines.append(
            f"| `{item.cluster}` | {len(item.diff.changes)} | "
            f"{format_usd(item_saves, signed=True)} | {format_usd(item_cost)} | "
            f"{format_usd(item_offer)} |"
        )
    lines.insert(
        2,
        f"| **fleet** | **{int(changes)}** | **{format_usd(saves, signed=True)}** | "
        f"**{format_usd(cost)}** | **{format_usd(offer)}** |",
    )
    return "\n".join(lines) + "\n"


def render_fleet_markdown(
    items: Sequence[ClusterDiff], top: int = 10, max_chars: int = GITHUB_COMMENT_LIMIT
) -> str:
    """The one comment for every cluster: marker, fleet total table, then a section per cluster."""
    names = ", ".join(f"`{item.cluster}`" for item in items)
    head = (
        f"{MARKER}\n# Capacity recommendations for {len(items)} clusters\n\n"
        f"Clusters: {names}. Fleet total first; each cluster's section follows.\n\n"
        + _fleet_table(items)
    )
    share = (max_chars - len(head)) // max(1, len(items))
    return head + "".join(_section_text(item, top, share) for item in items)


def fleet_diff_json(items: Sequence[ClusterDiff]) -> dict[str, Any]:
    """Every cluster's diff (``diff --format json`` with several clusters)."""
    return {
        "fleet": {
            "clusters": [item.cluster for item in items],
            "changes": sum(len(i.diff.changes) for i in items if i.diff is not None),
            "monthly_usd": round(
                sum(total_usd(i.diff.changes) for i in items if i.diff is not None), 2
            ),
        },
        "clusters": {item.cluster: _cluster_json(item) for item in items},
    }


def _cluster_json(item: ClusterDiff) -> dict[str, Any]:
    data = item.diff.to_json() if item.diff is not None else {}
    return {**data, "note": item.note} if item.note else data
