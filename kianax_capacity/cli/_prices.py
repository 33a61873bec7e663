"""Choosing the price catalog from flags and config: embedded (offline) or live AWS."""

from __future__ import annotations

from kianax_capacity.config import Config
from kianax_capacity.errors import UserInputError
from kianax_capacity.prices import PriceCatalog, embedded_catalog
from kianax_capacity.recommenders.nodegroups import candidate_specs
from kianax_capacity.snapshot import Snapshot

PRICE_SOURCES = ("embedded", "aws")


def load_catalog(config: Config, snapshot: Snapshot) -> PriceCatalog:
    """The catalog ``config.aws.prices`` names, for the snapshot's nodes and the candidates.

    The live catalog is asked only for the instance types that matter (the snapshot's nodes and
    the node-group candidates), which keeps the Pricing and spot-history calls to a handful.
    """
    if config.aws.prices not in PRICE_SOURCES:
        raise UserInputError(
            f"--prices must be one of {', '.join(PRICE_SOURCES)}, not {config.aws.prices!r}"
        )
    embedded = embedded_catalog(config.aws.region)
    if config.aws.prices == "embedded":
        return embedded
    from kianax_capacity.sources.aws_prices import aws_catalog  # boto3 only when asked for

    wanted = set(snapshot.nodes["instance_type"].dropna().astype(str))
    wanted |= {
        spec.instance_type
        for spec in candidate_specs(embedded, allow_graviton=config.aws.allow_graviton)
    }
    return aws_catalog(config.aws.region, instance_types=sorted(wanted))
