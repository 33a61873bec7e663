"""Right-sizing strategies; importing this package registers them all."""

from kianax_capacity.recommenders.strategies import kianax, krr_simple, vpa
from kianax_capacity.recommenders.strategies._base import (
    ContainerStatistics,
    RightsizingStrategy,
    StrategySettings,
    UsageData,
    available_strategies,
    describe_settings,
    get_strategy,
    register_strategy,
)

__all__ = [
    "ContainerStatistics",
    "RightsizingStrategy",
    "StrategySettings",
    "UsageData",
    "available_strategies",
    "describe_settings",
    "get_strategy",
    "kianax",
    "krr_simple",
    "register_strategy",
    "vpa",
]
