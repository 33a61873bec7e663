#!/usr/bin/env python
"""Series/aggregate agreement: the same demo cluster fetched in both shapes, recommended, compared.

    python benchmarks/agreement.py [--scale 5] [--days 14] [--step 5m] [--workdir DIR]

The demo at ``--scale`` is streamed into a local VictoriaMetrics on 127.0.0.1 (as
``benchmarks/scale.py`` does), fetched with ``--shape series`` and ``--shape aggregate``, and
both snapshots are recommended with the defaults (kianax, production) and with ``--strategy
vpa``. The table is issue 19's targets:

* HPA: of the rows ``ok`` on the series shape, how many are ``ok`` on the aggregate shape with
  min and max within one replica and the same CPU target;
* leaks: of the containers flagged on the series shape, how many are flagged on the aggregate;
* right-sizing: the share of rows (status not insufficient_data on the series shape) whose CPU
  and memory requests are both within 10% of the series shape's, per strategy;
* requests: HTTP requests each fetch sent (the aggregate count does not grow with the cluster).

The last line is the same as JSON.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

import pandas as pd  # noqa: E402
from scale import VM_FLAGS, load  # noqa: E402

from kianax_capacity.config import PrometheusConfig  # noqa: E402
from kianax_capacity.recommendations import RecommendationSet  # noqa: E402
from kianax_capacity.recommenders.engine import recommend  # noqa: E402
from kianax_capacity.snapshot import Snapshot, load_snapshot  # noqa: E402
from kianax_capacity.sources.demo import DEFAULT_END, simulate_demo_cluster  # noqa: E402
from kianax_capacity.sources.prometheus import fetch_prometheus_snapshot  # noqa: E402
from kianax_capacity.units import parse_duration  # noqa: E402
from tests.integration.servers import VictoriaMetricsServer  # noqa: E402

TOLERANCE = 0.10


def hpa_agreement(series: RecommendationSet, aggregate: RecommendationSet) -> dict[str, int]:
    """Series ``ok`` rows, and how many of them agree on the aggregate shape."""
    other = {row.key: row for row in aggregate.hpa}
    ok = [row for row in series.hpa if row.status == "ok"]
    agree = 0
    differ: list[str] = []
    for row in ok:
        twin = other.get(row.key)
        a = row.recommended
        b = twin.recommended if twin is not None else None
        if (
            twin is not None
            and b is not None
            and twin.status == "ok"
            and abs((a.min_replicas or 0) - (b.min_replicas or 0)) <= 1
            and abs((a.max_replicas or 0) - (b.max_replicas or 0)) <= 1
            and a.target_cpu_utilization == b.target_cpu_utilization
        ):
            agree += 1
            continue
        there = (
            f"{twin.status} {b.min_replicas}-{b.max_replicas} @{b.target_cpu_utilization}"
            if twin is not None and b is not None
            else "missing"
        )
        differ.append(
            f"{'/'.join(row.key)}: {a.min_replicas}-{a.max_replicas} @{a.target_cpu_utilization}"
            f" vs {there}"
        )
    return {"hpas": len(series.hpa), "ok_series": len(ok), "agree": agree, "differ": differ}


def rightsizing_frame(recs: RecommendationSet) -> pd.DataFrame:
    rows = []
    for row in recs.rightsizing:
        d = row.to_dict()
        recommended = d.get("recommended") or {}
        rows.append(
            {
                "key": (d["namespace"], d["kind"], d["workload"], d["container"]),
                "status": d["status"],
                "cpu": recommended.get("cpu_request"),
                "memory": recommended.get("memory_request"),
                "leak": bool((d.get("evidence") or {}).get("leak", False)),
            }
        )
    return pd.DataFrame(rows).set_index("key")


def rightsizing_agreement(
    series: RecommendationSet, aggregate: RecommendationSet
) -> dict[str, Any]:
    left, right = rightsizing_frame(series), rightsizing_frame(aggregate)
    joined = left[left["status"] != "insufficient_data"].join(
        right, suffixes=("", "_aggregate"), how="inner"
    )

    def within(column: str) -> pd.Series:
        ratio = joined[f"{column}_aggregate"].astype(float) / joined[column].astype(float)
        return (ratio - 1.0).abs() <= TOLERANCE

    cpu, memory = within("cpu"), within("memory")
    apart = joined[~(cpu & memory)]
    differ = [
        f"{'/'.join(key)}: cpu {r['cpu']} vs {r['cpu_aggregate']}, memory "
        f"{_mib(r['memory'])} vs {_mib(r['memory_aggregate'])} MiB"
        for key, r in apart.iterrows()
    ]
    flagged = left.index[left["leak"]]
    return {
        "rows": len(joined),
        "cpu_within": float(cpu.mean()),
        "memory_within": float(memory.mean()),
        "both_within": float((cpu & memory).mean()),
        "leaks_series": len(flagged),
        "leaks_both": int(right.reindex(flagged)["leak"].fillna(False).astype(bool).sum()),
        "leaks_aggregate_only": int((right["leak"] & ~right.index.isin(flagged)).sum()),
        "differ": differ,
    }


def _mib(value: Any) -> str:
    number = float(value) if value is not None else float("nan")
    return f"{number / 2**20:.0f}"


def fetch(
    url: str, out: Path, shape: str, start: Any, end: Any, step: int
) -> tuple[Snapshot, float]:
    started = time.perf_counter()
    fetch_prometheus_snapshot(
        PrometheusConfig(url=url, timeout_seconds=600.0, concurrency=2),
        start=start,
        end=end,
        step_seconds=step,
        out=out,
        shape=shape,
    )
    return load_snapshot(out), time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=int, default=5)
    parser.add_argument("--days", type=float, default=14.0)
    parser.add_argument("--step", default="5m")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args(argv)
    step = int(parse_duration(args.step))
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="kianax-agreement-"))
    workdir.mkdir(parents=True, exist_ok=True)
    end = DEFAULT_END
    start = end - timedelta(days=args.days)
    server = VictoriaMetricsServer(workdir, extra_flags=VM_FLAGS)
    try:
        started = time.perf_counter()
        demo = simulate_demo_cluster(end=end, days=args.days, step_seconds=step, scale=args.scale)
        exported = load(server, demo)
        del demo
        load_s = time.perf_counter() - started
        snaps, seconds = {}, {}
        for shape in ("series", "aggregate"):
            snaps[shape], seconds[shape] = fetch(
                server.url, workdir / shape, shape, start, end, step
            )
    finally:
        server.stop()
    result: dict[str, Any] = {
        "scale": args.scale,
        "days": args.days,
        "step": args.step,
        "containers": len(snaps["series"].containers),
        "series_loaded": exported["series"],
        "load_s": round(load_s, 1),
        "commit": _commit(),
    }
    for shape in ("series", "aggregate"):
        extra = snaps[shape].manifest.extra["prometheus"]
        result[f"{shape}_requests"] = extra["requests"]
        result[f"{shape}_fetch_s"] = round(seconds[shape], 1)
    result["leak_screen"] = snaps["aggregate"].manifest.extra["prometheus"].get("leak_screen")
    for strategy in ("kianax", "vpa"):
        recs = {shape: recommend(snap, strategy=strategy) for shape, snap in snaps.items()}
        result[strategy] = rightsizing_agreement(recs["series"], recs["aggregate"])
        if strategy == "kianax":
            result["hpa"] = hpa_agreement(recs["series"], recs["aggregate"])
    report(result)
    if args.workdir is None:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


def report(r: dict[str, Any]) -> None:
    k, v, h = r["kianax"], r["vpa"], r["hpa"]
    lines = [
        f"# demo --scale {r['scale']}, {r['days']:g} days at {r['step']}: {r['containers']} "
        f"pod containers, {r['series_loaded']} series in VictoriaMetrics (commit {r['commit']})",
        "",
        "| check | series shape | aggregate shape | agreement |",
        "|---|---|---|---|",
        f"| HPA rows ok (min/max within 1 replica, same target) | {h['ok_series']} of "
        f"{h['hpas']} | {h['agree']} agree | {h['agree']}/{h['ok_series']} |",
        f"| leaks flagged | {k['leaks_series']} | {k['leaks_both']} of them "
        f"(+{k['leaks_aggregate_only']} more) | {k['leaks_both']}/{k['leaks_series']} |",
        f"| kianax requests within 10% (CPU / memory / both) | {k['rows']} rows | | "
        f"{k['cpu_within']:.1%} / {k['memory_within']:.1%} / {k['both_within']:.1%} |",
        f"| vpa requests within 10% (CPU / memory / both) | {v['rows']} rows | | "
        f"{v['cpu_within']:.1%} / {v['memory_within']:.1%} / {v['both_within']:.1%} |",
        f"| HTTP requests | {r['series_requests']} | {r['aggregate_requests']} | |",
        f"| fetch wall time | {r['series_fetch_s']} s | {r['aggregate_fetch_s']} s | |",
        f"| leak screen | | {r['leak_screen']} | |",
        "",
        "Rows that differ (kianax HPA, kianax and vpa right-sizing beyond 10%):",
        *(f"- hpa {line}" for line in h["differ"]),
        *(f"- kianax {line}" for line in k["differ"]),
        *(f"- vpa {line}" for line in v["differ"][:10]),
        *([f"- vpa ... and {len(v['differ']) - 10} more"] if len(v["differ"]) > 10 else []),
        "",
        json.dumps(
            {
                **r,
                "kianax": {**k, "differ": len(k["differ"])},
                "vpa": {**v, "differ": len(v["differ"])},
                "hpa": {**h, "differ": len(h["differ"])},
            }
        ),
    ]
    print("\n".join(lines), flush=True)


def _commit() -> str:
    try:
        return subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


if __name__ == "__main__":
    sys.exit(main())
