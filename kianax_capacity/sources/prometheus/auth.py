"""Authentication and TLS for the Prometheus HTTP API: none, bearer, basic, SigV4.

Secrets come from the environment or a file named in the configuration, never from a flag
value (which lands in shell history and process lists) and never into a message or a log.

* ``bearer``: ``Authorization: Bearer <token>``, the token read from ``bearer_token_env`` or
  ``bearer_token_file`` (re-read on each fetch, so a rotated service-account token works).
* ``basic``: ``basic_user`` plus the password from ``basic_password_env``.
* ``sigv4``: Amazon Managed Service for Prometheus. Requests are signed with botocore's SigV4
  (service ``aps``) using the standard AWS credential chain. The query string is re-encoded
  with ``%20`` for spaces before signing: requests encodes spaces as ``+``, which AWS
  canonicalises differently from the server, and the answer would be 403.
* extra ``headers`` (e.g. ``X-Scope-OrgID`` for Mimir), ``ca_bundle`` and ``insecure_skip_verify``.
"""

from __future__ import annotations

import logging
import os
import re
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import requests
from requests.auth import AuthBase, HTTPBasicAuth

from kianax_capacity.config import PrometheusConfig
from kianax_capacity.errors import ConfigError

__all__ = [
    "AUTH_KINDS",
    "BearerTokenAuth",
    "SigV4Auth",
    "auth_secrets",
    "build_auth",
    "build_headers",
    "configure_tls",
    "redact_url",
]

_LOGGER = logging.getLogger(__name__)

AUTH_KINDS = ("none", "bearer", "basic", "sigv4")
_AMP_HOST = re.compile(r"^aps-workspaces\.([a-z0-9-]+)\.amazonaws\.com$")
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


def redact_url(url: str) -> str:
    """``url`` without userinfo, query or fragment: safe to print in a message."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if ":" in host:  # IPv6 literal
            host = f"[{host}]"
        netloc = f"{host}:{parts.port}" if parts.port else host
    except ValueError:
        return "<unparseable URL>"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


class BearerTokenAuth(AuthBase):
    """``Authorization: Bearer <token>``; the token is kept out of ``repr``."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def __repr__(self) -> str:
        return "BearerTokenAuth(<redacted>)"


class SigV4Auth(AuthBase):
    """Sign each request with AWS SigV4 for Amazon Managed Service for Prometheus.

    Args:
        region: the workspace's AWS region.
        service: the signing name, ``aps`` for AMP.
        credentials: botocore credentials; default: the standard AWS credential chain.
    """

    def __init__(
        self, region: str, service: str = "aps", credentials: object | None = None
    ) -> None:
        import botocore.session

        self.region = region
        self.service = service
        if credentials is None:
            credentials = botocore.session.Session().get_credentials()
        if credentials is None:
            raise ConfigError(
                "auth = sigv4 but no AWS credentials were found; configure the AWS credential "
                "chain (AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or an instance role)"
            )
        self._credentials: Any = credentials

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        from botocore.auth import SigV4Auth as BotoSigV4
        from botocore.awsrequest import AWSRequest

        url = reencode_query(request.url or "")
        request.url = url
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        headers = {"Host": urlsplit(url).netloc}
        if "Content-Type" in request.headers:
            headers["Content-Type"] = request.headers["Content-Type"]
        aws_request = AWSRequest(method=request.method, url=url, data=body, headers=headers)
        frozen = getattr(self._credentials, "get_frozen_credentials", None)
        credentials = frozen() if frozen else self._credentials
        BotoSigV4(credentials, self.service, self.region).add_auth(aws_request)
        for name in ("Authorization", "X-Amz-Date", "X-Amz-Security-Token", "X-Amz-Content-SHA256"):
            if name in aws_request.headers:
                request.headers[name] = aws_request.headers[name]
        return request

    def __repr__(self) -> str:
        return f"SigV4Auth(region={self.region!r}, service={self.service!r})"


