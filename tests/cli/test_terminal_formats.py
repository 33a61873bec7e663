"""Terminal formats of recommend and diff, and the global flags after the subcommand."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from tests.helpers import run_cli

pytestmark = pytest.mark.cli


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("terminal")
    # --quiet after the subcommand: an error ("unrecognized arguments") before this change.
    done = run_cli(
        "fetch", "--source", "demo", "--window", "3d", "--out", str(work / "snap"), "--quiet"
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # quiet: no "wrote ..." line
    return work / "snap"


def test_global_flags_work_after_the_subcommand(snapshot: Path, tmp_path: Path) -> None:
    loud = run_cli("recommend", str(snapshot), "--out", str(tmp_path / "a.json"))
    assert loud.returncode == 0 and "wrote" in loud.stderr
    quiet = run_cli("recommend", str(snapshot), "--out", str(tmp_path / "b.json"), "-q")
    assert quiet.returncode == 0 and quiet.stderr == ""
    # --config after the subcommand is read: a missing file is the same error as before it.
    missing = str(tmp_path / "nope.toml")
    after = run_cli(
        "recommend", str(snapshot), "--out", str(tmp_path / "c.json"), "--config", missing
    )
    before = run_cli(
        "--config", missing, "recommend", str(snapshot), "--out", str(tmp_path / "c.json")
    )
    assert after.returncode == before.returncode == 2
    assert after.stderr == before.stderr
    assert "nope.toml" in after.stderr
    # --debug after the subcommand: debug logging (the level name is in the format).
    debug = run_cli("diff", str(tmp_path / "a.json"), str(tmp_path / "b.json"), "--debug")
    assert debug.returncode == 0
    # --quiet before the subcommand is not undone by the subcommand's own default
    still = run_cli("-q", "recommend", str(snapshot), "--out", str(tmp_path / "d.json"))
    assert still.returncode == 0 and still.stderr == ""


def test_recommend_formats_print_what_the_file_holds(snapshot: Path, tmp_path: Path) -> None:
    out = tmp_path / "recs.json"
    as_json = run_cli("-q", "recommend", str(snapshot), "--out", str(out), "--format", "json")
    assert as_json.returncode == 0, as_json.stderr
    assert as_json.stdout == out.read_text()  # the file is the JSON, unchanged
    data = json.loads(out.read_text())

    as_csv = run_cli("-q", "recommend", str(snapshot), "--out", str(out), "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    data = json.loads(out.read_text())
    assert len(rows) == len(data["rightsizing"])
    for row, original in zip(rows, data["rightsizing"], strict=True):
        assert row["workload"] == original["workload"]
        assert float(row["recommended_cpu_request"] or "nan") == pytest.approx(
            original["recommended"]["cpu_request"]
            if original["recommended"]["cpu_request"] is not None
            else float("nan"),
            nan_ok=True,
        )
    assert json.loads(out.read_text())["schema"] == "kianax-capacity/recommendations/v1"

    as_yaml = run_cli("-q", "recommend", str(snapshot), "--out", str(out), "--format", "yaml")
    assert YAML(typ="safe", pure=True).load(as_yaml.stdout) == json.loads(out.read_text())

    as_table = run_cli("-q", "recommend", str(snapshot), "--out", str(out), "--format", "table")
    assert "right-sizing" in as_table.stdout
    for original in data["rightsizing"]:
        assert original["workload"] in as_table.stdout
    assert "→" in as_table.stdout  # moves shown as Kubernetes quantities

    # Off a terminal and without --format nothing is printed (pipes and CI stay as before).
    plain = run_cli("-q", "recommend", str(snapshot), "--out", str(out))
    assert plain.stdout == ""


def test_diff_table(snapshot: Path, tmp_path: Path) -> None:
    out = tmp_path / "recs.json"
    assert run_cli("-q", "recommend", str(snapshot), "--out", str(out)).returncode == 0
    table = run_cli("diff", "--against-current", str(out), "--format", "table")
    assert table.returncode == 0, table.stderr
    changes = json.loads(run_cli("diff", "--against-current", str(out), "--format", "json").stdout)[
        "changes"
    ]
    assert changes
    assert f"{len(changes)} change(s)" in table.stdout
    first = changes[0]["key"]
    assert first[-1] in table.stdout
