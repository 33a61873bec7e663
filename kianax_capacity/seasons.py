"""The kianax strategy's seasons: US market hours, the other weekday hours, the weekend.

One definition for both places that split time into seasons: the strategy on samples
(:mod:`kianax_capacity.recommenders.strategies.kianax`) and the aggregate shape's queries, whose
time filters and time ranges the server evaluates (:mod:`kianax_capacity.sources.prometheus.catalog`).
Times are UTC; the market hours are New York's 09:30-16:00 in winter (EST), the hours the
platform's trading traffic follows.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["MARKET_CLOSE_MINUTE", "MARKET_OPEN_MINUTE", "SEASONS", "season_codes"]

#: Season names by code (see :func:`season_codes`).
SEASONS = ("market", "weekday", "weekend")
MARKET_OPEN_MINUTE = 13 * 60 + 30  # 09:30 New York (EST) in UTC minutes of the day
MARKET_CLOSE_MINUTE = 20 * 60  # 16:00 New York (EST)


def season_codes(epoch_seconds: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """0 ``market`` (weekday 13:30-20:00 UTC), 1 ``weekday`` (other weekday hours), 2 ``weekend``.

    Works on integer epoch seconds: 1970-01-01 was a Thursday, so ``(day + 3) % 7`` is the ISO
    weekday counted from Monday = 0.
    """
    seconds = np.asarray(epoch_seconds, dtype="int64")
    minute = (seconds // 60) % 1440
    weekday = ((seconds // 86400) + 3) % 7 < 5
    market = weekday & (minute >= MARKET_OPEN_MINUTE) & (minute < MARKET_CLOSE_MINUTE)
    return np.where(market, 0, np.where(weekday, 1, 2)).astype(np.int64)
