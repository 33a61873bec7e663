"""The fleet view, the fleet PR comment and per-cluster diffs, from real recommendation files."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from kianax_capacity.outputs.diff import DiffThresholds, total_usd
from kianax_capacity.outputs.fleet import (
    cluster_figures,
    compare_workloads,
    fleet_totals,
    render_fleet_page,
    write_fleet_page,
)
from kianax_capacity.outputs.fleet_markdown import (
    fleet_diffs,
    load_cluster_sets,
    render_fleet_markdown,
)
from kianax_capacity.outputs.github import upsert_sticky_comment
from kianax_capacity.outputs.markdown import MARKER
from kianax_capacity.outputs.report import write_top_index
from kianax_capacity.snapshot import Snapshot
from tests.unit.test_diff_github_comment import TOKEN, FakeGitHub, github  # noqa: F401

CLUSTERS = ("kianax-production", "kianax-dev")
WEEK = "2026-W47"


@pytest.fixture(scope="module")
def fleet_dir(tmp_path_factory: pytest.TempPathFactory, demo_snapshot: Snapshot) -> Path:
    """Both demo clusters' recommendations as ``recommend`` writes a fleet: DIR/<cluster>/."""
    from kianax_capacity.cli._fleet import cluster_profile
    from kianax_capacity.config import Config
    from kianax_capacity.recommenders.engine import recommend
    from kianax_capacity.sources.demo import generate_demo_snapshot

    folder = tmp_path_factory.mktemp("fleet")
    snapshots = {
        CLUSTERS[0]: demo_snapshot,
        CLUSTERS[1]: generate_demo_snapshot(days=4, cluster=CLUSTERS[1]),
    }
    for name, snapshot in snapshots.items():
        recs = recommend(
            snapshot,
            Config(),
            generated_at=datetime(2026, 11, 23, 6, tzinfo=UTC),
            profile=cluster_profile(Config(), name, "demo", None),
        )
        (folder / name).mkdir()
        recs.write(folder / name / "recommendations.json")
    return folder


def _data(fleet_dir: Path) -> dict[str, dict[str, Any]]:
    return {c: json.loads((fleet_dir / c / "recommendations.json").read_text()) for c in CLUSTERS}


def test_fleet_totals_add_up_from_the_files(fleet_dir: Path) -> None:
    data = _data(fleet_dir)
    assert data[CLUSTERS[1]]["profile"] == "development"
    totals = fleet_totals([cluster_figures(d) for d in data.values()])
    for key, attribute in (
        ("monthly_cost_usd", "monthly_cost_usd"),
        ("monthly_savings_usd", "monthly_savings_usd"),
        ("idle_monthly_usd", "idle_monthly_usd"),
    ):
        expected = sum(d["summary"][key] for d in data.values())
        assert getattr(totals, attribute) == pytest.approx(expected, abs=0.005)
        assert all(d["summary"][key] > 0 for d in data.values()), key
    page = render_fleet_page(WEEK, data)
    for cluster in CLUSTERS:
        assert f"{data[cluster]['summary']['monthly_cost_usd']:,.2f}" in page
    assert f"{totals.monthly_cost_usd:,.2f}" in page and "fleet" in page


def test_the_same_workload_across_clusters(fleet_dir: Path) -> None:
    data = _data(fleet_dir)
    across = {(w.namespace, w.workload): w for w in compare_workloads(data)}
    gateway = across[("kianax", "api-gateway")]
    assert set(gateway.by_cluster) == set(CLUSTERS)
    for cluster in CLUSTERS:
        rows = [
            r
            for r in data[cluster]["rightsizing"]
            if (r["namespace"], r["workload"]) == ("kianax", "api-gateway")
        ]
        figures = gateway.by_cluster[cluster]
        assert figures.cpu_request_cores == pytest.approx(
            sum(r["current"]["cpu_request"] for r in rows)
        )
        assert figures.cpu_p95_cores == pytest.approx(
            sum(r["evidence"]["cpu_p95_cores"] for r in rows)
        )
        assert (
            figures.monthly_cost_usd
            == data[cluster]["summary"]["workload_monthly_usd"]["kianax/Deployment/api-gateway"]
        )
    # Dev runs a fraction of the load: less used per pod, fewer replicas, cheaper.
    prod, dev = gateway.by_cluster[CLUSTERS[0]], gateway.by_cluster[CLUSTERS[1]]
    assert dev.replicas < prod.replicas
    assert dev.monthly_cost_usd is not None and prod.monthly_cost_usd is not None
    assert dev.monthly_cost_usd < prod.monthly_cost_usd
    # Allocated workload costs of a cluster add up to its allocated node cost.
    summary = data[CLUSTERS[1]]["summary"]
    assert sum(summary["workload_monthly_usd"].values()) == pytest.approx(
        summary["allocated_monthly_usd"], rel=0.01
    )


def _week(root: Path, cluster: str, source: Path) -> None:
    folder = root / cluster / WEEK
    folder.mkdir(parents=True)
    (folder / "index.html").write_text("<html></html>")
    (folder / "recommendations.json").write_bytes(source.read_bytes())


