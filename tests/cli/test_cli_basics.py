"""The README's fetch/demo-data commands end to end, and one-line errors for bad input."""

import json

import pytest

from kianax_capacity.snapshot import load_snapshot

pytestmark = pytest.mark.cli


def test_help_lists_every_command(cli):
    result = cli("--help")
    assert result.returncode == 0
    for command in ("fetch", "recommend", "report", "diff", "apply", "backtest", "demo-data"):
        assert command in result.stdout
    for command in ("fetch", "recommend", "demo-data"):
        assert cli(command, "--help").returncode == 0


def test_fetch_demo_writes_a_loadable_snapshot(cli, tmp_path):
    result = cli("fetch", "--source", "demo", "--window", "2d", "--out", str(tmp_path / "s"))
    assert result.returncode == 0, result.stderr
    snapshot = load_snapshot(tmp_path / "s")
    assert snapshot.manifest.source == "demo"
    assert snapshot.usage.timestamp.nunique() == 2 * 288
    manifest = json.loads((tmp_path / "s" / "manifest.json").read_text())
    assert manifest["window"]["end"] == "2026-11-23T00:00:00Z"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["fetch", "--source", "nowhere"], "unknown source"),
        (["fetch", "--window", "fortnight"], "not a duration"),
        (["fetch", "--end", "yesterday"], "not an ISO 8601 time"),
        (["fetch", "--scale", "0"], "--scale"),
        (["fetch", "--source", "prometheus"], "--prometheus-url"),
        (["fetch", "--bogus"], "unrecognized arguments"),
    ],
)
def test_user_errors_are_one_line_exit_2(cli, tmp_path, args, message):
    result = cli(*args, "--out", str(tmp_path / "s"))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "s").exists()


def test_out_is_a_file(cli, tmp_path):
    target = tmp_path / "file"
    target.write_text("precious")
    result = cli("fetch", "--window", "1d", "--out", str(target))
    assert result.returncode == 2 and "not a folder" in result.stderr
    assert target.read_text() == "precious"


def test_corrupt_snapshot_is_one_line_and_debug_shows_traceback(cli, tmp_path):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "manifest.json").write_text("{")
    result = cli("recommend", str(tmp_path / "s"), "--out", str(tmp_path / "r.json"))
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "corrupt manifest" in result.stderr
    debug = cli("--debug", "recommend", str(tmp_path / "s"), "--out", str(tmp_path / "r.json"))
    assert debug.returncode != 0 and "Traceback" in debug.stderr
    assert not (tmp_path / "r.json").exists()


def test_bad_config_names_the_unknown_key(cli, tmp_path):
    config = tmp_path / "kianax-capacity.toml"
    config.write_text('cluster = "x"\nprofil = "production"\n')
    result = cli("--config", str(config), "fetch", "--window", "1d", "--out", str(tmp_path / "s"))
    assert result.returncode == 2 and "unknown key(s) profil" in result.stderr


def test_demo_data_openmetrics(cli, tmp_path):
    out = tmp_path / "demo.om"
    result = cli("demo-data", "--format", "openmetrics", "--days", "0.5", "--out", str(out))
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    assert text.startswith("# HELP container_cpu_usage_seconds ") and text.endswith("# EOF\n")
    assert cli("demo-data", "--days", "x", "--out", str(out)).returncode == 2
    assert cli("demo-data", "--out", str(tmp_path)).returncode != 0
