"""``[clusters.NAME]``: a fleet in the config, every key checked at load with a one-line error."""

from __future__ import annotations

from pathlib import Path

import pytest

from kianax_capacity.cli._fleet import cluster_prometheus
from kianax_capacity.config import ConfigError, load_config

GOOD = """
profile = "production"
[prometheus]
url = "https://prom.example.com"
cluster_label = "cluster"
cluster_value = "only-one"

[nodegroups.general-ng]
instance_types = ["t3.medium"]
min_size = 2
max_size = 5

[clusters.kianax-production]

[clusters.kianax-dev]
cluster_value = "dev-eks"
cluster_label = "eks_cluster"
profile = "development"
[clusters.kianax-dev.nodegroups.general-ng]
instance_types = ["t3.small"]
max_size = 4

[clusters.staging]
prometheus_url = "https://prom-staging.example.com"
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "kianax-capacity.toml"
    path.write_text(text)
    return path


def test_a_fleet_loads_and_applies_per_cluster(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, GOOD))
    assert list(config.clusters) == ["kianax-production", "kianax-dev", "staging"]
    dev = config.for_cluster("kianax-dev")
    assert (dev.cluster, dev.profile) == ("kianax-dev", "development")
    assert dev.nodegroups["general-ng"].instance_types == ("t3.small",)
    assert dev.nodegroups["general-ng"].max_size == 4
    prod = config.for_cluster("kianax-production")
    assert prod.profile == "production" and prod.nodegroups["general-ng"].max_size == 5
    # Shared Prometheus: each cluster selects its own label value, never the top-level one.
    shared = cluster_prometheus(config, "kianax-production", fleet=True)
    assert (shared.url, shared.cluster_label, shared.cluster_value) == (
        "https://prom.example.com",
        "cluster",
        None,  # the fetch then uses the cluster's name
    )
    own = cluster_prometheus(config, "kianax-dev", fleet=True)
    assert (own.cluster_label, own.cluster_value) == ("eks_cluster", "dev-eks")
    staging = cluster_prometheus(config, "staging", fleet=True)
    assert staging.url == "https://prom-staging.example.com"
    # A single-cluster run keeps the top-level value, as before.
    assert cluster_prometheus(config, "kianax-production", fleet=False).cluster_value == "only-one"


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("[clusters.a]\nprometheus = 'x'\n", ["[clusters.a]", "unknown key", "prometheus"]),
        ("[clusters.a]\nprofile = 'dev'\n", ["[clusters.a] profile", "development"]),
        ("[clusters.a]\ncluster_value = 'x'\n", ["[clusters.a] cluster_value", "cluster_label"]),
        ("[clusters.a]\nprometheus_url = 'prom:9090'\n", ["[clusters.a] prometheus_url", "http"]),
        ("[clusters.a]\ncluster_label = 3\n", ["[clusters.a] cluster_label", "string"]),
        ('[clusters."a b"]\n', ["[clusters.a b]", "letters"]),
        ("clusters = 3\n", ["[clusters]", "expected tables"]),
        ("[clusters.a]\nnodegroups = 1\n", ["[clusters.a] nodegroups", "expected tables"]),
        (
            "[clusters.a.nodegroups.g]\nmax_size = 'x'\n",
            ["[clusters.a.nodegroups.g].max_size", "number"],
        ),
        (
            "[clusters.a.nodegroups.g]\nsize = 1\n",
            ["[clusters.a.nodegroups.g]", "unknown key", "size"],
        ),
    ],
)
def test_bad_cluster_tables_name_the_key(tmp_path: Path, text: str, names: list[str]) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(_write(tmp_path, text))
    message = str(caught.value)
    assert "\n" not in message
    for name in names:
        assert name in message, (name, message)
