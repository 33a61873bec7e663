"""Moved to :mod:`kianax_capacity.sources.prometheus.promql`; this name keeps old imports working."""

from kianax_capacity.sources.prometheus.promql import *  # noqa: F403
from kianax_capacity.sources.prometheus.promql import __all__  # noqa: F401
