"""Live EC2 prices and specs through boto3 (``--prices aws``).

* On-demand: the Pricing API ``get_products`` (its endpoint lives in us-east-1 whatever region
  is priced; every ``PriceList`` entry is a JSON *string*), Linux, shared tenancy, no
  pre-installed software, capacity status Used.
* Spot: EC2 ``describe_spot_price_history`` for Linux/UNIX over a window, the median per
  (instance type, zone), then the median over zones.
* Specs: EC2 ``describe_instance_types``.
* Interruption ranges have no API (the Spot Instance Advisor is a static file): the embedded
  us-east-1 figures are kept.

All three are paginated. Clients use botocore's ``standard`` retry mode (throttling and
transient errors are retried with backoff); whatever still fails becomes an :class:`AwsError`
with a one-line message that says what to fix and never contains credentials.

The IAM permissions needed: ``pricing:GetProducts``, ``ec2:DescribeSpotPriceHistory``,
``ec2:DescribeInstanceTypes``.
"""

from __future__ import annotations

import json
import logging
import re
import statistics
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from kianax_capacity._optional import missing_dependency

try:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        ConnectTimeoutError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
        PartialCredentialsError,
        ReadTimeoutError,
        TokenRetrievalError,
    )
except ImportError as exc:  # the [aws] extra is not installed
    raise missing_dependency("boto3", extra="aws") from exc

from kianax_capacity.errors import AwsError
from kianax_capacity.model import InstanceSpec
from kianax_capacity.prices.catalog import PriceCatalog, embedded_catalog

__all__ = [
    "PRICING_REGION",
    "aws_catalog",
    "aws_errors",
    "client_config",
    "fetch_instance_specs",
    "fetch_on_demand_prices",
    "fetch_spot_prices",
    "make_client",
    "validate_region",
]

logger = logging.getLogger(__name__)

#: The Pricing API answers from us-east-1 (and two other regions) for every region's prices.
PRICING_REGION = "us-east-1"
MIB = 1024**2

_ARCHITECTURES = {"x86_64": "amd64", "arm64": "arm64"}

_THROTTLING = {
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "RequestThrottled",
    "RequestThrottledException",
    "SlowDown",
    "LimitExceededException",
}
_EXPIRED = {"ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"}
_BAD_CREDENTIALS = {
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "InvalidAccessKeyId",
    "AuthFailure",
    "SignatureDoesNotMatch",
    "InvalidToken",
}
_DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "Forbidden"}
_REGION = {"OptInRequired", "InvalidEndpoint", "UnrecognizedRegion", "InvalidRegion"}
# Anything that looks like an access key id, so no message can leak one even when AWS echoes it.
_KEY_ID = re.compile(r"\b(?:AKIA|ASIA|AIDA|AROA)[A-Z0-9]{12,}\b")


def client_config() -> Config:
    """botocore config for every client: ``standard`` retries, bounded timeouts."""
    return Config(
        retries={"mode": "standard", "total_max_attempts": 6},
        connect_timeout=10,
        read_timeout=60,
        user_agent_extra="kianax-capacity",
    )


def validate_region(region: str, session: boto3.session.Session | None = None) -> str:
    """``region`` if botocore knows it in any partition, else :class:`AwsError`."""
    session = session or boto3.session.Session()
    known: set[str] = set()
    for partition in session.get_available_partitions():
        known.update(session.get_available_regions("ec2", partition_name=partition))
    if known and region not in known:
        raise AwsError(
            f"unknown AWS region {region!r}: check `region` or [aws] region in "
            "kianax-capacity.toml (e.g. us-east-1)"
        )
    return region


def make_client(
    service: str,
    region: str,
    session: boto3.session.Session | None = None,
    endpoint_url: str | None = None,
) -> Any:
    """A boto3 client with :func:`client_config`; ``endpoint_url`` for moto or VPC endpoints."""
    session = session or boto3.session.Session()
    # boto3's typed overloads want a literal service name; any service name is fine here.
    create: Any = session.client
    with aws_errors(service, "create client", region):
        return create(
            service, region_name=region, endpoint_url=endpoint_url, config=client_config()
        )


def _clean(text: str) -> str:
    one_line = " ".join(str(text).split())
    return _KEY_ID.sub("<redacted>", one_line)[:200]


