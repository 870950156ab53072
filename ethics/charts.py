"""Plotly figures from DataFrames: no Streamlit here, so tests can read the figure data."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

KIND_LABELS = {"eval": "Evaluation set", "scores": "Scoring batch"}


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
    long = subset.melt(
        id_vars=["group"],
        value_vars=[c for c in ("eval_selection_rate", "scores_selection_rate") if c in subset],
        var_name="data",
        value_name="selection rate",
    )
    long["data"] = long["data"].str.replace("_selection_rate", "").map(KIND_LABELS)
    figure = px.bar(long, x="group", y="selection rate", color="data", barmode="group")
    figure.update_layout(yaxis_tickformat=".0%", yaxis_range=[0, 1], legend_title_text="", height=320)
    return figure


def performance_trend(trend: pd.DataFrame) -> go.Figure:
    """Lines of accuracy, AUC and selection rate across weekly snapshots."""
    metrics = [c for c in ("accuracy", "auc", "selection_rate") if c in trend]
    long = trend.melt(id_vars=["week"], value_vars=metrics, var_name="metric", value_name="value")
    figure = px.line(long, x="week", y="value", color="metric", markers=True)
    figure.update_layout(yaxis_range=[0, 1], legend_title_text="", height=320)
    return figure
