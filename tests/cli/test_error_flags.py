"""Library errors name their arguments as the library does; the CLI shows each under its flag.

End to end through ``kianax_capacity.cli.main``: the library raises these with
``parameter="url"`` or mentions such as ```out``` and ```region``` (the mechanism is checked in
tests/unit/test_errors_tree.py, the library texts by the library's own tests).
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from kianax_capacity.cli import main

pytestmark = pytest.mark.cli


def error_line(capsys: pytest.CaptureFixture[str], argv: list[str], code: int) -> str:
    """The one stderr line of a run that must fail with ``code``."""
    assert main(argv) == code
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_a_bad_prometheus_url_is_shown_under_its_flag(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    argv = ["fetch", "--source", "prometheus", "--prometheus-url", "ftp://metrics.example"]
    line = error_line(capsys, [*argv, "--window", "1h", "--out", str(tmp_path / "s")], 2)
    assert line == (
        "kianax-capacity: error: --prometheus-url: 'ftp://metrics.example' must start with "
        "http:// or https://"
    )
    assert not (tmp_path / "s").exists()


def test_a_refused_connection_says_to_check_the_url_flag(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    with socket.socket() as probe:  # a port nothing listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = tmp_path / "kianax-capacity.toml"
    config.write_text("[prometheus]\nmax_retries = 0\n")
    url = f"http://127.0.0.1:{port}"
    argv = ["--config", str(config), "-q", "fetch", "--source", "prometheus"]
    argv += ["--prometheus-url", url, "--window", "1h", "--out", str(tmp_path / "s")]
    line = error_line(capsys, argv, 1)
    assert line.startswith(f"kianax-capacity: error: cannot connect to Prometheus at {url} (")
    assert line.endswith("check --prometheus-url and that the server is up and reachable")
    assert "`" not in line


def test_an_output_that_is_a_file_names_the_out_flag(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = tmp_path / "taken"
    target.write_text("not a snapshot folder\n")
    argv = ["-q", "fetch", "--source", "demo", "--window", "1h", "--out", str(target)]
    line = error_line(capsys, argv, 2)
    assert line == (
        f"kianax-capacity: error: {target} exists and is not a folder; choose another --out or "
        "remove it"
    )
    assert target.read_text() == "not a snapshot folder\n"


def test_an_unknown_aws_region_names_the_region_flag(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    snapshot = tmp_path / "s"
    assert main(["-q", "fetch", "--source", "demo", "--window", "1h", "--out", str(snapshot)]) == 0
    capsys.readouterr()
    argv = ["-q", "recommend", str(snapshot), "--prices", "aws", "--region", "moon-1"]
    assert main([*argv, "--out", str(tmp_path / "r.json")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == (
        "kianax-capacity: error: unknown AWS region 'moon-1': check --region or [aws] region in "
        "kianax-capacity.toml (e.g. us-east-1)"
    )
    assert not (tmp_path / "r.json").exists()


def test_an_empty_namespace_regex_is_shown_under_the_namespace_flag(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # The library's parameter is namespace_regex; the CLI's flag is --namespace.
    argv = ["fetch", "--source", "prometheus", "--prometheus-url", "http://127.0.0.1:1"]
    argv += ["--namespace", "", "--window", "1h", "--out", str(tmp_path / "s")]
    line = error_line(capsys, argv, 2)
    assert (
        line
        == "kianax-capacity: error: --namespace: is empty; give a regex such as 'kianax|argocd'"
    )