def translate_error(exc: Exception, service: str, operation: str, region: str) -> AwsError:
    """Turn a botocore exception into an :class:`AwsError` with a one-line, secret-free fix."""
    where = f"{service} {operation} in {region}"
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return AwsError(
            f"no AWS credentials for {where}: set AWS_PROFILE (or AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY), or run `aws sso login`; or use `prices` embedded"
        )
    if isinstance(exc, TokenRetrievalError):
        return AwsError(
            f"AWS SSO token for {where} expired or missing: run `aws sso login` and retry"
        )
    if isinstance(exc, NoRegionError):
        return AwsError(f"no AWS region for {service}: pass `region` or set [aws] region")
    if isinstance(exc, EndpointConnectionError | ConnectTimeoutError | ReadTimeoutError):
        return AwsError(
            f"cannot reach AWS {where}: check the network/proxy and that `region` {region} is right"
        )
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "Unknown"))
        attempts = int(exc.response.get("ResponseMetadata", {}).get("RetryAttempts", 0)) + 1
        if code in _THROTTLING:
            return AwsError(
                f"AWS throttled {where} ({code}) after {attempts} attempt(s): wait a minute and "
                "retry, or ask for fewer instance types / a shorter window"
            )
        if code in _EXPIRED:
            return AwsError(
                f"AWS credentials expired for {where} ({code}): refresh them "
                "(`aws sso login` or new session keys) and retry"
            )
        if code in _BAD_CREDENTIALS:
            return AwsError(
                f"AWS rejected the credentials for {where} ({code}): check AWS_PROFILE / the "
                "access key, and that the region is enabled for the account"
            )
        if code in _DENIED:
            return AwsError(
                f"access denied to {where} ({code}): grant the IAM permission "
                f"{_iam_action(service, operation)} to the caller, or use `prices` embedded"
            )
        if code in _REGION:
            return AwsError(
                f"{where} failed ({code}): region {region} is not enabled or not valid for this "
                "account; check `region`"
            )
        return AwsError(f"AWS {where} failed ({code}): {_clean(error.get('Message', ''))}")
    if isinstance(exc, BotoCoreError):
        return AwsError(f"AWS {where} failed: {_clean(str(exc))}")
    return AwsError(f"AWS {where} failed: {type(exc).__name__}")


def _iam_action(service: str, operation: str) -> str:
    prefix = {"ce": "ce", "s3": "s3", "pricing": "pricing", "ec2": "ec2"}.get(service, service)
    action = "".join(part.capitalize() for part in operation.split("_"))
    if prefix == "s3" and action in {"ListObjectsV2", "GetObject"}:
        action = "ListBucket" if action == "ListObjectsV2" else "GetObject"
    return f"{prefix}:{action}"


@contextmanager
def aws_errors(service: str, operation: str, region: str) -> Iterator[None]:
    """Translate botocore errors raised inside the block into :class:`AwsError`."""
    try:
        yield
    except AwsError:
        raise
    except (BotoCoreError, ClientError) as exc:
        raise translate_error(exc, service, operation, region) from exc


