import pandas as pd

from ethics import charts


def test_group_selection_rates_draws_one_bar_per_group_and_dataset():
    groups = pd.DataFrame([
        {"attribute": "sex", "group": "f", "eval_selection_rate": 0.2, "scores_selection_rate": 0.25},
        {"attribute": "sex", "group": "m", "eval_selection_rate": 0.4, "scores_selection_rate": 0.35},
        {"attribute": "age", "group": "55+", "eval_selection_rate": 0.1, "scores_selection_rate": 0.1},
    ])
    figure = charts.group_selection_rates(groups, attribute="sex")
    assert [trace.name for trace in figure.data] == ["Evaluation set", "Scoring batch"]
    assert list(figure.data[0].x) == ["f", "m"] and list(figure.data[0].y) == [0.2, 0.4]
    assert list(figure.data[1].y) == [0.25, 0.35]


def test_performance_trend_has_a_line_per_metric():
    trend = pd.DataFrame({"week": ["2026-W47", "2026-W48"], "accuracy": [0.8, 0.7], "auc": [0.9, 0.85],
                          "selection_rate": [0.3, 0.4]})
    figure = charts.performance_trend(trend)
    assert [trace.name for trace in figure.data] == ["Accuracy", "AUC", "Selection rate"]
    assert list(figure.data[1].y) == [0.9, 0.85]
