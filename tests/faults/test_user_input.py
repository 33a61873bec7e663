"""Bad input from the user: each is refused with one line and a non-zero exit, and nothing the
tool wrote before (snapshots, recommendations, reports) is touched.

The output-side faults are real: a file where a folder should be, a folder made immutable with
``chattr +i`` (the suite runs as root here, and root ignores permission bits; without root a
``chmod 0555`` folder does the same job), and a full disk (a tiny tmpfs mounted for the test;
where mounting is not permitted, a child process with ``RLIMIT_FSIZE``, whose writes fail with
EFBIG the way they would with ENOSPC).
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from kianax_capacity.config import PrometheusConfig
from kianax_capacity.errors import UserInputError
from kianax_capacity.recommenders.engine import recommend
from kianax_capacity.snapshot import Snapshot, load_snapshot
from kianax_capacity.sources.demo import generate_demo_snapshot
from kianax_capacity.sources.prometheus import fetch_prometheus_snapshot
from tests.faults.conftest import DEMO_END, DEMO_STEP_SECONDS, FETCH_START
from tests.faults.helpers import (
    assert_one_line_error,
    run_cli_parallel,
    run_main,
    tree_digest,
)
from tests.faults.proxy import FaultProxy

pytestmark = pytest.mark.faults


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with a good 2-hour demo snapshot and its recommendations.json."""
    root = tmp_path_factory.mktemp("user-input")
    snapshot = generate_demo_snapshot(days=2 / 24)
    from kianax_capacity.snapshot import write_snapshot

    write_snapshot(
        root / "snapshot",
        snapshot.tables,
        cluster=snapshot.cluster,
        window_start=snapshot.manifest.window_start,
        window_end=snapshot.manifest.window_end,
        step_seconds=snapshot.step_seconds,
        source="demo",
    )
    recommend(load_snapshot(root / "snapshot")).write(root / "recommendations.json")
    return root


# --- configuration ----------------------------------------------------------------------------


def test_malformed_config(tmp_path: Path, workspace: Path) -> None:
    config = tmp_path / "kianax-capacity.toml"
    config.write_text('cluster = "x"\n[prometheus\nurl = "http://a"\n')
    result = run_main("--config", str(config), "recommend", str(workspace / "snapshot"))
    assert_one_line_error(result, 2, str(config), "not valid TOML", "line 2")


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('[prometheus]\nurll = "http://a"\n', "urll"),
        ('clustr = "x"\n', "clustr"),
        ("[nodegroups.general-ng]\nmin_sise = 2\n", "min_sise"),
    ],
)
def test_unknown_config_keys_are_named(text: str, named: str, tmp_path: Path) -> None:
    config = tmp_path / "kianax-capacity.toml"
    config.write_text(text)
    result = run_main("--config", str(config), "fetch", "--out", str(tmp_path / "s"))
    assert_one_line_error(result, 2, "unknown key(s) " + named)
    assert not (tmp_path / "s").exists()


# --- PromQL injection through --namespace ----------------------------------------------------

INJECTIONS = [
    'kianax"} or vector(1) #',
    'kianax"} or up{job=~".+',
    'kianax\\\\"} or vector(1)',  # an escaped backslash, then a quote
    "kianax\nmonitoring",
    "kianax\r\n\t'",
]


def _fetch_ns(proxy: FaultProxy, regex: str, out: Path) -> Snapshot:
    return fetch_prometheus_snapshot(
        PrometheusConfig(url=proxy.url, max_retries=0, timeout_seconds=10),
        start=FETCH_START,
        end=DEMO_END,
        step_seconds=DEMO_STEP_SECONDS,
        out=out,
        namespace_regex=regex,
        environ={},
    )


@pytest.mark.integration
@pytest.mark.parametrize("regex", INJECTIONS)
def test_namespace_regex_cannot_inject_promql(
    regex: str, proxy: FaultProxy, tmp_path: Path
) -> None:
    snapshot = _fetch_ns(proxy, regex, tmp_path / "s")
    # Prometheus parsed every query (a broken-out quote would be a 400 parse error) ...
    assert proxy.upstream_statuses and set(proxy.upstream_statuses) == {200}
    # ... and matched the whole text as one regex: no namespace is called that, so nothing
    # came back (an injected `or vector(1)` or `or up` would have returned series).
    assert snapshot.tables["containers"].empty and snapshot.tables["nodes"].empty is False


@pytest.mark.integration
def test_a_namespace_regex_with_a_quote_still_filters(proxy: FaultProxy, tmp_path: Path) -> None:
    snapshot = _fetch_ns(proxy, 'kianax|not"there', tmp_path / "s")
    namespaces = set(snapshot.tables["containers"]["namespace"])
    assert namespaces == {"kianax"}  # the control: the same path does match real namespaces


@pytest.mark.integration
@pytest.mark.parametrize("regex", ["kianax\\", "(kianax", "(?=kianax)"])
def test_an_invalid_namespace_regex_is_refused_before_any_query(
    regex: str, proxy: FaultProxy, tmp_path: Path
) -> None:
    with pytest.raises(UserInputError) as caught:
        _fetch_ns(proxy, regex, tmp_path / "s")
    assert "\n" not in str(caught.value) and "regex" in str(caught.value)
    assert proxy.seen == []


