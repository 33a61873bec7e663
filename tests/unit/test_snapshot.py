import json
import os

import pandas as pd
import pytest

from kianax_capacity.errors import SnapshotError, UserInputError
from kianax_capacity.snapshot import (
    SNAPSHOT_SCHEMA_VERSION,
    TABLE_COLUMNS,
    Snapshot,
    SnapshotWriter,
    TablesOnDisk,
    atomic_directory,
    load_snapshot,
    validate_tables,
)


def _write(snapshot, path):
    return snapshot.write(path)


def test_round_trip_gives_equal_tables(demo_snapshot, tmp_path):
    _write(demo_snapshot, tmp_path / "snap")
    loaded = load_snapshot(tmp_path / "snap")
    assert set(loaded.tables) == set(demo_snapshot.tables)
    for name, frame in demo_snapshot.tables.items():
        pd.testing.assert_frame_equal(
            loaded.tables[name], frame, check_dtype=False, check_categorical=False
        )
    assert loaded.manifest.window_end == demo_snapshot.manifest.window_end
    manifest = json.loads((tmp_path / "snap" / "manifest.json").read_text())
    assert manifest["schema_version"] == SNAPSHOT_SCHEMA_VERSION
    assert manifest["tables"]["usage"]["rows"] == len(demo_snapshot.usage)


def test_every_table_matches_the_contract(demo_snapshot):
    validate_tables(demo_snapshot.tables)
    # The optional tables: the aggregate shape's (container_stats, container_daily_stats,
    # container_season_stats, hpa_demand, memory_peaks), node_usage (node-exporter).
    aggregate_only = {
        "container_stats",
        "container_daily_stats",
        "container_season_stats",
        "hpa_demand",
        "memory_peaks",
    }
    assert set(demo_snapshot.tables) == set(TABLE_COLUMNS) - aggregate_only - {"node_usage"}


def test_failed_write_keeps_the_previous_snapshot(demo_snapshot, tmp_path):
    target = tmp_path / "snap"
    _write(demo_snapshot, target)
    before = sorted(p.name for p in target.iterdir())
    broken = dict(demo_snapshot.tables)
    broken["usage"] = broken["usage"].drop(columns=["cpu_cores"])
    with pytest.raises(SnapshotError, match="cpu_cores"):
        _write(type(demo_snapshot)(manifest=demo_snapshot.manifest, tables=broken), target)
    assert sorted(p.name for p in target.iterdir()) == before
    assert [p.name for p in tmp_path.iterdir()] == ["snap"]  # no temp folder left behind
    load_snapshot(target)


