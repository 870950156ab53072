"""Plotly figures from DataFrames: no Streamlit here, so tests can read the figure data.

Figures are built with ``plotly.graph_objects``: Plotly Express costs 50-80 ms a figure
against about 10 ms here, and the Model page draws several.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

KIND_LABELS = {"eval": "Evaluation set", "scores": "Scoring batch"}
METRIC_LABELS = {"accuracy": "Accuracy", "auc": "AUC", "selection_rate": "Selection rate"}
_HEIGHT = 320


def group_selection_rates(groups: pd.DataFrame, *, attribute: str) -> go.Figure:
    """Bars of the selection rate per group of one sensitive attribute.

    Parameters
    ----------
    groups : DataFrame
        Rows of ``snapshots.group_selection_rates`` (columns ``attribute, group,
        eval_selection_rate, scores_selection_rate``).
    attribute : str
        Which sensitive attribute to draw.
    """
    subset = groups[groups["attribute"] == attribute]
    figure = go.Figure(
        [
            go.Bar(name=label, x=subset["group"], y=subset[f"{kind}_selection_rate"])
            for kind, label in KIND_LABELS.items()
            if f"{kind}_selection_rate" in subset
        ]
    )
    figure.update_layout(
        barmode="group", yaxis_tickformat=".0%", yaxis_range=[0, 1], yaxis_title="selection rate",
        xaxis_title=attribute, height=_HEIGHT, legend_title_text="",
    )
    return figure


def performance_trend(trend: pd.DataFrame) -> go.Figure:
    """Lines of accuracy, AUC and selection rate across weekly snapshots."""
    figure = go.Figure(
        [
            go.Scatter(name=label, x=trend["week"], y=trend[metric], mode="lines+markers")
            for metric, label in METRIC_LABELS.items()
            if metric in trend
        ]
    )
    figure.update_layout(yaxis_range=[0, 1], xaxis_title="week", height=_HEIGHT, legend_title_text="")
    return figure


def group_metric(groups: pd.DataFrame, *, metric: str, label: str) -> go.Figure:
    """Bars of one metric per group with interval whiskers; groups too small to judge are grey.

    Parameters
    ----------
    groups : DataFrame
        The ``groups`` rows of one ``fairness.assess`` grouping (``group``, ``judged``,
        ``<metric>`` and ``<metric>_interval``).
    metric, label : str
        The column to draw and its axis title.
    """
    values = groups[metric]
    error = None
    if f"{metric}_interval" in groups:
        bounds = pd.DataFrame(groups[f"{metric}_interval"].tolist(), columns=["low", "high"], index=groups.index)
        error = {"type": "data", "array": (bounds["high"] - values).fillna(0).tolist(),
                 "arrayminus": (values - bounds["low"]).fillna(0).tolist(), "visible": True}
    colours = ["#1f77b4" if judged else "#bbbbbb" for judged in groups["judged"]]
    figure = go.Figure(go.Bar(x=groups["group"], y=values, marker_color=colours, error_y=error, name=label))
    figure.update_layout(yaxis_tickformat=".0%", yaxis_range=[0, 1], yaxis_title=label, height=_HEIGHT,
                         showlegend=False)
    return figure


def disparity_trend(trend: pd.DataFrame, *, label: str, threshold: dict[str, float]) -> go.Figure:
    """A disparity across weeks with its interval band and the policy's warn/fail lines."""
    figure = go.Figure()
    if "low" in trend and trend["low"].notna().any():
        figure.add_trace(go.Scatter(x=trend["week"], y=trend["high"], mode="lines", line_width=0, showlegend=False))
        figure.add_trace(go.Scatter(x=trend["week"], y=trend["low"], mode="lines", line_width=0, fill="tonexty",
                                    fillcolor="rgba(31,119,180,0.2)", name="95% interval"))
    figure.add_trace(go.Scatter(x=trend["week"], y=trend["value"], mode="lines+markers", name=label))
    for key, value in threshold.items():
        colour = "#d62728" if key.startswith("fail") else "#ff7f0e"
        figure.add_hline(y=value, line_dash="dash", line_color=colour, annotation_text=key.replace("_", " "))
    figure.update_layout(height=_HEIGHT, yaxis_title=label, xaxis_title="week")
    return figure


TRADE_OFF_MEASURES = {
    "accuracy": "Accuracy",
    "demographic_parity_difference": "Selection-rate difference",
    "equalized_odds_difference": "Equalised-odds difference",
}


def trade_off(scenarios: pd.DataFrame) -> go.Figure:
    """Accuracy and the disparities side by side, a bar per what-if scenario."""
    measures = list(TRADE_OFF_MEASURES)
    figure = go.Figure(
        [
            go.Bar(name=row["scenario"], x=[TRADE_OFF_MEASURES[m] for m in measures], y=[row[m] for m in measures])
            for _, row in scenarios.iterrows()
        ]
    )
    figure.update_layout(barmode="group", height=_HEIGHT + 40, legend={"orientation": "h", "y": -0.2},
                         yaxis_title="value (disparities: lower is fairer)")
    return figure


def drift(columns: pd.DataFrame, *, threshold: dict[str, float]) -> go.Figure:
    """PSI per column with the policy's warn and fail lines."""
    colours = {"pass": "#2ca02c", "warn": "#ff7f0e", "fail": "#d62728"}
    figure = go.Figure(go.Bar(x=columns["column"], y=columns["psi"],
                              marker_color=[colours.get(s, "#bbbbbb") for s in columns["status"]]))
    for key, value in threshold.items():
        figure.add_hline(y=value, line_dash="dash", annotation_text=key.replace("_", " "),
                         line_color="#d62728" if key.startswith("fail") else "#ff7f0e")
    figure.update_layout(yaxis_title="population stability index", height=_HEIGHT, showlegend=False)
    return figure


def consent_trend(trend: pd.DataFrame, *, threshold: dict[str, float]) -> go.Figure:
    """Consent coverage across weekly snapshots, with the policy's warn and fail lines."""
    figure = go.Figure([go.Scatter(name="coverage", x=trend["week"], y=trend["coverage"], mode="lines+markers")])
    for key, colour in (("warn_below", "orange"), ("fail_below", "red")):
        if key in threshold:
            figure.add_hline(y=threshold[key], line_dash="dot", line_color=colour,
                             annotation_text=f"{key.replace('_', ' ')} {threshold[key]:.0%}")
    low = min([*trend["coverage"].dropna(), *threshold.values(), 1.0])
    figure.update_layout(yaxis_tickformat=".0%", yaxis_range=[max(0.0, low - 0.02), 1.0], xaxis_title="week",
                         yaxis_title="leads scored with consent", height=_HEIGHT, showlegend=False)
    return figure
