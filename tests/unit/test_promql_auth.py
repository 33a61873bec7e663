"""Auth helpers of the Prometheus source: secrets from env/files, redaction, SigV4 encoding."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from kianax_capacity.config import PrometheusConfig
from kianax_capacity.errors import ConfigError
from kianax_capacity.sources.prometheus.auth import (
    BearerTokenAuth,
    build_auth,
    build_headers,
    configure_tls,
    redact_url,
    reencode_query,
    sigv4_region,
)


def test_redact_url_drops_userinfo_query_and_fragment() -> None:
    assert redact_url("https://user:pw@prom.example.com:8443/prometheus?x=1#f") == (
        "https://prom.example.com:8443/prometheus"
    )
    assert redact_url("http://[::1]:9090/") == "http://[::1]:9090/"


def test_reencode_query_uses_percent_20_for_spaces() -> None:
    url = "https://h/api/v1/query?query=sum+by+%28job%29+%28up%29&time=1.5"
    assert (
        reencode_query(url)
        == "https://h/api/v1/query?query=sum%20by%20%28job%29%20%28up%29&time=1.5"
    )
    assert reencode_query("https://h/api") == "https://h/api"


def test_bearer_from_env_or_file_and_never_in_repr(tmp_path: Path) -> None:
    auth = build_auth(PrometheusConfig(auth="bearer", bearer_token_env="T"), {"T": " tok \n"})
    assert isinstance(auth, BearerTokenAuth)
    request = requests.Request("GET", "http://h/").prepare()
    assert auth(request).headers["Authorization"] == "Bearer tok"
    assert "tok" not in repr(auth)
    token = tmp_path / "token"
    token.write_text("from-file\n")
    auth = build_auth(PrometheusConfig(auth="bearer", bearer_token_file=str(token)), {})
    assert auth is not None and auth(request).headers["Authorization"] == "Bearer from-file"
    with pytest.raises(ConfigError, match="cannot be read"):
        build_auth(PrometheusConfig(auth="bearer", bearer_token_file=str(tmp_path / "no")), {})
    with pytest.raises(ConfigError, match="bearer_token_env"):
        build_auth(PrometheusConfig(auth="bearer"), {})


def test_basic_none_and_unknown() -> None:
    auth = build_auth(
        PrometheusConfig(auth="basic", basic_user="u", basic_password_env="P"), {"P": "pw"}
    )
    assert isinstance(auth, requests.auth.HTTPBasicAuth) and auth.password == "pw"
    assert build_auth(PrometheusConfig(), {}) is None
    with pytest.raises(ConfigError, match="unknown Prometheus auth"):
        build_auth(PrometheusConfig(auth="kerberos"), {})


def test_headers_cannot_smuggle_a_second_header() -> None:
    assert build_headers(PrometheusConfig(headers={"X-Scope-OrgID": "t1"})) == {
        "X-Scope-OrgID": "t1"
    }
    with pytest.raises(ConfigError, match="line break"):
        build_headers(PrometheusConfig(headers={"X-Scope-OrgID": "t1\r\nX-Evil: 1"}))
    with pytest.raises(ConfigError, match="not a valid HTTP header name"):
        build_headers(PrometheusConfig(headers={"Bad Name": "v"}))


def test_sigv4_region_resolution() -> None:
    amp = "https://aps-workspaces.eu-central-1.amazonaws.com/workspaces/ws-1"
    assert sigv4_region(PrometheusConfig(url=amp), {}) == "eu-central-1"
    assert sigv4_region(PrometheusConfig(url=amp, sigv4_region="us-east-2"), {}) == "us-east-2"
    assert sigv4_region(PrometheusConfig(url="https://proxy"), {"AWS_REGION": "ap-south-1"}) == (
        "ap-south-1"
    )
    with pytest.raises(ConfigError, match="needs a region"):
        sigv4_region(PrometheusConfig(url="https://proxy"), {})


def test_tls_settings(tmp_path: Path) -> None:
    session = requests.Session()
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    configure_tls(session, PrometheusConfig(ca_bundle=str(bundle)))
    assert session.verify == str(bundle)
    with pytest.raises(ConfigError, match="does not exist"):
        configure_tls(session, PrometheusConfig(ca_bundle=str(tmp_path / "missing.pem")))
