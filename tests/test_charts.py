import pandas as pd

from ethics import charts


def test_performance_trend_has_a_line_per_metric():
    trend = pd.DataFrame({"week": ["2026-W47", "2026-W48"], "accuracy": [0.8, 0.7], "auc": [0.9, 0.85],
                          "selection_rate": [0.3, 0.4]})
    figure = charts.performance_trend(trend)
    assert [trace.name for trace in figure.data] == ["Accuracy", "AUC", "Selection rate"]
    assert list(figure.data[1].y) == [0.9, 0.85]