def reencode_query(url: str) -> str:
    """``url`` with its query string encoded as AWS canonicalises it (spaces as ``%20``)."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    query = urlencode(pairs, quote_via=quote, safe="-_.~")
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def _env_secret(variable: str, what: str, environ: Mapping[str, str]) -> str:
    value = environ.get(variable)
    if not value:
        raise ConfigError(f"{what}: environment variable {variable} is not set or empty")
    return value.strip()


def sigv4_region(config: PrometheusConfig, environ: Mapping[str, str]) -> str:
    """The SigV4 region: configured, else from an AMP workspace URL, else AWS_REGION."""
    if config.sigv4_region:
        return config.sigv4_region
    host = urlsplit(config.url or "").hostname or ""
    match = _AMP_HOST.match(host)
    if match:
        return match.group(1)
    region = environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION")
    if region:
        return region
    raise ConfigError(
        "auth = sigv4 needs a region: set [prometheus] sigv4_region, AWS_REGION, or use the "
        "https://aps-workspaces.REGION.amazonaws.com/workspaces/ws-ID URL"
    )


def build_auth(
    config: PrometheusConfig, environ: Mapping[str, str] | None = None
) -> AuthBase | None:
    """The requests auth object for ``config.auth``.

    Raises:
        ConfigError: unknown auth kind, or the secret it needs is missing.
    """
    env = os.environ if environ is None else environ
    kind = config.auth
    if kind == "none":
        return None
    if kind == "bearer":
        if config.bearer_token_env:
            return BearerTokenAuth(_env_secret(config.bearer_token_env, "bearer token", env))
        if config.bearer_token_file:
            path = Path(config.bearer_token_file)
            try:
                token = path.read_text().strip()
            except OSError as exc:
                raise ConfigError(
                    f"bearer token file {path} cannot be read ({exc.strerror or exc})"
                ) from exc
            if not token:
                raise ConfigError(f"bearer token file {path} is empty")
            return BearerTokenAuth(token)
        raise ConfigError(
            "auth = bearer needs bearer_token_env (an environment variable name) or "
            "bearer_token_file"
        )
    if kind == "basic":
        if not config.basic_user or not config.basic_password_env:
            raise ConfigError("auth = basic needs basic_user and basic_password_env")
        password = _env_secret(config.basic_password_env, "basic auth password", env)
        return HTTPBasicAuth(config.basic_user, password)
    if kind == "sigv4":
        return SigV4Auth(sigv4_region(config, env))
    raise ConfigError(f"unknown Prometheus auth {kind!r}; use one of {', '.join(AUTH_KINDS)}")


def auth_secrets(auth: object) -> tuple[str, ...]:
    """The secret strings ``auth`` sends (token, password): scrubbed from every message."""
    found = []
    for attribute in ("_token", "password"):
        value = getattr(auth, attribute, None)
        if isinstance(value, str) and value:
            found.append(value)
    return tuple(found)


def build_headers(config: PrometheusConfig) -> dict[str, str]:
    """Extra headers (e.g. ``X-Scope-OrgID``), checked so none can smuggle a second header.

    Raises:
        ConfigError: a header name is not a token or a value holds a line break.
    """
    headers: dict[str, str] = {}
    for name, value in config.headers.items():
        if not _HEADER_NAME.match(name):
            raise ConfigError(f"header name {name!r} is not a valid HTTP header name")
        if "\r" in value or "\n" in value:
            raise ConfigError(f"header {name} has a line break in its value")
        headers[name] = value
    return headers


def configure_tls(session: requests.Session, config: PrometheusConfig) -> None:
    """Apply ``ca_bundle`` or ``insecure_skip_verify`` to ``session``.

    Raises:
        ConfigError: the CA bundle file does not exist.
    """
    if config.insecure_skip_verify:
        session.verify = False
        _LOGGER.warning("TLS certificate verification is off for %s", redact_url(config.url or ""))
        # urllib3 would otherwise warn on every request; the one warning above says it once.
        from urllib3.exceptions import InsecureRequestWarning

        warnings.filterwarnings("ignore", category=InsecureRequestWarning)
    elif config.ca_bundle:
        bundle = Path(config.ca_bundle)
        if not bundle.is_file():
            raise ConfigError(f"CA bundle {bundle} does not exist; give a PEM file")
        session.verify = str(bundle)
