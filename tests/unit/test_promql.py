"""PromQL templates and rendering: escaping, validation, the query plan and its time chunks."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kianax_capacity.errors import UserInputError
from kianax_capacity.sources.prometheus import (
    AGGREGATE_PARTS,
    TimeGrid,
    aggregate_queries,
    plan_queries,
)
from kianax_capacity.sources.prometheus.catalog import DAILY_PARTS
from kianax_capacity.sources.prometheus.promql import (
    QUERY_NAMES,
    Selector,
    format_duration,
    label_matcher,
    load_template,
    quote_string,
    render,
    rollup_arguments,
    template_parameters,
)

END = datetime(2026, 11, 23, tzinfo=UTC)
_UNESCAPE = {"\\": "\\", '"': '"', "n": "\n", "r": "\r", "t": "\t"}


def unquote(literal: str) -> tuple[str, str]:
    """Read one PromQL (Go) double-quoted string from the start of ``literal``, as the server
    lexer does; return (value, the text after the closing quote)."""
    assert literal[0] == '"'
    out, i = [], 1
    while literal[i] != '"':
        if literal[i] == "\\":
            code = literal[i + 1]
            if code == "x":
                out.append(chr(int(literal[i + 2 : i + 4], 16)))
                i += 4
                continue
            out.append(_UNESCAPE[code])
            i += 2
            continue
        out.append(literal[i])
        i += 1
    return "".join(out), literal[i + 1 :]


def test_quote_string_hand_worked() -> None:
    assert quote_string("kianax") == '"kianax"'
    assert quote_string('a"b') == '"a\\"b"'
    assert quote_string("a\\b") == '"a\\\\b"'
    assert quote_string("a\nb") == '"a\\nb"'
    assert quote_string("a\x01") == '"a\\x01"'


@given(st.text(alphabet=st.characters(exclude_categories=("Cs",))))
def test_quote_string_round_trips_and_ends_at_its_closing_quote(value: str) -> None:
    literal = quote_string(value)
    decoded, rest = unquote(literal + "} or vector(1)")
    assert decoded == value
    assert rest == "} or vector(1)"


def test_injection_stays_inside_the_string() -> None:
    attack = 'a"} or vector(1) #'
    selector = Selector.build(namespace_regex=attack)
    query = render("pod_info", selector=selector.namespaced, window="60s")
    assert 'namespace=~"a\\"} or vector(1) #"' in query
    # Outside string literals, the query is exactly the template's.
    strip = re.compile(r'"(?:[^"\\]|\\.)*"')
    assert strip.sub('""', query) == strip.sub(
        '""',
        render("pod_info", selector=Selector.build(namespace_regex="x").namespaced, window="60s"),
    )


def test_regex_and_label_validation() -> None:
    assert label_matcher("namespace", "=~", "kianax|argo.*") == 'namespace=~"kianax|argo.*"'
    assert label_matcher("namespace", "=~", r"team-\d+") == 'namespace=~"team-\\\\d+"'
    with pytest.raises(UserInputError, match="not a valid regular expression"):
        label_matcher("namespace", "=~", "kianax(")
    with pytest.raises(UserInputError, match="lookaround"):
        label_matcher("namespace", "=~", "(?!kube).*")
    with pytest.raises(UserInputError, match="not a Prometheus label name"):
        Selector.build(cluster_label='cluster"} or', cluster="x")
    with pytest.raises(UserInputError, match="needs the cluster's name") as missing:
        Selector.build(cluster_label="cluster", cluster="")
    assert missing.value.parameter == "cluster"  # the CLI shows it as --cluster
    with pytest.raises(UserInputError, match="empty"):
        Selector.build(namespace_regex="")
    with pytest.raises(UserInputError, match="surrogate"):
        quote_string("\ud800")


def test_selector_renders_trailing_commas_or_nothing() -> None:
    assert Selector.build() == Selector("", "")
    both = Selector.build(namespace_regex="kianax", cluster_label="cluster", cluster="prod")
    assert both.namespaced == 'namespace=~"kianax", cluster="prod", '
    assert both.cluster_only == 'cluster="prod", '


def test_every_template_loads_and_renders_with_its_parameters() -> None:
    assert len(QUERY_NAMES) >= 30
    for name in QUERY_NAMES:
        text = load_template(name)
        assert "#" not in text and "\n" not in text  # comments stripped, one line
        params = {p: "1s" for p in template_parameters(name)}
        if "function" in params:
            params["function"] = "max_over_time"
            params["arguments"] = ""
        rendered = render(name, **params)
        assert "{{" not in rendered
        assert rendered.count("(") == rendered.count(")"), name
    with pytest.raises(ValueError, match="missing"):
        render("pod_info", selector="")
    with pytest.raises(ValueError, match="unexpected"):
        render("pod_info", selector="", window="1s", step="1s")
    with pytest.raises(KeyError):
        load_template("../etc/passwd")
    with pytest.raises(ValueError, match="not allowed"):
        render(
            "aggregate_cpu",
            function="vector(1) or max_over_time",
            arguments="",
            selector="",
            rate_window="1s",
            window="1s",
            step="1s",
        )


def test_format_duration() -> None:
    assert format_duration(300) == "300s"
    assert format_duration(299.5) == "299500ms"
    with pytest.raises(ValueError):
        format_duration(0)


@settings(deadline=None)  # up to 50,000 one-point chunks: slow on a loaded machine, not wrong
@given(
    points=st.integers(min_value=1, max_value=50_000),
    max_points=st.integers(min_value=1, max_value=11_000),
    step=st.sampled_from([15, 30, 60, 300, 3600]),
)
def test_time_chunks_cover_every_point_once_within_the_limit(
    points: int, max_points: int, step: int
) -> None:
    grid = TimeGrid(END, step, points)
    chunks = grid.chunks(max_points)
    assert sum(c.points for c in chunks) == points
    assert all(1 <= c.points <= max_points for c in chunks)
    assert chunks[-1].end == END and chunks[0].first == grid.first
    for before, after in itertools.pairwise(chunks):
        assert after.first - before.end == timedelta(seconds=step)


def test_the_plan_depends_on_the_window_only() -> None:
    def count(
        points: int,
        shape: str,
        max_points: int = 10_000,
        aggregate_chunk: float = 86_400,
        dialect: str = "promql",
    ) -> int:
        plan = plan_queries(
            grid=TimeGrid(END, 300, points),
            shape=shape,
            selector=Selector.build(namespace_regex="kianax"),
            scrape_interval_seconds=30,
            max_points_per_series=max_points,
            aggregate_chunk_seconds=aggregate_chunk,
            dialect=dialect,
        )
        return len(plan.jobs)

    # series: 10 range (JVM memory included) + 20 instant queries per chunk, and the 2 pod-lifetime subqueries per day.
    # aggregate: 4 range + 2 HPA demand range, 22 inventory and 22 statistic queries per
    # aggregate chunk (one day), whatever max_points: 16 whole-window parts, the three seasons'
    # p90/p95/p99/max and step count (5, each answering every season) and the leak screen's
    # slope.
    assert count(4032, "series") == 30 + 2 * 14
    assert count(4032, "series", max_points=1000) == 30 * 5 + 2 * 14
    assert count(4032, "aggregate") == 14 * (6 + 22 + 22)
    assert count(4032, "aggregate", aggregate_chunk=7 * 86_400) == 2 * (6 + 22 + 22)
    assert count(4032, "aggregate", aggregate_chunk=30 * 86_400) == 6 + 22 + 22
    assert count(4032, "aggregate", max_points=100) == 41 * (6 + 22 + 22)
    # MetricsQL: 8 statistic queries per day answer the same parts (5 + 2 for the seasons + 1).
    assert count(4032, "aggregate", dialect="metricsql") == 14 * (6 + 22 + 8)
    assert count(4032, "series", dialect="metricsql") == 30 + 2 * 14
    with pytest.raises(UserInputError, match="aggregate_chunk"):
        count(10, "aggregate", aggregate_chunk=60)
    with pytest.raises(UserInputError):
        count(10, "series", max_points=20_000)
    with pytest.raises(UserInputError):
        count(10, "pretty")


def test_rate_window_is_a_step_or_two_scrape_intervals() -> None:
    def windows(step: int, scrape: float) -> tuple[float, float]:
        plan = plan_queries(
            grid=TimeGrid(END, step, 10),
            shape="series",
            selector=Selector(),
            scrape_interval_seconds=scrape,
        )
        return plan.rate_window_seconds, plan.sample_window_seconds

    assert windows(300, 30) == (300, 299)
    assert windows(60, 60) == (120, 59)
    assert windows(300, 300) == (600, 299)


def test_rollup_arguments_are_built_from_numbers_and_allowed_names_only() -> None:
    assert rollup_arguments() == ""
    assert rollup_arguments(quantiles=[0.95]) == "0.95, "
    assert rollup_arguments(quantiles=[0.5, 0.99], label="phi") == '"phi", 0.5, 0.99, '
    assert (
        rollup_arguments(rollups=["max_over_time", "count_over_time"])
        == '("max_over_time", "count_over_time"), '
    )
    with pytest.raises(ValueError, match="not allowed"):
        rollup_arguments(rollups=['max_over_time"), vector(1'])
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        rollup_arguments(quantiles=[1.5])
    with pytest.raises(ValueError, match="label"):
        rollup_arguments(quantiles=[0.5, 0.9])
    with pytest.raises(ValueError, match="label name"):
        rollup_arguments(quantiles=[0.5], label='phi"}')


def test_metricsql_queries_answer_every_part_exactly_once() -> None:
    for dialect, expected in (("promql", 22), ("metricsql", 8)):
        queries = aggregate_queries(dialect)
        assert len(queries) == expected
        parts = [part for query in queries for _value, part in query.parts]
        assert sorted(parts) == sorted({**AGGREGATE_PARTS, **DAILY_PARTS}), dialect
    with pytest.raises(ValueError, match="dialect"):
        aggregate_queries("auto")
