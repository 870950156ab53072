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
