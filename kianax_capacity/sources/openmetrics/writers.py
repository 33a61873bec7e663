"""The writers: OpenMetrics / Prometheus text, VictoriaMetrics JSON lines, the atomic file export."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TextIO

import numpy as np
import pandas as pd

from kianax_capacity.sources.demo import DEMO_CLUSTER, DemoCluster, simulate_demo_cluster
from kianax_capacity.sources.openmetrics.families import families


@dataclass(frozen=True)
class ExportStats:
    """What an export wrote."""

    series: int
    samples: int
    bytes: int
    start: datetime
    end: datetime


def _epoch_seconds(timestamps: pd.DatetimeIndex) -> np.ndarray:
    return np.asarray(
        (timestamps - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1), dtype=np.int64
    )


def write_openmetrics(
    demo: DemoCluster, out: TextIO, *, cluster: str | None = None, millis: bool = False
) -> tuple[int, int]:
    """Write the cluster's series to ``out``; returns (series, samples).

    ``millis=True`` writes the Prometheus text format with millisecond timestamps and no
    ``# EOF`` (what VictoriaMetrics' ``/api/v1/import/prometheus`` expects); the default is
    OpenMetrics with second timestamps, as promtool wants.
    """
    seconds = _epoch_seconds(demo.timestamps)
    stamps = [str(s * 1000) if millis else str(s) for s in seconds.tolist()]
    series_count = samples = 0
    for family in families(demo, cluster or demo.cluster):
        if not millis:
            out.write(
                f"# HELP {family.family_name} {family.help}\n# TYPE {family.family_name} {family.kind}\n"
            )
        else:
            out.write(f"# TYPE {family.name} {family.kind}\n")
        for labels, first, values in family.series():
            prefix = family.name + labels + " "
            chunk = stamps[first : first + len(values)]
            out.write(
                "".join(
                    f"{prefix}{v:.10g} {t}\n" for v, t in zip(values.tolist(), chunk, strict=True)
                )
            )
            series_count += 1
            samples += len(values)
    if not millis:
        out.write("# EOF\n")
    return series_count, samples


# name="value" pairs of a label string; an escaped quote (\\") never ends a name.
_LABEL_PAIR = re.compile(r'(^|,)([a-zA-Z_][a-zA-Z0-9_]*)="')


def write_victoriametrics_jsonl(
    demo: DemoCluster, out: TextIO, *, cluster: str | None = None
) -> tuple[int, int]:
    """Write the cluster as VictoriaMetrics JSON lines (``/api/v1/import``); returns (series, samples).

    The same series and samples as :func:`write_openmetrics`, one line per series
    (``{"metric": {...}, "values": [...], "timestamps": [...]}``, millisecond timestamps). About
    ten times smaller and faster to write and to import than the text format, which repeats the
    labels on every sample: the scale benchmark loads hundreds of millions of samples this way.
    """
    millis = [str(s * 1000) for s in _epoch_seconds(demo.timestamps).tolist()]
    series_count = samples = 0
    for family in families(demo, cluster or demo.cluster):
        head = '{"metric":{"__name__":' + json.dumps(family.name) + ","
        for labels, first, values in family.series():
            # The text format's escapes (\\, \", \n) are JSON escapes too.
            metric = _LABEL_PAIR.sub(r'\1"\2":"', labels[1:-1])
            stamps = millis[first : first + len(values)]
            finite = np.isfinite(values)
            if not finite.all():
                stamps = [t for t, ok in zip(stamps, finite.tolist(), strict=True) if ok]
                values = values[finite]
            out.write(
                f'{head}{metric}}},"values":[{",".join(map(repr, values.tolist()))}],'
                f'"timestamps":[{",".join(stamps)}]}}\n'
            )
            series_count += 1
            samples += len(values)
    return series_count, samples


def write_demo_openmetrics(
    path: Path | str,
    *,
    end: datetime | None = None,
    days: float = 21,
    step_seconds: int = 300,
    scale: int = 1,
    millis: bool = False,
    cluster: str | None = None,
) -> ExportStats:
    """Simulate a demo cluster and write it as OpenMetrics to ``path`` (atomically).

    ``cluster``: ``kianax-production`` (default) or ``kianax-dev``, also the ``cluster`` label.
    """
    target = Path(path)
    demo = simulate_demo_cluster(
        end=end,
        days=days,
        step_seconds=step_seconds,
        scale=scale,
        cluster=cluster or DEMO_CLUSTER,
    )
    tmp = target.with_name(f".{target.name}.tmp")
    try:
        with tmp.open("w", buffering=1 << 20) as handle:
            series, samples = write_openmetrics(demo, handle, millis=millis)
        tmp.replace(target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return ExportStats(
        series=series, samples=samples, bytes=target.stat().st_size, start=demo.start, end=demo.end
    )
