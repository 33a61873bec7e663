"""Several clusters through the CLI: fetch, recommend, diff and report the demo's fleet."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.cli

CLUSTERS = ("kianax-production", "kianax-dev")
TWO = ("--cluster", CLUSTERS[0], "--cluster", CLUSTERS[1])


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.helpers import run_cli

    root = tmp_path_factory.mktemp("fleet")
    result = run_cli(
        "--quiet", "fetch", "--source", "demo", "--window", "2d", *TWO, "--out", str(root / "snap")
    )
    assert result.returncode == 0, result.stderr
    result = run_cli("--quiet", "recommend", str(root / "snap"), "--out", str(root / "recs"))
    assert result.returncode == 0, result.stderr
    return root


def test_fetch_and_recommend_one_folder_per_cluster(fleet: Path) -> None:
    for cluster in CLUSTERS:
        manifest = json.loads((fleet / "snap" / cluster / "manifest.json").read_text())
        assert manifest["cluster"] == cluster
        recs = json.loads((fleet / "recs" / cluster / "recommendations.json").read_text())
        assert recs["cluster"] == cluster
    profiles = {
        c: json.loads((fleet / "recs" / c / "recommendations.json").read_text())["profile"]
        for c in CLUSTERS
    }
    assert profiles == {"kianax-production": "production", "kianax-dev": "development"}
    assert sorted(p.name for p in (fleet / "snap").iterdir()) == sorted(CLUSTERS)


def test_single_cluster_layout_is_unchanged(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "one"
    result = cli(
        "--quiet",
        "fetch",
        "--source",
        "demo",
        "--window",
        "1d",
        "--cluster",
        "lab",
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    assert json.loads((out / "manifest.json").read_text())["cluster"] == "lab"


def test_diff_folders_one_comment_and_per_cluster(cli, fleet: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli("diff", "--against-current", str(fleet / "recs"))
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert text.startswith("<!-- kianax-capacity -->\n# Capacity recommendations for 2 clusters")
    assert all(f"## `{c}`" in text for c in CLUSTERS)
    one = cli("diff", "--against-current", str(fleet / "recs"), "--cluster", CLUSTERS[1])
    assert one.returncode == 0, one.stderr
    single = cli(
        "diff", "--against-current", str(fleet / "recs" / CLUSTERS[1] / "recommendations.json")
    )
    assert one.stdout == single.stdout  # one cluster of a folder: that cluster's own comment
    as_json = json.loads(
        cli("diff", str(fleet / "recs"), str(fleet / "recs"), "--format", "json").stdout
    )
    assert sorted(as_json["clusters"]) == sorted(CLUSTERS)
    assert as_json["fleet"]["changes"] == 0
    bad = cli("diff", str(fleet / "recs"), str(fleet / "recs"), "--cluster", "nope")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "nope" in bad.stderr


def test_fleet_errors_are_one_line(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    same = cli(
        "fetch", "--source", "prometheus", "--prometheus-url", "http://127.0.0.1:9", *TWO,
        "--out", str(tmp_path / "x"),
    )  # fmt: skip
    assert same.returncode == 2 and "--cluster-label" in same.stderr
    assert same.stderr.count("\n") == 1
    twice = cli("fetch", "--cluster", "a", "--cluster", "a", "--out", str(tmp_path / "y"))
    assert twice.returncode == 2 and "given twice" in twice.stderr
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


@pytest.mark.notebooks
@pytest.mark.slow
def test_report_two_clusters_index_and_fleet_page(cli, fleet: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "reports"
    result = cli(
        "--quiet", "report", "--source", str(fleet / "snap"), *TWO,
        "--notebooks", "weekly_report", "--out-dir", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    week = "2026-W47"
    data = {c: json.loads((out / c / week / "recommendations.json").read_text()) for c in CLUSTERS}
    assert all((out / c / week / "weekly_report.html").is_file() for c in CLUSTERS)
    index = (out / "index.html").read_text()
    fleet_row = re.search(r"<h2>Fleet</h2>.*?</table>", index, re.S)
    assert fleet_row is not None
    cost = sum(d["summary"]["monthly_cost_usd"] for d in data.values())
    idle = sum(d["summary"]["idle_monthly_usd"] for d in data.values())
    assert f"${cost:,.0f}" in fleet_row[0] and f"${idle:,.0f}" in fleet_row[0]
    page = (out / "fleet" / f"{week}.html").read_text()
    for cluster in CLUSTERS:
        assert f"../{cluster}/{week}/index.html" in page
        assert f"{data[cluster]['summary']['monthly_cost_usd']:,.2f}" in page
    assert f"{cost:,.2f}" in page
    assert "kianax/api-gateway" in page
