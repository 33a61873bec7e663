"""The notebook facade: ``kianax_capacity`` exports what a notebook needs, and only that."""

from __future__ import annotations

import inspect
import types

import pandas as pd
import pytest

import kianax_capacity as kc
from kianax_capacity.recommendations import SECTIONS
from kianax_capacity.recommenders.engine import recommend as engine_recommend
from kianax_capacity.snapshot import Snapshot


def test_every_public_attribute_is_in_all_and_every_name_in_all_exists() -> None:
    public = {
        name
        for name in dir(kc)
        if not name.startswith("_")
        and not isinstance(getattr(kc, name), types.ModuleType)
        # the typing helpers the module itself imports
        and name not in {"annotations", "TYPE_CHECKING", "Any"}
    }
    assert public == set(kc.__all__) - {"__version__"}


def test_dir_lists_the_lazy_plot_functions() -> None:
    names = dir(kc)
    for plot in ("plot_costs", "plot_hpa", "plot_forecast", "fetch_prometheus_snapshot"):
        assert plot in names
        assert callable(getattr(kc, plot))


def test_recommend_has_the_engine_s_real_keyword_signature() -> None:
    facade = inspect.signature(kc.recommend).parameters
    engine = inspect.signature(engine_recommend).parameters
    assert list(facade) == list(engine)
    assert all(facade[name].kind == engine[name].kind for name in facade)
    assert not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in facade.values())


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="plot_nothing"):
        _ = kc.plot_nothing  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def recommendations(demo_snapshot: Snapshot) -> kc.RecommendationSet:
    return kc.recommend(demo_snapshot, strategy="kianax")


@pytest.mark.parametrize("section", SECTIONS)
def test_frame_has_one_row_per_recommendation_of_every_section(
    recommendations: kc.RecommendationSet, section: str
) -> None:
    rows = getattr(recommendations, section)
    assert rows, f"the demo has {section} rows"
    frame = recommendations.frame(section)  # type: ignore[arg-type]
    assert isinstance(frame, pd.DataFrame)
    assert len(frame) == len(rows)
    first = rows[0].to_dict()
    for name, value in first.items():
        if name in ("current", "recommended") and isinstance(value, dict):
            for inner, inner_value in value.items():
                assert frame.iloc[0][f"{name}_{inner}"] == inner_value or (
                    inner_value is None and pd.isna(frame.iloc[0][f"{name}_{inner}"])
                )


def test_frame_spreads_the_hpa_settings(recommendations: kc.RecommendationSet) -> None:
    frame = recommendations.frame("hpa")
    by_workload = frame.set_index("workload")
    for row in recommendations.hpa:
        assert by_workload.loc[row.workload, "current_max_replicas"] == row.current.max_replicas
        recommended = by_workload.loc[row.workload, "recommended_max_replicas"]
        assert recommended == row.recommended.max_replicas


def test_frame_of_an_unknown_section_names_the_sections(
    recommendations: kc.RecommendationSet,
) -> None:
    with pytest.raises(kc.UserInputError, match="rightsizing, hpa, spot, nodegroups, forecast"):
        recommendations.frame("costs")  # type: ignore[arg-type]


def test_diff_of_a_set_with_itself_is_empty(recommendations: kc.RecommendationSet) -> None:
    assert kc.diff(recommendations, recommendations).is_empty
