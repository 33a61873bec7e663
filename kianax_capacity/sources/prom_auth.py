"""Moved to :mod:`kianax_capacity.sources.prometheus.auth`; this name keeps old imports working."""

from kianax_capacity.sources.prometheus.auth import *  # noqa: F403
from kianax_capacity.sources.prometheus.auth import __all__  # noqa: F401
