"""``export --pushgateway`` against a real Pushgateway, scraped by a real Prometheus.

The end-to-end test of the Grafana dashboard lives here too: every panel query of the shipped
JSON must parse and return series from a Prometheus scraping the gateway ``export`` pushed to.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from kianax_capacity.errors import OutputError, UserInputError
from kianax_capacity.outputs.grafana import dashboard_json, dashboard_queries
from kianax_capacity.outputs.metrics_export import (
    PUSH_JOB,
    push_to_gateway,
    recommendation_metrics,
)
from kianax_capacity.recommendations import RecommendationSet
from tests.helpers import run_cli
from tests.integration.servers import PushgatewayServer, ScrapingPrometheusServer, free_port

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def pushgateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PushgatewayServer]:
    server = PushgatewayServer(tmp_path_factory.mktemp("pushgateway"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def scraper(
    pushgateway: PushgatewayServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ScrapingPrometheusServer]:
    server = ScrapingPrometheusServer([pushgateway.address], tmp_path_factory.mktemp("scraper"))
    yield server
    server.stop()


def _gateway_samples(gateway: PushgatewayServer, cluster: str) -> dict[str, list[dict[str, str]]]:
    """The pushed samples of one cluster as the gateway serves them: name -> label sets."""
    text = requests.get(f"{gateway.url}/metrics", timeout=10).text
    out: dict[str, list[dict[str, str]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if (
                sample.name.startswith("kianax_capacity_")
                and sample.labels.get("cluster") == cluster
            ):
                out.setdefault(sample.name, []).append(sample.labels)
    return out


def test_push_replaces_the_clusters_group(
    pushgateway: PushgatewayServer, demo_recommendations: RecommendationSet
) -> None:
    recs = demo_recommendations
    push_to_gateway(
        recommendation_metrics(recs, tool_version="0.1.0"), pushgateway.url, cluster=recs.cluster
    )
    pushed = _gateway_samples(pushgateway, recs.cluster)
    assert pushed["kianax_capacity_run_info"][0]["job"] == PUSH_JOB
    containers = {
        (labels["namespace"], labels["workload"], labels["container"])
        for labels in pushed["kianax_capacity_rightsizing_current_cpu_request_cores"]
    }
    assert containers == {
        (r.namespace, r.workload, r.container)
        for r in recs.rightsizing
        if r.current.cpu_request is not None
    }
    # A second push with fewer rows is a PUT: the rows that went are gone from the gateway.
    fewer = recs.with_rows(rightsizing=recs.rightsizing[:2])
    push_to_gateway(
        recommendation_metrics(fewer, tool_version="0.1.0"), pushgateway.url, cluster=recs.cluster
    )
    again = _gateway_samples(pushgateway, recs.cluster)
    assert len(again["kianax_capacity_rightsizing_monthly_savings_usd"]) == 2
    # Another cluster's push leaves this cluster's group alone.
    other = fewer.with_rows(rightsizing=fewer.rightsizing[:1])
    other = RecommendationSet(**{**other.__dict__, "cluster": "kianax-dev"})
    push_to_gateway(
        recommendation_metrics(other, tool_version="0.1.0"), pushgateway.url, cluster="kianax-dev"
    )
    assert (
        len(
            _gateway_samples(pushgateway, recs.cluster)[
                "kianax_capacity_rightsizing_monthly_savings_usd"
            ]
        )
        == 2
    )
    assert (
        len(
            _gateway_samples(pushgateway, "kianax-dev")[
                "kianax_capacity_rightsizing_monthly_savings_usd"
            ]
        )
        == 1
    )


def test_prometheus_scraping_the_gateway_keeps_the_pushed_labels(
    pushgateway: PushgatewayServer,
    scraper: ScrapingPrometheusServer,
    demo_recommendations: RecommendationSet,
) -> None:
    recs = demo_recommendations
    push_to_gateway(
        recommendation_metrics(recs, tool_version="0.1.0"), pushgateway.url, cluster=recs.cluster
    )
    series = scraper.wait_for(
        f'kianax_capacity_nodegroup_recommended_monthly_cost_usd{{cluster="{recs.cluster}"}}'
    )
    got = {s["metric"]["nodegroup"]: float(s["value"][1]) for s in series}
    assert got == {row.name: row.recommended.monthly_cost_usd for row in recs.nodegroups}
    assert {s["metric"]["job"] for s in series} == {PUSH_JOB}  # honor_labels kept the push's job


def test_cli_pushes_and_a_dead_gateway_is_one_line(
    pushgateway: PushgatewayServer, demo_recommendations: RecommendationSet, tmp_path: Path
) -> None:
    file = demo_recommendations.write(tmp_path / "recs.json")
    done = run_cli("export", str(file), "--pushgateway", pushgateway.url)
    assert done.returncode == 0, done.stderr
    assert "pushed" in done.stderr
    dead = f"http://user:hunter2secret@127.0.0.1:{free_port()}"
    failed = run_cli("export", str(file), "--pushgateway", dead, "--timeout", "5")
    assert failed.returncode == 1
    lines = failed.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(
        "kianax-capacity: error: cannot push to the Pushgateway at http://<redacted>@127.0.0.1:"
    )
    assert "hunter2secret" not in failed.stderr
    with pytest.raises(UserInputError, match="not an http"):
        push_to_gateway((), "ftp://example", cluster="c")


def test_gateway_refusal_carries_its_answer(
    tmp_path: Path, demo_recommendations: RecommendationSet
) -> None:
    """A gateway that holds our metric under another type refuses the push: its answer shows."""
    gateway = PushgatewayServer(tmp_path)
    try:
        clash = "# TYPE kianax_capacity_run_info counter\nkianax_capacity_run_info 1\n"
        requests.put(
            f"{gateway.url}/metrics/job/other/cluster/clash", data=clash, timeout=10
        ).raise_for_status()
        with pytest.raises(OutputError, match=r"refused the push \(HTTP 400\)") as error:
            push_to_gateway(
                recommendation_metrics(demo_recommendations, tool_version="0.1.0"),
                gateway.url,
                cluster="clash",
            )
    finally:
        gateway.stop()
    assert "inconsistent with existing metrics" in str(error.value)
    assert "\n" not in str(error.value)


def _substituted(expr: str, cluster: str, namespace: str) -> str:
    """The query as Grafana sends it with one cluster and a namespace regex selected."""
    return expr.replace("$cluster", cluster).replace("$namespace", namespace)


def test_every_dashboard_query_returns_series_end_to_end(
    pushgateway: PushgatewayServer,
    scraper: ScrapingPrometheusServer,
    demo_recommendations: RecommendationSet,
) -> None:
    """export -> Pushgateway -> Prometheus scraping it -> each panel query of the shipped JSON."""
    recs = demo_recommendations
    file_families = recommendation_metrics(recs, tool_version="0.1.0")
    push_to_gateway(file_families, pushgateway.url, cluster=recs.cluster)
    # Wait for a scrape of this push (an earlier test pushed fewer rows for the same cluster).
    scraper.wait_for(
        f'count(kianax_capacity_rightsizing_monthly_savings_usd{{cluster="{recs.cluster}"}}) '
        f"== {len(recs.rightsizing)}"
    )
    dashboard = dashboard_json()
    queries = dashboard_queries(dashboard)
    assert len(queries) >= 15
    empty = []
    for namespace in (".*", "kianax"):  # "All", then one namespace picked
        for title, expr in queries:
            answer = scraper.query(_substituted(expr, recs.cluster, namespace))
            assert answer["status"] == "success", (title, answer)  # it parses and evaluates
            result = answer["data"]["result"]
            if not result:
                empty.append((namespace, title, expr))
            for series in result:
                assert series["metric"].get("cluster", recs.cluster) == recs.cluster, title
    assert not empty, empty
    # The variables' label_values() queries, as Grafana runs them (the series API).
    for variable in dashboard["templating"]["list"]:
        if variable["type"] != "query":
            continue
        match = re.fullmatch(r"label_values\((.*), (\w+)\)", variable["query"]["query"])
        assert match, variable["query"]
        selector = _substituted(match.group(1), recs.cluster, ".*")
        values = requests.get(
            f"{scraper.url}/api/v1/label/{match.group(2)}/values",
            params={"match[]": selector},
            timeout=10,
        ).json()["data"]
        expected = recs.cluster if match.group(2) == "cluster" else "kianax"
        assert expected in values, (variable["name"], values)


def test_a_broken_query_would_fail_the_parse_check(scraper: ScrapingPrometheusServer) -> None:
    """The server's answer is a real parse check: a malformed query is refused, not empty."""
    answer = scraper.query('sum by (cluster (kianax_capacity_monthly_savings_usd{cluster=~"x"})')
    assert answer["status"] == "error"
    assert answer["errorType"] == "bad_data"
