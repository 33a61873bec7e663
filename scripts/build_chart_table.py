"""Regenerate kianax_capacity/data/helm-charts.json from the real-chart corpus.

Every corpus chart with templates is read by the same static reader ``apply`` uses on a chart
folder (kianax_capacity.outputs.helm_paths.read_chart); its container and HPA sites are stored
under the chart's name with the major version(s) they cover. Bitnami's preset table is parsed
out of the common chart's ``_resources.tpl``. The sources (repository and commit) come from the
corpus README.

Usage:
    python scripts/build_chart_table.py [--date YYYY-MM-DD]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
from pathlib import Path

from kianax_capacity.outputs.helm_paths import read_chart

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "fixtures" / "charts-corpus"
OUT = ROOT / "kianax_capacity" / "data" / "helm-charts.json"

# Charts read from a source tree carry a placeholder version; the majors they are released as.
MAJORS = {"cert-manager": ["1"]}
# Not third-party charts: the helm create starter is the platform's own layout, read live.
SKIP = {"helm-create", "bitnami-common"}


def _sources() -> dict[str, tuple[str, str]]:
    found = {}
    for line in (CORPUS / "README.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 5 and re.fullmatch(r"[0-9a-f]{40}", cells[3]):
            found[cells[0]] = (cells[1], cells[3])
    return found


def _presets() -> dict[str, dict[str, dict[str, str]]]:
    text = (CORPUS / "bitnami-common" / "templates" / "_resources.tpl").read_text()
    presets = {}
    pattern = r'"([\w]+)" \(dict\s*"requests" \(dict ([^)]*)\)\s*"limits" \(dict ([^)]*)\)\s*\)'
    for name, requests, limits in re.findall(pattern, text):
        presets[name] = {
            "requests": dict(re.findall(r'"([\w-]+)" "([^"]+)"', requests)),
            "limits": dict(re.findall(r'"([\w-]+)" "([^"]+)"', limits)),
        }
    return presets


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--date", default="2026-12-06", help="the generated_on date to record")
    args = parser.parse_args()
    sources = _sources()
    charts = []
    for folder in sorted(CORPUS.iterdir()):
        if folder.name in SKIP or not (folder / "templates").is_dir():
            continue
        paths = read_chart(folder)
        repo, commit = sources[folder.name]
        charts.append(
            {
                "name": paths.chart,
                "version": paths.version,
                "majors": MAJORS.get(paths.chart, [paths.version.lstrip("v").split(".")[0]]),
                "repository": repo,
                "commit": commit,
                "containers": [dataclasses.asdict(site) for site in paths.containers],
                "hpas": [dataclasses.asdict(hpa) for hpa in paths.hpas],
            }
        )
    common_repo, common_commit = sources["bitnami-common"]
    table = {
        "generated_on": args.date,
        "source": "scripts/build_chart_table.py over tests/fixtures/charts-corpus",
        "charts": charts,
        "bitnami_presets": {
            "source": f"{common_repo} bitnami/common/templates/_resources.tpl",
            "commit": common_commit,
            "presets": _presets(),
        },
    }
    OUT.write_text(json.dumps(table, indent=1, sort_keys=False) + "\n")
    print(f"wrote {OUT.relative_to(ROOT)}: {len(charts)} charts, {len(_presets())} presets")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
