"""The shipped table of known third-party charts and bitnami's resource presets.

``kianax_capacity/data/helm-charts.json`` is written by ``python scripts/build_chart_table.py``
from the real-chart corpus (``tests/fixtures/charts-corpus/``) with the same static reader
:mod:`kianax_capacity.outputs.helm_paths` uses on a chart folder, so a chart used by name (no
templates in the repository) gets the paths its templates would have given. An entry applies to
the chart's name and to versions of the same major version as the one read (``4.15.1`` covers
``4.x``); any other version is unknown and refused.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from kianax_capacity.outputs.helm_paths import ChartPaths, ContainerSite, HpaSite

__all__ = ["TABLE_FILE", "bitnami_preset", "known_chart", "table_info"]

TABLE_FILE = "helm-charts.json"


@cache
def _table() -> dict[str, Any]:
    text = resources.files("kianax_capacity.data").joinpath(TABLE_FILE).read_text()
    data: dict[str, Any] = json.loads(text)
    return data


def table_info() -> str:
    """One line naming the table's date and source, for messages and the docs."""
    table = _table()
    return f"{TABLE_FILE} of {table['generated_on']} ({len(table['charts'])} charts)"


def _major(version: str) -> str:
    return version.lstrip("v").split(".", 1)[0]


def known_chart(name: str, version: str) -> ChartPaths | None:
    """The table's paths for chart ``name`` at ``version``, or None when it is not covered."""
    for entry in _table()["charts"]:
        if entry["name"] != name:
            continue
        if version != entry["version"] and _major(version) not in entry["majors"]:
            continue
        containers = tuple(ContainerSite(**site) for site in entry["containers"])
        hpas = tuple(
            HpaSite(h["template"], tuple(h["workload_hint"]), h["prefix"], tuple(h["keys"]))
            for h in entry["hpas"]
        )
        return ChartPaths(name, version, "table", containers, hpas, {})
    return None


def known_versions(name: str) -> list[str]:
    return [e["version"] for e in _table()["charts"] if e["name"] == name]


def bitnami_preset(name: str) -> dict[str, dict[str, str]] | None:
    """What bitnami's ``common.resources.preset`` renders for ``name`` (``nano`` ...)."""
    preset = _table()["bitnami_presets"]["presets"].get(name)
    return None if preset is None else {k: dict(v) for k, v in preset.items()}
