from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kianax_capacity.errors import UserInputError
from kianax_capacity.units import (
    GIB,
    MIB,
    format_cpu,
    format_memory,
    format_usd,
    parse_cpu,
    parse_duration,
    parse_memory,
    parse_quantity,
    round_cpu_up,
    round_memory_up,
)


@pytest.mark.parametrize(
    ("text", "cores"),
    [
        ("250m", 0.25),
        ("0.5", 0.5),
        ("1", 1.0),
        ("2", 2.0),
        ("1500m", 1.5),
        ("100000u", 0.1),
        ("1e0", 1.0),
    ],
)
def test_parse_cpu(text, cores):
    assert parse_cpu(text) == pytest.approx(cores)


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("256Mi", 268435456),
        ("1Gi", 1073741824),
        ("1G", 1_000_000_000),
        ("1e9", 1_000_000_000),
        ("500M", 500_000_000),
        ("128974848000m", 128974848),
        ("129e6", 129_000_000),
        ("123Ki", 125952),
        ("0.5Gi", 536870912),
        ("1.5Mi", 1572864),
    ],
)
def test_parse_memory(text, size):
    assert parse_memory(text) == size


def test_parse_memory_rounds_fractional_bytes_up():
    # 1m bytes is a thousandth of a byte; Kubernetes rounds memory up to whole bytes.
    assert parse_memory("1001m") == 2


@pytest.mark.parametrize("bad", ["", "abc", "12Zi", "1.2.3", "--1", "Mi", "-5Mi", "1 Gi x"])
def test_parse_rejects_garbage(bad):
    with pytest.raises(UserInputError) as info:
        parse_quantity(bad)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("cores", "text"),
    [(0.25, "250m"), (0.1234, "124m"), (1.0, "1"), (1.5, "1500m"), (2.0, "2"), (0.0005, "1m")],
)
def test_format_cpu(cores, text):
    assert format_cpu(cores) == text


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (268435456, "256Mi"),
        (GIB, "1Gi"),
        (2 * GIB, "2Gi"),
        (1_500_000_000, "1431Mi"),
        (512, "512"),
        (4096, "4Ki"),
    ],
)
def test_format_memory(size, text):
    assert format_memory(size) == text


def test_format_none_and_usd():
    assert format_cpu(None) == "-"
    assert format_memory(None) == "-"
    assert format_usd(1234.5) == "$1,234.50"
    assert format_usd(-3.1) == "-$3.10"
    assert format_usd(4.2, signed=True) == "+$4.20"


@given(st.integers(min_value=1, max_value=64_000))
def test_cpu_millicores_round_trip(millicores):
    assert parse_cpu(format_cpu(millicores / 1000)) == pytest.approx(millicores / 1000)


@given(st.integers(min_value=1, max_value=1 << 40))
def test_memory_format_never_below_value(size):
    # Formatting rounds up to a unit people write; it must never under-state a request.
    parsed = parse_memory(format_memory(size))
    assert parsed >= size
    assert parsed - size < MIB


@given(st.integers(min_value=1, max_value=1 << 20).map(lambda mi: mi * MIB))
def test_memory_mebibytes_round_trip_exactly(size):
    assert parse_memory(format_memory(size)) == size


def test_parse_quantity_is_exact():
    assert parse_quantity("128974848000m") == Decimal(128974848)


def test_rounding_helpers():
    assert round_cpu_up(0.1211, 5) == 0.125
    assert round_cpu_up(0.0, 10) == 0.01
    assert round_memory_up(100 * MIB + 1) == 101 * MIB
    with pytest.raises(ValueError):
        round_cpu_up(float("nan"))


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("5m", 300), ("14d", 14 * 86400), ("1h30m", 5400), ("2w", 1209600), ("30s", 30)],
)
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["", "5", "m5", "3x", "0s", "1h 30m", "-5m"])
def test_parse_duration_rejects(bad):
    with pytest.raises(UserInputError):
        parse_duration(bad)
