"""Write the shipped notebooks (notebooks/*.ipynb) from the cell lists below, without outputs.

Run after editing a notebook's cells here: ``python scripts/make_notebooks.py``. The notebooks
stay thin on purpose: a parameters cell, then calls into kianax_capacity.outputs.notebook.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

FOLDER = Path(__file__).resolve().parent.parent / "notebooks"

PARAMETERS = """\
# Parameters: `kianax-capacity report` injects the real values; these defaults run by hand.
snapshot: str = "demo"  # snapshot folder from kianax-capacity fetch, or demo for the embedded cluster
recommendations: str = ""  # recommendations.json from kianax-capacity recommend; empty to compute here
cluster: str = ""  # cluster name shown in titles; empty for the name in the snapshot
week: str = ""  # ISO week such as 2026-W48; empty for the week of the snapshot window end
profile: str = "production"  # production, development or high-availability"""

PREVIOUS = """
previous_recommendations: str = ""  # recommendations.json of last week; empty for no comparison"""

SETUP = """\
import kianax_capacity as kc
from kianax_capacity.outputs import notebook as nb

nb.setup()
ctx = nb.load(snapshot, recommendations, cluster=cluster, week=week, profile=profile{previous})"""


def _setup(previous: bool = False) -> str:
    return SETUP.format(previous=", previous=previous_recommendations" if previous else "")


NOTEBOOKS: dict[str, list[tuple[str, str]]] = {
    "weekly_report": [
        ("code", "nb.title(ctx, 'Weekly capacity report')\nnb.headline(ctx)"),
        (
            "md",
            "## Cost and trend\nWhat the cluster's nodes cost each day, split by who used them (grey: idle capacity nobody requested).",
        ),
        ("code", "nb.cost_trend(ctx)"),
        (
            "md",
            "## Top 10 actions\nThe changes worth the most dollars a month, with their risk. Details in the right-sizing, HPA and spot/node-group reports.",
        ),
        (
            "code",
            "nb.show_table(nb.tables.top_actions(ctx.recommendations), 'No actionable recommendation with savings this week.', ranked=True)",
        ),
        (
            "md",
            "## Capacity forecast\nDaily peak of the CPU requested in the node group that runs out first (else the busiest), its trend with the forecast interval, and the capacity at the group's maximum size.",
        ),
        ("code", "nb.forecast(ctx, all_rows=False)"),
        (
            "md",
            "## CPU credits of burstable node groups\nCredit balance over time (solid; surplus owed dotted, below zero) and the surplus-credit dollars a month each burstable group pays on top of its list price.",
        ),
        ("code", "nb.burstable_credits(ctx)"),
        ("md", "## What changed since last week"),
        ("code", "nb.changes(ctx)"),
    ],
    "rightsizing": [
        ("code", "nb.title(ctx, 'Right-sizing: requests and limits per container')"),
        (
            "md",
            "## Requested vs used\nBars: the request and the p95 of usage per pod; tick: the maximum; diamond: the recommended request.",
        ),
        (
            "code",
            "nb.requests_vs_usage(ctx)",
        ),
        (
            "md",
            "## A closer look at one container\nThe container with the largest saving (the largest CPU request while there are no recommendations): every usage sample of every pod, with the percentiles, the current request and limit, and the recommendation.",
        ),
        ("code", "nb.container_detail(ctx)"),
        ("md", "## All recommendations"),
        (
            "code",
            "nb.show_table(nb.tables.rightsizing_table(ctx.recommendations), 'No right-sizing recommendations yet.')",
        ),
    ],
    "hpa": [
        ("code", "nb.title(ctx, 'Horizontal Pod Autoscalers')"),
        (
            "md",
            "## Replicas over time\nShaded: saturated (at max replicas with utilisation above target). When the HPA recommender replayed the recommended settings, the lower panel shows that replay.",
        ),
        ("code", "nb.hpa_charts(ctx, top=3)"),
        ("md", "## All HPA recommendations"),
        (
            "code",
            "nb.show_table(nb.tables.hpa_table(ctx.recommendations), 'No HPA recommendations yet.')",
        ),
    ],
    "spot_and_nodegroups": [
        ("code", "nb.title(ctx, 'Spot readiness and node groups')"),
        (
            "md",
            "## Node packing\nRequests per node at the busiest moment of the window, stacked by namespace, against each node's allocatable.",
        ),
        (
            "code",
            "nb.node_packing(ctx)",
        ),
        ("md", "## Node groups"),
        (
            "code",
            "nb.show_table(nb.tables.nodegroup_table(ctx.recommendations), 'No node-group recommendations yet.')",
        ),
        (
            "md",
            "## CPU credits of burstable groups\nT3/T3a/T4g nodes earn CPU credits at their baseline and, in unlimited mode, pay for surplus credits when they run above it for longer than their balance lasts. Balance (solid) and surplus owed (dotted, below zero) per group, and the surplus dollars a month included in the node-group costs above (list prices; effective where billed data was given).",
        ),
        ("code", "nb.burstable_credits(ctx)"),
        ("md", "## Spot readiness"),
        (
            "code",
            "nb.show_table(nb.tables.spot_table(ctx.recommendations), 'No spot recommendations yet.')",
        ),
        ("md", "## Capacity forecast"),
        ("code", "nb.forecast(ctx)"),
    ],
    "costs": [
        ("code", "nb.title(ctx, 'Cost allocation')\nnb.headline(ctx)"),
        (
            "md",
            "## Daily cost\nNode dollars shared out OpenCost-style: each container pays for max(request, usage); the rest is idle.",
        ),
        ("code", "nb.cost_trend(ctx)"),
        ("md", "## By namespace, workload and node group"),
        ("code", "nb.cost_breakdowns(ctx)"),
        ("md", "## Estimated vs billed"),
        ("code", "nb.estimated_vs_billed(ctx)"),
    ],
    "explore": [
        (
            "md",
            "# Explore a snapshot\nA starting point for ad-hoc questions. `ctx.snapshot` holds the tables (`ctx.snapshot.usage`, `.pods`, `.nodes`, ...; units in the column names), `ctx.recommendations` the recommendation set, `nb.frames` chart-ready frames and `nb.charts` the figures.",
        ),
        ("code", "ctx.snapshot"),
        ("code", "ctx.recommendations"),
        ("code", "ctx.snapshot.usage.head()"),
        (
            "code",
            "nb.show(nb.charts.requested_vs_used(nb.frames.requests_vs_usage(ctx.snapshot, ctx.recommendations, 'cpu'), 'cpu'))",
        ),
    ],
}


def build(name: str, cells: list[tuple[str, str]]) -> nbformat.NotebookNode:
    previous = name == "weekly_report"
    parameters = new_code_cell(PARAMETERS + (PREVIOUS if previous else ""))
    parameters.metadata["tags"] = ["parameters"]
    body = [parameters, new_code_cell(_setup(previous))]
    for kind, source in cells:
        body.append(new_markdown_cell(source) if kind == "md" else new_code_cell(source))
    notebook = new_notebook(cells=body)
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    notebook.metadata["language_info"] = {"name": "python"}
    # Stable ids keep diffs of regenerated notebooks small.
    for index, cell in enumerate(notebook.cells):
        cell["id"] = f"{name[:20]}-{index:02d}"
    return notebook


def main() -> None:
    for name, cells in NOTEBOOKS.items():
        nbformat.write(build(name, cells), FOLDER / f"{name}.ipynb")


if __name__ == "__main__":
    main()
