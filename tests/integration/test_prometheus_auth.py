"""Auth on the wire: SigV4 verified by a server that re-signs, bearer, basic, extra headers."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from kianax_capacity.config import PrometheusConfig
from kianax_capacity.errors import ConfigError, PrometheusError
from kianax_capacity.sources.prometheus import fetch_prometheus_snapshot
from tests.integration.servers import FaultServer, SigV4CheckingServer, self_signed_tls

pytestmark = pytest.mark.integration

END = datetime(2026, 11, 23, tzinfo=UTC)
ACCESS_KEY = "AKIDEXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
REGION = "eu-west-1"


def fetch(cfg: PrometheusConfig, out: Path, environ: dict[str, str] | None = None) -> None:
    fetch_prometheus_snapshot(
        cfg,
        start=END - timedelta(hours=1),
        end=END,
        step_seconds=300,
        out=out,
        namespace_regex="kianax|monitoring",
        environ=environ or {},
    )


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)


def test_sigv4_signed_queries_verify_on_the_server(aws_credentials: None, tmp_path: Path) -> None:
    with SigV4CheckingServer(ACCESS_KEY, SECRET_KEY, REGION) as server:
        fetch(
            PrometheusConfig(url=server.url, auth="sigv4", sigv4_region=REGION),
            tmp_path / "snapshot",
        )
        assert server.failures == []
        assert len(server.requests) > 20
        queries = [path.split("?", 1)[1] for _method, path, _headers in server.requests]
        assert all("%20" in q and "+" not in q for q in queries)
    assert (tmp_path / "snapshot" / "manifest.json").is_file()


def test_the_server_refuses_a_query_signed_with_plus_for_spaces(aws_credentials: None) -> None:
    """Negative control: the check is real; signing what requests sends as-is gets a 403."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    with SigV4CheckingServer(ACCESS_KEY, SECRET_KEY, REGION) as server:
        prepared = requests.Request(
            "GET", f"{server.url}/api/v1/query", params={"query": "sum(up) by (job)"}
        ).prepare()
        assert prepared.url is not None and "+" in prepared.url
        aws = AWSRequest(method="GET", url=prepared.url, headers={"Host": server.url[7:]})
        SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "aps", REGION).add_auth(aws)
        response = requests.get(prepared.url, headers=dict(aws.headers.items()), timeout=5)
        assert response.status_code == 403
        assert server.failures == ["signature mismatch"]


def test_sigv4_region_from_the_amp_url_and_no_credentials_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    url = "https://aps-workspaces.us-west-2.amazonaws.com/workspaces/ws-1234"
    with pytest.raises(ConfigError, match="no AWS credentials"):
        fetch(PrometheusConfig(url=url, auth="sigv4"), tmp_path / "s")


def test_bearer_basic_and_extra_headers_reach_the_server(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("file-token\n")
    cases = [
        (PrometheusConfig(auth="bearer", bearer_token_env="PROM_TOKEN"), "Bearer env-token"),
        (PrometheusConfig(auth="bearer", bearer_token_file=str(token_file)), "Bearer file-token"),
        (
            PrometheusConfig(auth="basic", basic_user="reader", basic_password_env="PROM_PASSWORD"),
            "Basic " + base64.b64encode(b"reader:pa ss").decode(),
        ),
    ]
    environ = {"PROM_TOKEN": "env-token", "PROM_PASSWORD": "pa ss"}
    for index, (base, expected) in enumerate(cases):
        with FaultServer("ok") as server:
            cfg = PrometheusConfig(
                **{**base.__dict__, "url": server.url, "headers": {"X-Scope-OrgID": "tenant-1"}}
            )
            fetch(cfg, tmp_path / f"s{index}", environ=environ)
            headers = [h for _m, _p, h in server.requests]
        assert {h["Authorization"] for h in headers} == {expected}
        assert {h["X-Scope-OrgID"] for h in headers} == {"tenant-1"}


def test_a_missing_secret_is_a_config_error_naming_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="PROM_TOKEN"):
        fetch(
            PrometheusConfig(
                url="http://127.0.0.1:9", auth="bearer", bearer_token_env="PROM_TOKEN"
            ),
            tmp_path / "s",
            environ={},
        )
    with pytest.raises(ConfigError, match="PROM_PASSWORD"):
        fetch(
            PrometheusConfig(
                url="http://127.0.0.1:9",
                auth="basic",
                basic_user="u",
                basic_password_env="PROM_PASSWORD",
            ),
            tmp_path / "s",
            environ={},
        )
    assert not (tmp_path / "s").exists()


def test_unauthorised_answers_say_to_check_the_auth(tmp_path: Path) -> None:
    with FaultServer("401") as server, pytest.raises(PrometheusError, match=r"401.*`auth`"):
        fetch(PrometheusConfig(url=server.url, max_retries=0), tmp_path / "s")


def test_tls_with_a_ca_bundle_without_it_and_insecure(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    context, cert = self_signed_tls(tmp_path)
    with FaultServer("ok", tls=context) as server:
        assert server.url.startswith("https://")
        fetch(PrometheusConfig(url=server.url, ca_bundle=str(cert)), tmp_path / "trusted")
        with pytest.raises(PrometheusError, match=r"TLS handshake.*`ca_bundle`"):
            fetch(PrometheusConfig(url=server.url, max_retries=0), tmp_path / "untrusted")
        with caplog.at_level("WARNING"):
            fetch(
                PrometheusConfig(url=server.url, insecure_skip_verify=True), tmp_path / "insecure"
            )
    assert (tmp_path / "trusted" / "manifest.json").is_file()
    assert not (tmp_path / "untrusted").exists()
    assert (tmp_path / "insecure" / "manifest.json").is_file()
    assert any("verification is off" in r.getMessage() for r in caplog.records)