def test_index_lists_clusters_and_fleet_totals(fleet_dir: Path, tmp_path: Path) -> None:
    single = tmp_path / "single"
    _week(single, CLUSTERS[0], fleet_dir / CLUSTERS[0] / "recommendations.json")
    assert "Fleet" not in write_top_index(single).read_text()  # one cluster: as before
    root = tmp_path / "reports"
    for cluster in CLUSTERS:
        _week(root, cluster, fleet_dir / cluster / "recommendations.json")
    page = write_fleet_page(root, WEEK)
    assert page == root / "fleet" / f"{WEEK}.html"
    index = write_top_index(root).read_text()
    totals = fleet_totals([cluster_figures(d) for d in _data(fleet_dir).values()])
    fleet_row = re.search(r"<h2>Fleet</h2>.*?</table>", index, re.S)
    assert fleet_row is not None
    assert f"href='fleet/{WEEK}.html'" in fleet_row[0]
    assert f"${totals.monthly_cost_usd:,.0f}" in fleet_row[0]
    assert f"${totals.idle_monthly_usd:,.0f}" in fleet_row[0]
    for cluster in CLUSTERS:
        assert f"<h2>{cluster}</h2>" in index and f"{cluster}/{WEEK}/index.html" in index
    assert "<h2>fleet</h2>" not in index  # the fleet folder is not a cluster


def test_one_comment_with_every_cluster_fleet_total_first(fleet_dir: Path) -> None:
    sets = load_cluster_sets([fleet_dir])
    assert list(sets) == sorted(CLUSTERS)
    items = fleet_diffs(None, sets, DiffThresholds())
    text = render_fleet_markdown(items)
    assert text.startswith(MARKER + "\n") and text.count(MARKER) == 1
    fleet_at = text.index("| **fleet** |")
    sections = [text.index(f"\n## `{c}`") for c in CLUSTERS]
    assert fleet_at < min(sections)
    expected = sum(total_usd(i.diff.changes) for i in items if i.diff is not None)
    assert f"**+${expected:,.2f}**" in text
    for item in items:
        assert item.diff is not None and item.diff.changes
    short = render_fleet_markdown(items, max_chars=6000)
    assert len(short) <= 6000 and all(f"## `{c}`" in short for c in CLUSTERS)


def test_per_cluster_diff(fleet_dir: Path, tmp_path: Path) -> None:
    old = tmp_path / "old"
    (old / CLUSTERS[0]).mkdir(parents=True)
    (old / CLUSTERS[0] / "recommendations.json").write_bytes(
        (fleet_dir / CLUSTERS[0] / "recommendations.json").read_bytes()
    )
    new = tmp_path / "new"
    for cluster in CLUSTERS:
        data = _data(fleet_dir)[cluster]
        if cluster == CLUSTERS[0]:
            row = next(r for r in data["rightsizing"] if r["workload"] == "api-gateway")
            row["recommended"]["cpu_request"] = row["recommended"]["cpu_request"] * 3
        (new / cluster).mkdir(parents=True)
        (new / cluster / "recommendations.json").write_text(json.dumps(data))
    items = {
        i.cluster: i
        for i in fleet_diffs(load_cluster_sets([old]), load_cluster_sets([new]), DiffThresholds())
    }
    prod = items[CLUSTERS[0]]
    assert prod.diff is not None and prod.diff.mode == "between" and not prod.note
    assert [c.key[2] for c in prod.diff.changes] == ["api-gateway"]
    dev = items[CLUSTERS[1]]
    assert dev.diff is not None and dev.diff.mode == "against_current"
    assert "new cluster" in dev.note
    text = render_fleet_markdown(list(items.values()))
    assert "api-gateway" in text.split(f"## `{CLUSTERS[0]}`")[1]


def test_the_fleet_comment_updates_one_sticky_comment(
    fleet_dir: Path,
    github: FakeGitHub,  # noqa: F811
) -> None:
    github.comments = [{"id": 5, "body": f"{MARKER}\nlast week's, production only"}]
    text = render_fleet_markdown(
        fleet_diffs(None, load_cluster_sets([fleet_dir]), DiffThresholds())
    )
    result = upsert_sticky_comment("owner/repo", 7, text, TOKEN, api_url=github.url)
    assert (result.action, result.comment_id) == ("updated", 5)
    writes = [r for r in github.requests if r["method"] in ("PATCH", "POST")]
    assert len(writes) == 1
    body = writes[0]["body"]["body"]
    assert all(f"## `{c}`" in body for c in CLUSTERS)


def test_fleet_pages_go_up_with_the_reports(
    fleet_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``report --upload`` of a fleet: the fleet page beside the weeks, in a moto S3 server."""
    boto3 = pytest.importorskip("boto3")
    from moto.server import ThreadedMotoServer

    from kianax_capacity.outputs.upload import parse_s3_url, upload_report

    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")):
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        boto3.client("s3", endpoint_url=url).create_bucket(Bucket="reports")
        root = tmp_path / "reports"
        for cluster in CLUSTERS:
            _week(root, cluster, fleet_dir / cluster / "recommendations.json")
        page = write_fleet_page(root, WEEK)
        write_top_index(root)
        location = parse_s3_url("s3://reports/weekly")
        sent = sum(
            upload_report(
                root,
                root / c / WEEK,
                location,
                endpoint_url=url,
                extra_files=[page] if last else (),
            )
            for c, last in zip(CLUSTERS, (False, True), strict=True)
        )
        listed = boto3.client("s3", endpoint_url=url).list_objects_v2(Bucket="reports")
        keys = sorted(item["Key"] for item in listed["Contents"])
    finally:
        server.stop()
    assert f"weekly/fleet/{WEEK}.html" in keys and "weekly/index.html" in keys
    assert all(f"weekly/{c}/{WEEK}/recommendations.json" in keys for c in CLUSTERS)
    assert sent == 2 * 3 + 1  # per cluster: its 2 files and the index; the fleet page once
