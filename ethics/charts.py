"""Plotly figures from DataFrames: no Streamlit here, so tests can read the figure data.

Figures are built with ``plotly.graph_objects``: Plotly Express costs 50-80 ms a figure
against about 10 ms here, and the Model page draws several.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from ethics.presentation import SHARE, Presentation

KIND_LABELS = {"eval": "Evaluation set", "scores": "Scoring batch"}
METRIC_LABELS = {"accuracy": "Accuracy", "auc": "AUC", "selection_rate": "Selection rate"}
_HEIGHT = 320


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


def group_metric(groups: pd.DataFrame, *, metric: str, label: str, shown: Presentation = SHARE) -> go.Figure:
    """Bars of one metric per group with interval whiskers; groups too small to judge are grey.

    Parameters
    ----------
    groups : DataFrame
        The ``groups`` rows of one ``fairness.assess`` grouping (``group``, ``judged``,
        ``<metric>`` and ``<metric>_interval``).
    metric, label : str
        The column to draw and its axis title.
    shown : Presentation, default SHARE
        The metric's presentation (its spec's): the axis format, and [0, 1] for shares.
    """
    values = groups[metric]
    error = None
    if f"{metric}_interval" in groups:
        bounds = pd.DataFrame(groups[f"{metric}_interval"].tolist(), columns=["low", "high"], index=groups.index)
        error = {"type": "data", "array": (bounds["high"] - values).fillna(0).tolist(),
                 "arrayminus": (values - bounds["low"]).fillna(0).tolist(), "visible": True}
    colours = ["#1f77b4" if judged else "#bbbbbb" for judged in groups["judged"]]
    figure = go.Figure(go.Bar(x=groups["group"], y=values, marker_color=colours, error_y=error, name=label))
    # A share shown as a plain number (a KS statistic, "{:.3f}") keeps plain ticks, not percentages.
    axis = shown.axis if "%" in shown.format or "%" not in shown.axis else ".2f"
    figure.update_layout(yaxis_tickformat=axis, yaxis_title=label, height=_HEIGHT, showlegend=False)
    if shown.unit == "share":
        figure.update_layout(yaxis_range=[0, 1])
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


def shap_importance(importance: pd.DataFrame) -> go.Figure:
    """Horizontal bars of mean |SHAP| per feature, the most important at the top."""
    rows = importance.sort_values("rank", ascending=False)
    figure = go.Figure(go.Bar(x=rows["mean_abs_shap"], y=rows["label"], orientation="h", marker_color="#1f77b4"))
    figure.update_layout(xaxis_title="mean |SHAP value| (effect on the model output)", height=_HEIGHT,
                         showlegend=False, margin={"l": 10})
    return figure


def shap_beeswarm(points: pd.DataFrame, *, order: list[str]) -> go.Figure:
    """One row of dots per feature: each lead's SHAP value, coloured by the feature value's rank.

    Parameters
    ----------
    points : DataFrame
        ``explain.distribution`` rows (``label, shap, position, value_text``).
    order : list of str
        Feature labels, most important first (drawn at the top).
    """
    rows = {label: index for index, label in enumerate(reversed(order))}
    spread = (points.groupby("label").cumcount() % 21 - 10) / 30  # a fixed jitter: the same chart every time
    figure = go.Figure(go.Scattergl(
        x=points["shap"], y=points["label"].map(rows) + spread, mode="markers",
        marker={"color": points["position"], "colorscale": "Bluered", "size": 4, "opacity": 0.6,
                "colorbar": {"title": "feature value", "tickvals": [0, 1], "ticktext": ["low", "high"]}},
        text=points["label"] + ": " + points["value_text"], hoverinfo="text+x",
    ))
    figure.add_vline(x=0, line_color="#888888")
    figure.update_layout(yaxis={"tickvals": list(rows.values()), "ticktext": list(rows)}, height=_HEIGHT + 80,
                         xaxis_title="SHAP value (right: raises the score)", showlegend=False)
    return figure


def shap_dependence(points: pd.DataFrame, *, label: str) -> go.Figure:
    """One feature's value against its SHAP value, one dot per lead."""
    figure = go.Figure(go.Scattergl(x=points["value"], y=points["shap"], mode="markers",
                                    marker={"size": 5, "opacity": 0.5, "color": "#1f77b4"}))
    figure.add_hline(y=0, line_color="#888888")
    figure.update_layout(xaxis_title=label, yaxis_title="SHAP value", height=_HEIGHT, showlegend=False)
    return figure


def shap_waterfall(
    steps: pd.DataFrame, *, base_value: float, output_space: str, threshold: float | None = None
) -> go.Figure:
    """One lead's contributions from the base value to the model output, largest first.

    Parameters
    ----------
    steps : DataFrame
        ``explain.waterfall`` rows (``label, value_text, shap``).
    base_value : float
        Where the bars start (the average model output).
    output_space : str
        Axis title: ``log-odds``, ``probability`` or ``score``.
    threshold : float, optional
        The decision threshold in the same space, drawn as a dashed line.
    """
    # A step without a feature (the sensitive attributes the model reads, summed) shows its label alone.
    labels = [row.label if row.feature is None else f"{row.label} = {row.value_text}" for row in steps.itertuples()]
    figure = go.Figure(go.Waterfall(
        orientation="h", y=["average lead", *labels, "this lead"],
        x=[base_value, *steps["shap"], 0.0], measure=["absolute", *["relative"] * len(steps), "total"],
        increasing={"marker": {"color": "#d62728"}}, decreasing={"marker": {"color": "#1f77b4"}},
        totals={"marker": {"color": "#7f7f7f"}},
    ))
    if threshold is not None:
        figure.add_vline(x=threshold, line_dash="dash", line_color="#ff7f0e", annotation_text="threshold")
    figure.update_layout(xaxis_title=f"model output ({output_space})", yaxis={"autorange": "reversed"},
                         height=_HEIGHT + 20 * len(steps), showlegend=False)
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
