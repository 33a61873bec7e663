"""What every family of the export is made of: series, families, the shared scrape, labels."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from kianax_capacity.sources.demo import DemoCluster, SimulatedPod

# A series: (label string, first step, values over [first, first + len(values)))
Series = tuple[str, int, np.ndarray]


def escape_label_value(value: str) -> str:
    """Escape a label value for the text formats: backslash, double quote and newline."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def label_string(**pairs: str) -> str:
    """A label string ``{name="value",...}`` in the given order, values escaped."""
    return "{" + ",".join(f'{k}="{escape_label_value(str(v))}"' for k, v in pairs.items()) + "}"


@dataclass(frozen=True)
class Family:
    """One metric family: its sample name, type, help text and its series (made when written)."""

    name: str  # sample name
    kind: str  # counter | gauge
    help: str
    series: Callable[[], Iterable[Series]]

    @property
    def family_name(self) -> str:
        return (
            self.name[: -len("_total")]
            if self.kind == "counter" and self.name.endswith("_total")
            else self.name
        )


def counter_with_resets(increments: np.ndarray, reset_steps: np.ndarray) -> np.ndarray:
    """Cumulative sum that restarts from the increment at each reset step (relative indices)."""
    total = np.cumsum(increments)
    if len(reset_steps):
        base = np.zeros_like(total)
        for r in reset_steps:
            if 0 < r < len(total):
                base[r:] = total[r - 1]
        total = total - base
    return total


@dataclass(frozen=True)
class Scrape:
    """What every family of one export shares: the cluster and the jobs' label sets."""

    demo: DemoCluster
    kubelet: dict[str, str]  # cAdvisor's series, scraped through the kubelet
    ksm: dict[str, str]  # kube-state-metrics

    @property
    def step(self) -> int:
        return self.demo.step_seconds

    @property
    def pods(self) -> list[SimulatedPod]:
        return self.demo.pods

    @property
    def full(self) -> int:
        """Steps in the whole window (the series that live as long as the cluster)."""
        return len(self.demo.timestamps)


def pod_len(p: SimulatedPod) -> int:
    """Steps the pod lived."""
    return p.stop - p.start


def ones(p: SimulatedPod) -> np.ndarray:
    """An info gauge's values (1) for every step the pod lived."""
    return np.ones(pod_len(p))
