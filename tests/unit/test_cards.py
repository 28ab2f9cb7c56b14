"""The card's figures that summarise a search: what they draw from the trials."""

from __future__ import annotations

import numpy as np
import pytest

from modelops.cards import _axis_values, parameters_figure, weights_figure
from modelops.training.search import Trial


def _trial(number: int, value: float | None, **params) -> Trial:
    state = "complete" if value is not None else "pruned"
    return Trial(number, params, state, value, [], 1.0, float(number))


def test_parameters_are_drawn_per_family_on_the_axes_the_search_moved():
    """One panel per family with two completed trials; an axis per parameter that took more
    than one value (a fixed iteration count is no axis); the best trial drawn thickest."""
    trials = {
        "lightgbm": [
            _trial(0, 0.70, n_estimators=4000, learning_rate=0.1, num_leaves=31),
            _trial(1, 0.75, n_estimators=4000, learning_rate=0.03, num_leaves=15),
            _trial(2, None, n_estimators=4000, learning_rate=0.3, num_leaves=63),  # pruned
        ],
        "linear": [_trial(0, 0.6, C=1.0), _trial(1, 0.65, C=10.0)],
        "catboost": [_trial(0, 0.7, depth=6)],  # one trial: nothing to compare
    }
    fig = parameters_figure(trials, "roc_auc", higher=True)
    axes = fig.axes
    assert len(axes) == 2
    assert [t.get_text() for t in axes[0].get_xticklabels()] == ["learning rate", "num leaves"]
    assert axes[0].get_title().startswith("lightgbm: 2 completed trials")
    widths = {line.get_linewidth() for line in axes[0].get_lines() if line.get_marker() == "o"}
    assert max(widths) > min(widths)
    best = max(axes[0].get_lines(), key=lambda line: line.get_linewidth())
    assert list(best.get_ydata()) == [0.0, 0.0]  # the better trial: lower rate, fewer leaves
    assert parameters_figure({"catboost": trials["catboost"]}, "roc_auc", True) is None


def test_axis_values_scale_numbers_log_wide_ranges_and_order_text():
    np.testing.assert_allclose(_axis_values([1, 2, 3]), [0, 0.5, 1])
    np.testing.assert_allclose(_axis_values([0.001, 0.01, 0.1]), [0, 0.5, 1])  # log scale
    np.testing.assert_allclose(_axis_values(["sqrt", "none", "sqrt"]), [0, 1, 0])
    np.testing.assert_allclose(_axis_values([5, None]), [0.5, 0.5])  # one value, one missing


def test_the_weights_figure_has_a_bar_per_member_heaviest_on_top():
    fig = weights_figure({"catboost": 0.6, "linear": 0.1, "xgboost": 0.3})
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_yticklabels()] == ["linear", "xgboost", "catboost"]
    assert [p.get_width() for p in ax.patches] == pytest.approx([0.1, 0.3, 0.6])
