"""Weekly seasonality is not a trend: a window ending on a quiet weekend must not read as decline."""

import numpy as np
import pytest

from kianax_capacity.recommenders.forecast import fit_trend, trend_points


def test_weekend_dips_do_not_make_a_trend():
    days = np.arange(21.0)
    # Three flat weeks: weekdays at 10 cores, weekends at 6; the window ends on a Sunday.
    peaks = np.where((days % 7) >= 5, 6.0, 10.0)
    fit_day, fit_values, how = trend_points(days, peaks)
    trend = fit_trend(fit_day, fit_values)
    assert how == "trailing 7-day max of daily peaks"
    assert trend.slope_per_day == pytest.approx(0.0, abs=1e-9)
    assert trend.at(np.array([20.0]))[0] == pytest.approx(10.0)


def test_growth_survives_the_envelope():
    days = np.arange(28.0)
    peaks = 5 + 0.5 * days - np.where((days % 7) >= 5, 2.0, 0.0)
    trend = fit_trend(*trend_points(days, peaks)[:2])
    assert trend.slope_per_day == pytest.approx(0.5, rel=0.05)


def test_short_history_uses_the_daily_peaks_themselves():
    days = np.arange(10.0)
    fit_day, fit_values, how = trend_points(days, days * 2.0)
    assert how == "daily peaks" and len(fit_day) == 10
    assert list(fit_values) == list(days * 2.0)
