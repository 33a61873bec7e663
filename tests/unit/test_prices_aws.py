"""Live prices through boto3: Pricing and spot history via botocore's Stubber (moto has no
Pricing backend and only placeholder spot prices), plus error translation."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import (
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
)
from botocore.stub import ANY, Stubber

from kianax_capacity.errors import AwsError
from kianax_capacity.sources.aws_prices import (
    aws_catalog,
    client_config,
    fetch_on_demand_prices,
    fetch_spot_prices,
    translate_error,
    validate_region,
)

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzzSECRETzz"
KEY_ID = "AKIAIOSFODNN7EXAMPLE"
NOW = datetime(2026, 7, 20, 12, 0, tzinfo=UTC)


@pytest.fixture
def session(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> boto3.session.Session:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return boto3.session.Session()


def price_list_entry(instance_type: str, sku: str, usd: str, region: str = "eu-west-1") -> str:
    """One PriceList element as the Pricing API returns it: a JSON document in a string."""
    on_demand_code = f"{sku}.JRTCKXETXF"
    reserved_code = f"{sku}.4NA7Y494T4"
    return json.dumps(
        {
            "product": {
                "productFamily": "Compute Instance",
                "attributes": {
                    "instanceType": instance_type,
                    "regionCode": region,
                    "location": "EU (Ireland)",
                    "operatingSystem": "Linux",
                    "tenancy": "Shared",
                    "preInstalledSw": "NA",
                    "capacitystatus": "Used",
                    "usagetype": f"EU-BoxUsage:{instance_type}",
                    "operation": "RunInstances",
                    "servicecode": "AmazonEC2",
                },
                "sku": sku,
            },
            "serviceCode": "AmazonEC2",
            "terms": {
                "OnDemand": {
                    on_demand_code: {
                        "priceDimensions": {
                            f"{on_demand_code}.6YS6EN2CT7": {
                                "unit": "Hrs",
                                "endRange": "Inf",
                                "description": (
                                    f"${usd} per On Demand Linux {instance_type} Instance Hour"
                                ),
                                "appliesTo": [],
                                "rateCode": f"{on_demand_code}.6YS6EN2CT7",
                                "beginRange": "0",
                                "pricePerUnit": {"USD": usd},
                            }
                        },
                        "sku": sku,
                        "effectiveDate": "2026-07-01T00:00:00Z",
                        "offerTermCode": "JRTCKXETXF",
                        "termAttributes": {},
                    }
                },
                # Reserved terms are cheaper per hour: they must not be taken for on-demand.
                "Reserved": {
                    reserved_code: {
                        "priceDimensions": {
                            f"{reserved_code}.6YS6EN2CT7": {
                                "unit": "Hrs",
                                "pricePerUnit": {"USD": "0.0100000000"},
                                "description": "Linux/UNIX (Amazon VPC), t3 reserved",
                            }
                        },
                        "sku": sku,
                        "offerTermCode": "4NA7Y494T4",
                        "termAttributes": {
                            "LeaseContractLength": "1yr",
                            "PurchaseOption": "No Upfront",
                        },
                    }
                },
            },
            "version": "20260718012345",
            "publicationDate": "2026-07-18T01:23:45Z",
        }
    )


def spot_record(instance_type: str, zone: str, price: str, hours_ago: int) -> dict[str, Any]:
    return {
        "AvailabilityZone": zone,
        "InstanceType": instance_type,
        "ProductDescription": "Linux/UNIX",
        "SpotPrice": price,
        "Timestamp": NOW - timedelta(hours=hours_ago),
    }


def pricing_stub(session: boto3.session.Session) -> tuple[Any, Stubber]:
    client = session.client("pricing", region_name="us-east-1", config=client_config())
    return client, Stubber(client)


def test_client_config_uses_standard_retries() -> None:
    assert getattr(client_config(), "retries")["mode"] == "standard"  # noqa: B009 - untyped attr


def test_on_demand_prices_paginated_from_price_list_strings(session: boto3.session.Session) -> None:
    client, stub = pricing_stub(session)
    stub.add_response(
        "get_products",
        {
            "FormatVersion": "aws_v1",
            "PriceList": [price_list_entry("t3.medium", "SKU1", "0.0456000000")],
            "NextToken": "page-2",
        },
        {"ServiceCode": "AmazonEC2", "Filters": ANY, "FormatVersion": "aws_v1", "MaxResults": 100},
    )
    stub.add_response(
        "get_products",
        {
            "FormatVersion": "aws_v1",
            "PriceList": [
                price_list_entry("m6i.large", "SKU2", "0.1070000000"),
                # A second product for the same type (capacity block style): lowest rate wins.
                price_list_entry("m6i.large", "SKU3", "0.2140000000"),
            ],
        },
        {
            "ServiceCode": "AmazonEC2",
            "Filters": ANY,
            "FormatVersion": "aws_v1",
            "MaxResults": 100,
            "NextToken": "page-2",
        },
    )
    with stub:
        prices = fetch_on_demand_prices(client, "eu-west-1")
        stub.assert_no_pending_responses()
    assert prices == {"t3.medium": 0.0456, "m6i.large": 0.107}


def test_on_demand_filters_name_the_region_and_type(session: boto3.session.Session) -> None:
    client, stub = pricing_stub(session)
    expected_filters = [
        {"Type": "TERM_MATCH", "Field": "regionCode", "Value": "eu-west-1"},
        {"Type": "TERM_MATCH", "Field": "operatingSystem", "Value": "Linux"},
        {"Type": "TERM_MATCH", "Field": "tenancy", "Value": "Shared"},
        {"Type": "TERM_MATCH", "Field": "preInstalledSw", "Value": "NA"},
        {"Type": "TERM_MATCH", "Field": "capacitystatus", "Value": "Used"},
        {"Type": "TERM_MATCH", "Field": "instanceType", "Value": "t3.medium"},
    ]
    stub.add_response(
        "get_products",
        {
            "FormatVersion": "aws_v1",
            "PriceList": [price_list_entry("t3.medium", "S", "0.0456000000")],
        },
        {
            "ServiceCode": "AmazonEC2",
            "Filters": expected_filters,
            "FormatVersion": "aws_v1",
            "MaxResults": 100,
        },
    )
    with stub:
        assert fetch_on_demand_prices(client, "eu-west-1", ["t3.medium"]) == {"t3.medium": 0.0456}


def test_spot_prices_median_per_zone_then_over_zones(session: boto3.session.Session) -> None:
    client = session.client("ec2", region_name="eu-west-1", config=client_config())
    stub = Stubber(client)
    page1 = [
        spot_record("t3.medium", "eu-west-1a", "0.0150", 1),
        spot_record("t3.medium", "eu-west-1a", "0.0170", 30),
        spot_record("t3.medium", "eu-west-1a", "0.0400", 60),
        spot_record("t3.medium", "eu-west-1b", "0.0120", 2),
    ]
    page2 = [
        spot_record("t3.medium", "eu-west-1b", "0.0140", 50),
        spot_record("t3.medium", "eu-west-1c", "0.0200", 5),
        spot_record("m6i.large", "eu-west-1a", "0.0410", 5),
    ]
    params = {
        "InstanceTypes": ["m6i.large", "t3.medium"],
        "ProductDescriptions": ["Linux/UNIX"],
        "StartTime": NOW - timedelta(days=7),
        "EndTime": NOW,
    }
    stub.add_response(
        "describe_spot_price_history", {"SpotPriceHistory": page1, "NextToken": "n2"}, params
    )
    stub.add_response(
        "describe_spot_price_history", {"SpotPriceHistory": page2}, {**params, "NextToken": "n2"}
    )
    with stub:
        prices = fetch_spot_prices(
            client, "eu-west-1", ["t3.medium", "m6i.large"], NOW - timedelta(days=7), NOW
        )
    # Zone medians: a = median(0.015, 0.017, 0.040) = 0.017; b = (0.012 + 0.014) / 2 = 0.013;
    # c = 0.020. Over zones: median(0.017, 0.013, 0.020) = 0.017.
    assert prices["t3.medium"] == pytest.approx(0.017)
    assert prices["m6i.large"] == pytest.approx(0.041)


def instance_type_info(
    name: str, vcpu: int, mib: int, arch: str, enis: int, ips: int
) -> dict[str, Any]:
    return {
        "InstanceType": name,
        "CurrentGeneration": True,
        "ProcessorInfo": {"SupportedArchitectures": [arch], "SustainedClockSpeedInGhz": 3.1},
        "VCpuInfo": {"DefaultVCpus": vcpu, "DefaultCores": vcpu // 2, "DefaultThreadsPerCore": 2},
        "MemoryInfo": {"SizeInMiB": mib},
        "NetworkInfo": {
            "NetworkPerformance": "Up to 12.5 Gigabit",
            "MaximumNetworkInterfaces": enis,
            "Ipv4AddressesPerInterface": ips,
        },
    }


def test_aws_catalog_combines_live_answers(session: boto3.session.Session) -> None:
    pricing, pricing_stubber = pricing_stub(session)
    ec2 = session.client("ec2", region_name="eu-west-1", config=client_config())
    ec2_stubber = Stubber(ec2)
    for instance_type, usd in (("m6i.large", "0.1070000000"), ("t3.medium", "0.0456000000")):
        pricing_stubber.add_response(
            "get_products",
            {
                "FormatVersion": "aws_v1",
                "PriceList": [price_list_entry(instance_type, "S" + usd, usd)],
            },
            {
                "ServiceCode": "AmazonEC2",
                "Filters": ANY,
                "FormatVersion": "aws_v1",
                "MaxResults": 100,
            },
        )
    ec2_stubber.add_response(
        "describe_instance_types",
        {
            "InstanceTypes": [
                instance_type_info("m6i.large", 2, 8192, "x86_64", 3, 10),
                instance_type_info("t3.medium", 2, 4096, "x86_64", 3, 6),
            ]
        },
        {"InstanceTypes": ["m6i.large", "t3.medium"]},
    )
    ec2_stubber.add_response(
        "describe_spot_price_history",
        {"SpotPriceHistory": [spot_record("t3.medium", "eu-west-1a", "0.0150", 1)]},
        {
            "InstanceTypes": ["m6i.large", "t3.medium"],
            "ProductDescriptions": ["Linux/UNIX"],
            "StartTime": NOW - timedelta(days=7),
            "EndTime": NOW,
        },
    )
    with pricing_stubber, ec2_stubber:
        catalog = aws_catalog(
            "eu-west-1",
            session,
            instance_types=["t3.medium", "m6i.large"],
            now=NOW,
            clients={"pricing": pricing, "ec2": ec2},
        )
    assert (catalog.source, catalog.region, catalog.as_of) == ("aws", "eu-west-1", "2026-07-20")
    assert catalog.node_hourly_usd("t3.medium", "ON_DEMAND") == 0.0456
    assert catalog.node_hourly_usd("t3.medium", "SPOT") == 0.015  # observed, not advisor-derived
    assert catalog.price("t3.medium").spot_savings_percent == pytest.approx(
        100 * (1 - 0.015 / 0.0456)
    )
    # No spot history for m6i.large in the window: priced on-demand (never understated).
    assert catalog.node_hourly_usd("m6i.large", "SPOT") == 0.107
    assert catalog.spec("t3.medium").max_pods == 17
    units = catalog.unit_prices("m6i.large")
    assert units.hourly_usd(2, 8 * 1024**3) == pytest.approx(0.107)
    assert catalog.interruption_range("t3.medium") == "<5%"


# --- error translation -----------------------------------------------------------------


def client_error(
    code: str, message: str, operation: str = "GetProducts", retries: int = 0
) -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {  # type: ignore[typeddict-item]
                "HTTPStatusCode": 400,
                "RetryAttempts": retries,
            },
        },
        operation,
    )


def assert_one_line_without_secrets(error: AwsError) -> str:
    text = str(error)
    assert "\n" not in text
    assert SECRET not in text and KEY_ID not in text
    return text


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("AccessDeniedException", "grant the IAM permission pricing:GetProducts"),
        ("ExpiredToken", "credentials expired"),
        ("ExpiredTokenException", "aws sso login"),
        ("ThrottlingException", "after 6 attempt(s)"),
        ("UnrecognizedClientException", "rejected the credentials"),
        ("OptInRequired", "not enabled"),
    ],
)
def test_client_errors_become_one_line_fixes(code: str, expected: str) -> None:
    # AWS sometimes echoes the key id; the message must never carry it (or the secret).
    exc = client_error(
        code, f"User: arn:aws:iam::1:user/x key {KEY_ID}\nsecret {SECRET}", retries=5
    )
    text = assert_one_line_without_secrets(
        translate_error(exc, "pricing", "get_products", "us-east-1")
    )
    assert expected in text


def test_unknown_client_error_keeps_a_scrubbed_message() -> None:
    exc = client_error("ValidationException", f"bad filter\nfor {KEY_ID}")
    text = assert_one_line_without_secrets(
        translate_error(exc, "ce", "get_cost_and_usage", "us-east-1")
    )
    assert "ValidationException" in text and "bad filter" in text


def test_missing_credentials_and_unreachable_endpoint() -> None:
    text = str(translate_error(NoCredentialsError(), "ec2", "describe_instance_types", "eu-west-1"))
    assert "AWS_PROFILE" in text and "`prices` embedded" in text
    unreachable = EndpointConnectionError(endpoint_url="https://ec2.xx-nowhere-1.amazonaws.com")
    assert "`region`" in str(
        translate_error(unreachable, "ec2", "describe_instance_types", "xx-nowhere-1")
    )


def test_stubbed_access_denied_raises_aws_error(session: boto3.session.Session) -> None:
    client, stub = pricing_stub(session)
    stub.add_client_error("get_products", "AccessDeniedException", "User is not authorized", 400)
    with stub, pytest.raises(AwsError, match="pricing:GetProducts") as info:
        fetch_on_demand_prices(client, "us-east-1")
    assert_one_line_without_secrets(info.value)


def test_wrong_region_is_refused_before_any_call(session: boto3.session.Session) -> None:
    with pytest.raises(AwsError, match="unknown AWS region 'us-east-9'"):
        validate_region("us-east-9", session)
    assert validate_region("eu-west-1", session) == "eu-west-1"
    with pytest.raises(AwsError, match="`region`"):
        aws_catalog("moon-1", session)
