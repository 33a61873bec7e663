"""``doctor``'s I/O: send the probe queries and time one day of the fetch's own queries.

:func:`probe_server` asks the server every query of :data:`.doctor.PROBES` (instant, at
``end``), then runs the queries of a one-day series-shape fetch plan one after another and
times each, and hands the answers to the pure :func:`.doctor.diagnose`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import datetime, timedelta

from kianax_capacity.config import PrometheusConfig
from kianax_capacity.sources.prometheus.client import PrometheusClient
from kianax_capacity.sources.prometheus.doctor import PROBES, Diagnosis, ProbeAnswers, diagnose
from kianax_capacity.sources.prometheus.plan import QueryJob, TimeGrid, plan_queries
from kianax_capacity.sources.prometheus.promql import Selector, check_label_name

__all__ = ["probe_server", "render_probe"]

_LOOKBACK = "1h"
_DAY_SECONDS = 86_400


def render_probe(template: str, selector: Selector, cluster_label: str) -> str:
    """A probe's PromQL: the selector strings are already escaped matchers (``Selector``)."""
    return (
        template.replace("{sel}", selector.namespaced)
        .replace("{csel}", selector.cluster_only)
        .replace("{lookback}", _LOOKBACK)
        .replace("{cluster_label}", check_label_name(cluster_label, "`cluster_label`"))
    )


def probe_server(
    config: PrometheusConfig,
    *,
    end: datetime,
    step_seconds: int = 300,
    window_days: float = 14.0,
    namespace_regex: str | None = None,
    cluster_label: str | None = None,
    cluster: str | None = None,
    time_queries: bool = True,
    environ: Mapping[str, str] | None = None,
) -> Diagnosis:
    """Probe the server at ``end`` and diagnose what it holds.

    Raises:
        UserInputError: bad URL, regex or label.
        PrometheusError: the server cannot be reached or refuses a probe.
    """
    selector = Selector.build(
        namespace_regex=namespace_regex, cluster_label=cluster_label, cluster=cluster
    )
    client = PrometheusClient(config, environ)
    try:
        results = {
            name: client.run(
                QueryJob(
                    name, render_probe(template, selector, cluster_label or "cluster"), 0, time=end
                )
            )
            for name, template in PROBES.items()
        }
        timings = _time_one_day(client, end, step_seconds, selector) if time_queries else ()
    finally:
        client.close()
    return diagnose(
        ProbeAnswers(
            results=results,
            cluster_label=cluster_label,
            timeout_seconds=config.timeout_seconds,
            step_seconds=step_seconds,
            window_days=window_days,
            day_timings=timings,
        )
    )


def _time_one_day(
    client: PrometheusClient, end: datetime, step_seconds: int, selector: Selector
) -> tuple[tuple[str, float], ...]:
    """Each query of a one-day fetch plan, sent one at a time: (name, seconds), slowest first."""
    grid = TimeGrid(end, step_seconds, max(1, _DAY_SECONDS // step_seconds))
    scrape = _scrape_seconds(client, end, selector)
    plan = plan_queries(
        grid=grid, shape="series", selector=selector, scrape_interval_seconds=scrape
    )
    timings: dict[str, float] = {}
    for job in plan.jobs:
        started = time.monotonic()
        client.run(job)
        timings[job.name] = max(timings.get(job.name, 0.0), time.monotonic() - started)
    return tuple(sorted(timings.items(), key=lambda item: -item[1]))


def _scrape_seconds(client: PrometheusClient, end: datetime, selector: Selector) -> float:
    probe = render_probe(PROBES["intervals_kubelet"], selector, "cluster")
    rows = client.run(QueryJob("scrape_interval", probe, 0, time=end - timedelta(seconds=0)))
    counts = [float(r["value"][1]) for r in rows if float(r["value"][1]) > 0]
    return 3600 / max(counts) if counts else 30.0
