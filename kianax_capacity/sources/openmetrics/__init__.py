"""OpenMetrics export of the demo cluster, with the standard cAdvisor and kube-state-metrics names.

The file backfills a real Prometheus (``promtool tsdb create-blocks-from openmetrics``) or loads
into VictoriaMetrics unchanged, so the Prometheus source, tests and benchmarks read the demo
cluster exactly as they would read a real one. Counters are real cumulative counters that reset
to zero when a container restarts. The exact series are listed in ``docs/demo-cluster.md``.

Families are written one after another (OpenMetrics wants each family's samples together), each
series' samples in time order, then ``# EOF``. The file is streamed: memory stays flat whatever
the window.

One module per step:

- :mod:`.series`: a series, a family, what one export's families share, label formatting;
- :mod:`.cadvisor`, :mod:`.kube_pods`, :mod:`.kube_objects`, :mod:`.jvm`: the demo cluster as
  series, one function per family group, in the layout of the exporter that writes them;
- :mod:`.families`: every family in the order they are written;
- :mod:`.writers`: the OpenMetrics / Prometheus text and VictoriaMetrics JSON lines writers, and
  the atomic file export.
"""

from __future__ import annotations

from kianax_capacity.sources.openmetrics.series import escape_label_value
from kianax_capacity.sources.openmetrics.writers import (
    ExportStats,
    write_demo_openmetrics,
    write_openmetrics,
    write_victoriametrics_jsonl,
)

__all__ = [
    "ExportStats",
    "escape_label_value",
    "write_demo_openmetrics",
    "write_openmetrics",
    "write_victoriametrics_jsonl",
]