def _paginate(client: Any, operation: str, region: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
    service = client.meta.service_model.service_name
    with aws_errors(service, operation, region):
        yield from client.get_paginator(operation).paginate(**kwargs)


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _on_demand_usd(product: Mapping[str, Any]) -> float | None:
    """The hourly USD of one Pricing API product: its lowest positive on-demand rate."""
    rates = []
    for term in product.get("terms", {}).get("OnDemand", {}).values():
        for dimension in term.get("priceDimensions", {}).values():
            unit = str(dimension.get("unit", "")).lower()
            usd = dimension.get("pricePerUnit", {}).get("USD")
            if usd is not None and unit.startswith("hr"):
                value = float(usd)
                if value > 0:
                    rates.append(value)
    return min(rates) if rates else None


def fetch_on_demand_prices(
    pricing: Any, region: str, instance_types: Iterable[str] | None = None
) -> dict[str, float]:
    """On-demand Linux hourly prices in ``region`` from the Pricing API.

    Args:
        pricing: a ``pricing`` client (us-east-1).
        region: the region whose prices to fetch (``regionCode`` filter).
        instance_types: only these (one paginated query each); None = every type (about 15 pages).

    Returns:
        instance type -> USD per hour. Several products for one type (e.g. capacity blocks)
        keep the lowest positive rate.
    """
    base = [
        {"Type": "TERM_MATCH", "Field": "regionCode", "Value": region},
        {"Type": "TERM_MATCH", "Field": "operatingSystem", "Value": "Linux"},
        {"Type": "TERM_MATCH", "Field": "tenancy", "Value": "Shared"},
        {"Type": "TERM_MATCH", "Field": "preInstalledSw", "Value": "NA"},
        {"Type": "TERM_MATCH", "Field": "capacitystatus", "Value": "Used"},
    ]
    queries: list[list[dict[str, str]]] = (
        [base]
        if instance_types is None
        else [
            [*base, {"Type": "TERM_MATCH", "Field": "instanceType", "Value": t}]
            for t in sorted(set(instance_types))
        ]
    )
    prices: dict[str, float] = {}
    for filters in queries:
        pages = _paginate(
            pricing,
            "get_products",
            region,
            ServiceCode="AmazonEC2",
            Filters=filters,
            FormatVersion="aws_v1",
            PaginationConfig={"PageSize": 100},
        )
        for page in pages:
            for entry in page.get("PriceList", []):
                product = json.loads(entry) if isinstance(entry, str) else entry
                name = product.get("product", {}).get("attributes", {}).get("instanceType")
                usd = _on_demand_usd(product)
                if name and usd is not None:
                    prices[name] = min(usd, prices.get(name, usd))
    return prices


def fetch_spot_prices(
    ec2: Any,
    region: str,
    instance_types: Iterable[str],
    start: datetime,
    end: datetime,
) -> dict[str, float]:
    """Median Linux/UNIX spot price per instance type over [start, end].

    Each zone's history is summarised by its median; the type's price is the median over zones
    (a node group spread over zones pays roughly the middle zone).
    """
    by_zone: dict[tuple[str, str], list[float]] = defaultdict(list)
    types = sorted(set(instance_types))
    for chunk in _chunks(types, 100):
        pages = _paginate(
            ec2,
            "describe_spot_price_history",
            region,
            InstanceTypes=chunk,
            ProductDescriptions=["Linux/UNIX"],
            StartTime=start,
            EndTime=end,
        )
        for page in pages:
            for record in page.get("SpotPriceHistory", []):
                key = (str(record["InstanceType"]), str(record.get("AvailabilityZone", "")))
                by_zone[key].append(float(record["SpotPrice"]))
    per_type: dict[str, list[float]] = defaultdict(list)
    for (instance_type, _zone), values in by_zone.items():
        per_type[instance_type].append(statistics.median(values))
    return {name: statistics.median(zones) for name, zones in per_type.items()}


def fetch_instance_specs(
    ec2: Any, region: str, instance_types: Iterable[str] | None = None
) -> dict[str, InstanceSpec]:
    """Specs from ``describe_instance_types`` (all types, or the given ones 100 at a time)."""
    requests: list[dict[str, Any]] = (
        [{}]
        if instance_types is None
        else [{"InstanceTypes": chunk} for chunk in _chunks(sorted(set(instance_types)), 100)]
    )
    specs: dict[str, InstanceSpec] = {}
    for request in requests:
        for page in _paginate(ec2, "describe_instance_types", region, **request):
            for info in page.get("InstanceTypes", []):
                architectures = [
                    _ARCHITECTURES[a]
                    for a in info.get("ProcessorInfo", {}).get("SupportedArchitectures", [])
                    if a in _ARCHITECTURES
                ]
                if not architectures:
                    continue
                network = info.get("NetworkInfo", {})
                name = str(info["InstanceType"])
                specs[name] = InstanceSpec(
                    instance_type=name,
                    vcpu=int(info["VCpuInfo"]["DefaultVCpus"]),
                    memory_bytes=int(info["MemoryInfo"]["SizeInMiB"]) * MIB,
                    architecture=architectures[0],
                    max_enis=int(network.get("MaximumNetworkInterfaces", 1)),
                    ipv4_per_eni=int(network.get("Ipv4AddressesPerInterface", 1)),
                )
    return specs


def aws_catalog(
    region: str = "us-east-1",
    session: boto3.session.Session | None = None,
    *,
    instance_types: Iterable[str] | None = None,
    spot_window: timedelta = timedelta(days=7),
    now: datetime | None = None,
    endpoint_url: str | None = None,
    clients: Mapping[str, Any] | None = None,
) -> PriceCatalog:
    """A :class:`PriceCatalog` from live AWS answers for ``region``.

    Args:
        region: region to price (EC2 calls go there; the Pricing API is called in us-east-1).
        session: boto3 session (default: the standard credential chain).
        instance_types: limit the calls to these types (e.g. the snapshot's node types);
            None fetches every type, which costs ~15 Pricing pages and many spot pages.
        spot_window: how far back the spot price median looks.
        now: end of the spot window (default: the current time).
        endpoint_url: override every endpoint (moto in tests, VPC endpoints).
        clients: ready-made clients by service name (``pricing``, ``ec2``), e.g. stubbed ones.

    Raises:
        AwsError: unknown region, missing/expired credentials, access denied, throttled after
            retries, unreachable endpoint.

    Example:
        >>> # catalog = aws_catalog("eu-west-1", instance_types=["t3.medium", "m6i.large"])
    """
    given = dict(clients or {})
    if endpoint_url is None and not given:
        validate_region(region, session)
    end = now or datetime.now(UTC)
    pricing = given.get("pricing") or make_client("pricing", PRICING_REGION, session, endpoint_url)
    ec2 = given.get("ec2") or make_client("ec2", region, session, endpoint_url)
    wanted = None if instance_types is None else sorted(set(instance_types))
    on_demand = fetch_on_demand_prices(pricing, region, wanted)
    specs = fetch_instance_specs(ec2, region, wanted)
    spot_types = wanted if wanted is not None else sorted(on_demand)
    spot = fetch_spot_prices(ec2, region, spot_types, end - spot_window, end)
    embedded = embedded_catalog()
    warnings = []
    missing = sorted(set(wanted or []) - set(on_demand))
    if missing:
        warnings.append(
            f"the Pricing API had no Linux on-demand price for {', '.join(missing)} in {region}"
        )
    if region != "us-east-1":
        warnings.append("spot interruption ranges are the us-east-1 Spot Advisor figures")
    logger.info(
        "live prices for %s: %d on-demand, %d spot, %d specs",
        region,
        len(on_demand),
        len(spot),
        len(specs),
    )
    return PriceCatalog(
        region=region,
        as_of=end.astimezone(UTC).date().isoformat(),
        source="aws",
        specs=specs,
        on_demand_hourly_usd=on_demand,
        spot_hourly_usd=spot,
        interruption_ranges=dict(embedded.interruption_ranges),
        warnings=tuple(warnings),
    )