def test_exception_inside_atomic_directory_leaves_target_untouched(tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    (target / "keep.txt").write_text("old")
    with pytest.raises(RuntimeError), atomic_directory(target) as tmp:
        (tmp / "keep.txt").write_text("new")
        raise RuntimeError("boom")
    assert (target / "keep.txt").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_out_that_is_a_file_is_refused(tmp_path):
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(UserInputError, match="not a folder"), atomic_directory(target):
        pass
    assert target.read_text() == "x"


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_parent_is_refused(tmp_path):
    parent = tmp_path / "ro"
    parent.mkdir(mode=0o500)
    with pytest.raises(UserInputError), atomic_directory(parent / "snap"):
        pass


def test_missing_folder_and_manifest(tmp_path):
    with pytest.raises(SnapshotError, match="no such snapshot folder"):
        load_snapshot(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SnapshotError, match=r"no manifest\.json"):
        load_snapshot(tmp_path / "empty")


def test_corrupt_manifest_and_table(demo_snapshot, tmp_path):
    target = tmp_path / "snap"
    _write(demo_snapshot, target)
    (target / "usage.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(SnapshotError, match="corrupt Parquet"):
        load_snapshot(target)
    (target / "manifest.json").write_text("{not json")
    with pytest.raises(SnapshotError, match="corrupt manifest"):
        load_snapshot(target)


def test_newer_schema_is_refused_with_upgrade_hint(demo_snapshot, tmp_path):
    target = tmp_path / "snap"
    _write(demo_snapshot, target)
    manifest = json.loads((target / "manifest.json").read_text())
    manifest["schema_version"] = SNAPSHOT_SCHEMA_VERSION + 1
    (target / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(SnapshotError, match="upgrade kianax-capacity"):
        load_snapshot(target)


def test_missing_table_file_and_row_mismatch(demo_snapshot, tmp_path):
    target = tmp_path / "snap"
    _write(demo_snapshot, target)
    manifest = json.loads((target / "manifest.json").read_text())
    manifest["tables"]["pods"]["rows"] += 1
    (target / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(SnapshotError, match="manifest says"):
        load_snapshot(target)
    (target / "pods.parquet").unlink()
    with pytest.raises(SnapshotError, match="missing"):
        load_snapshot(target)


def test_missing_optional_table_reads_as_empty(demo_snapshot):
    tables = {k: v for k, v in demo_snapshot.tables.items() if k != "terminations"}
    snapshot = type(demo_snapshot)(manifest=demo_snapshot.manifest, tables=tables)
    assert list(snapshot.table("terminations").columns) == list(TABLE_COLUMNS["terminations"])
    assert snapshot.terminations.empty


def _finish(writer, snapshot):
    m = snapshot.manifest
    return writer.finish(
        cluster=m.cluster,
        window_start=m.window_start,
        window_end=m.window_end,
        step_seconds=m.step_seconds,
        source=m.source,
        created_at=m.created_at,
    )


def test_streamed_tables_are_on_disk_before_the_manifest_and_read_back_equal(
    demo_snapshot, tmp_path
):
    target = tmp_path / "snap"
    with SnapshotWriter(target) as writer:
        for name, frame in demo_snapshot.tables.items():
            writer.add(name, frame)
        # Written as they come, into the temporary folder: nothing at the target yet.
        assert not target.exists()
        manifest = _finish(writer, demo_snapshot)
    streamed = Snapshot(manifest=manifest, tables=TablesOnDisk(target, manifest.tables))
    assert list(streamed.tables) == list(demo_snapshot.tables)
    assert manifest.tables == {name: len(f) for name, f in demo_snapshot.tables.items()}
    for name, frame in demo_snapshot.tables.items():
        pd.testing.assert_frame_equal(
            streamed.tables[name], frame, check_dtype=False, check_categorical=False
        )
    loaded = load_snapshot(target)
    assert loaded.manifest == manifest


def test_a_stream_that_fails_or_lacks_a_required_table_leaves_the_old_snapshot(
    demo_snapshot, tmp_path
):
    target = tmp_path / "snap"
    _write(demo_snapshot, target)
    before = {p.name: p.stat().st_mtime_ns for p in target.iterdir()}
    with pytest.raises(RuntimeError, match="source died"), SnapshotWriter(target) as writer:
        writer.add("nodes", demo_snapshot.tables["nodes"])
        raise RuntimeError("source died")
    missing = pytest.raises(SnapshotError, match=r"table '[a-z_]+' is missing")
    with missing, SnapshotWriter(target) as writer:
        writer.add("nodes", demo_snapshot.tables["nodes"])
        _finish(writer, demo_snapshot)
    with pytest.raises(SnapshotError, match="cpu_cores"), SnapshotWriter(target) as writer:
        writer.add("usage", demo_snapshot.tables["usage"].drop(columns=["cpu_cores"]))
    with pytest.raises(ValueError, match="twice"), SnapshotWriter(target) as writer:
        writer.add("nodes", demo_snapshot.tables["nodes"])
        writer.add("nodes", demo_snapshot.tables["nodes"])
    assert {p.name: p.stat().st_mtime_ns for p in target.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["snap"]  # no temporary folder left behind


def test_tables_on_disk_reads_only_the_table_asked_for(demo_snapshot, tmp_path):
    target = tmp_path / "snap"
    _write(demo_snapshot, target)
    (target / "usage.parquet").write_bytes(b"not parquet")
    lazy = TablesOnDisk(target, load_snapshot(target, tables=("nodes",)).manifest.tables)
    assert len(lazy["nodes"]) == len(demo_snapshot.nodes)  # usage's damage is not read
    with pytest.raises(SnapshotError, match="corrupt Parquet"):
        lazy["usage"]
    with pytest.raises(KeyError):
        lazy["no_such_table"]