@pytest.mark.integration
def test_an_invalid_namespace_regex_on_the_command_line(proxy: FaultProxy, tmp_path: Path) -> None:
    result = run_main(
        "fetch", "--source", "prometheus", "--prometheus-url", proxy.url,
        "--namespace", "kianax\\", "--out", str(tmp_path / "s"),
    )  # fmt: skip
    assert_one_line_error(result, 2, "not a valid regular expression")
    assert proxy.seen == [] and not (tmp_path / "s").exists()


# --- files that are not what they claim ------------------------------------------------------


def test_a_snapshot_from_a_newer_schema(tmp_path: Path, workspace: Path) -> None:
    snapshot = tmp_path / "snapshot"
    shutil.copytree(workspace / "snapshot", snapshot)
    manifest = json.loads((snapshot / "manifest.json").read_text())
    manifest["schema_version"] = 2
    (snapshot / "manifest.json").write_text(json.dumps(manifest))
    result = run_main("recommend", str(snapshot), "--out", str(tmp_path / "r.json"))
    assert_one_line_error(result, 2, "schema version 2 is newer", "upgrade")
    assert not (tmp_path / "r.json").exists()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("not json at all", "not a JSON file"),
        ('{"schema": "kianax-capacity/recommendations/v1"', "not a JSON file"),
        ("[1, 2]", "not a valid kianax-capacity/recommendations/v1 file"),
        ('{"schema": "something/else"}', "not a valid kianax-capacity/recommendations/v1 file"),
    ],
)
def test_recommendation_files_that_are_not_json_or_not_v1(
    content: str, expected: str, tmp_path: Path, workspace: Path
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    result = run_main("diff", str(workspace / "recommendations.json"), str(bad))
    assert_one_line_error(result, 2, str(bad), expected)


def test_apply_refuses_a_recommendation_file_that_is_not_json(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("<html>")
    result = run_main("apply", str(bad), "--charts", str(tmp_path))
    assert_one_line_error(result, 2, "not a JSON file")


# --- outputs that cannot be written ----------------------------------------------------------


def test_an_output_folder_that_is_a_file(tmp_path: Path, workspace: Path) -> None:
    in_the_way = tmp_path / "in-the-way"
    in_the_way.write_text("precious")
    runs = [
        ("fetch", "--window", "1h", "--out", str(in_the_way)),
        ("fetch", "--window", "1h", "--out", str(in_the_way / "snapshot")),
        ("-q", "report", "--source", str(workspace / "snapshot"), "--out-dir", str(in_the_way)),
    ]
    for result in run_cli_parallel(*runs):
        assert result.returncode != 0
        assert_one_line_error(result, result.returncode, str(in_the_way))
    assert in_the_way.read_text() == "precious"


@contextmanager
def read_only_folder(folder: Path) -> Iterator[None]:
    """``folder`` made unwritable: immutable as root (chattr +i), mode 0555 otherwise."""
    immutable = False
    if os.geteuid() == 0:
        done = subprocess.run(["chattr", "+i", str(folder)], capture_output=True, check=False)
        immutable = done.returncode == 0
        if not immutable:
            pytest.fail(f"root cannot make {folder} read-only: {done.stderr.decode().strip()}")
    else:
        folder.chmod(0o555)
    try:
        yield
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
        folder.chmod(0o755)


def test_an_output_folder_that_is_not_writable(tmp_path: Path, workspace: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    shutil.copytree(workspace / "snapshot", folder / "snapshot")
    shutil.copyfile(workspace / "recommendations.json", folder / "recommendations.json")
    before = tree_digest(folder)
    with read_only_folder(folder):
        fetch, rec, report = run_cli_parallel(
            ("fetch", "--window", "1h", "--out", str(folder / "snapshot")),
            (
                "recommend",
                str(workspace / "snapshot"),
                "--out",
                str(folder / "recommendations.json"),
            ),
            ("-q", "report", "--source", str(workspace / "snapshot"), "--out-dir", str(folder)),
        )
        assert_one_line_error(fetch, 2, "cannot write under", str(folder))
        assert_one_line_error(rec, 1, "cannot write", str(folder / "recommendations.json"))
        assert_one_line_error(report, 1, "cannot create the report lock", str(folder))
    assert tree_digest(folder) == before


@contextmanager
def small_disk(folder: Path, size: str) -> Iterator[dict[str, object]]:
    """A tmpfs of ``size`` at ``folder``; where mount is not permitted, an RLIMIT_FSIZE child.

    Yields the extra ``subprocess.run`` keyword arguments the CLI run needs (none on tmpfs).
    """
    folder.mkdir()
    mounted = (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
            capture_output=True,
            check=False,
        ).returncode
        == 0
    )
    try:
        if mounted:
            yield {}
        else:
            limit = 64 * 1024

            def cap() -> None:
                resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

            yield {"preexec_fn": cap}
    finally:
        if mounted:
            subprocess.run(["umount", str(folder)], check=True)


def test_a_full_disk_keeps_the_previous_snapshot(tmp_path: Path, workspace: Path) -> None:
    disk = tmp_path / "disk"
    with small_disk(disk, "400k") as extra:
        shutil.copytree(workspace / "snapshot", disk / "snapshot")  # ~100 kB: last week's
        before = tree_digest(disk)
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
        result = subprocess.run(
            [os.sys.executable, "-m", "kianax_capacity", "fetch", "--window", "14d",
             "--out", str(disk / "snapshot")],
            capture_output=True, text=True, env=env, check=False, **extra,  # type: ignore[arg-type]
        )  # fmt: skip
        assert_one_line_error(result, 1, "cannot write snapshot", str(disk / "snapshot"))
        assert tree_digest(disk) == before  # old snapshot intact, no temporary folder left
