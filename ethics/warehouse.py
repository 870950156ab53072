"""Engines that compute the statistics where the data lives: DuckDB over Parquet, and SQL for Spark or a warehouse.

One SQL text (``ethics/sql/statistics.sql``, rendered for a model version by
:func:`render_sql`) is what DuckDB runs here and what Spark or a warehouse runs
elsewhere; the pandas engine (:func:`ethics.aggregates.from_rows`) gives the same table
from rows in memory.  Pick the engine per dataset with :func:`compute_statistics`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from ethics import aggregates
from ethics.errors import COLUMN_MISSING, ValidationError
from ethics.fairness import MISSING_GROUP, band_names
from ethics.manifest import sensitive_names

SQL_DIR = Path(__file__).parent / "sql"
TEMPLATE = SQL_DIR / "statistics.sql"
ENGINES = ("pandas", "duckdb")
DEFAULT_MEMORY_LIMIT = "1GB"
DEFAULT_THREADS = 2

NO_ATTRIBUTES = "Model {model_id!r} {version} has no sensitive attributes: there are no group statistics to compute."
UNKNOWN_ENGINE = "Engine {engine!r} is unknown; use {engines}."
SOURCE_MISSING = "{file}: cannot read the rows ({reason})."


def render_sql(
    manifest: dict[str, Any],
    *,
    dataset: Literal["eval", "scores"],
    source: str = "scored_leads",
    consent: bool = False,
    team: bool = False,
    bins: int = aggregates.BINS,
) -> str:
    """The statistics SQL of one dataset of a model version, ready to run.

    Parameters
    ----------
    manifest : dict
        The version's manifest: sensitive attributes (with bands) and threshold.
    dataset : {"eval", "scores"}
        Labelled evaluation rows or a scoring batch.
    source : str, default "scored_leads"
        Table or view holding the rows (columns ``score``, the attributes, ``label`` for
        evaluation rows, ``consent_status`` when ``consent``, ``team`` when ``team``).
    consent : bool, default False
        Whether the rows carry a ``consent_status`` column.
    team : bool, default False
        Whether the rows carry the sales ``team`` (consent coverage per team).
    bins : int, default aggregates.BINS

    Returns
    -------
    str
        SQL that runs unchanged on DuckDB and Spark SQL.

    Raises
    ------
    ValidationError
        When the model has no sensitive attributes.
    """
    attributes = sensitive_names(manifest)
    if not attributes:
        raise ValidationError(NO_ATTRIBUTES.format(model_id=manifest["id"], version=manifest["version"]))
    bands = {a["name"]: a["bands"] for a in manifest["sensitive_attributes"] if a.get("bands")}
    groups = ",\n        ".join(_group_expression(a, bands.get(a)) for a in attributes)
    text = TEMPLATE.read_text(encoding="utf-8")
    body = text[text.index("WITH cells"):]
    return body.format(
        source=source,
        dataset=dataset,
        groups=groups,
        attributes=", ".join(attributes),
        consent="consent_status" if consent else "CAST(NULL AS STRING)",
        team="CAST(team AS STRING)" if team else "CAST(NULL AS STRING)",
        label="CAST(label AS INT)" if dataset == "eval" else "CAST(NULL AS INT)",
        threshold=repr(float(manifest["threshold"])),
        bins=int(bins),
    )


def _group_expression(attribute: str, edges: Sequence[float] | None) -> str:
    """The group label of one attribute in SQL, as :func:`ethics.fairness.band` labels it."""
    if not edges:
        return f"COALESCE(CAST({attribute} AS STRING), '{MISSING_GROUP}') AS {attribute}"
    value = f"TRY_CAST({attribute} AS DOUBLE)"
    edges = sorted(float(e) for e in edges)
    names = band_names(edges)
    cases = " ".join(f"WHEN {value} < {edge!r} THEN '{name}'" for edge, name in zip(edges, names, strict=False))
    return f"CASE WHEN {value} IS NULL THEN '{MISSING_GROUP}' {cases} ELSE '{names[-1]}' END AS {attribute}"


def duckdb_statistics(
    paths: dict[str, Path],
    *,
    manifest: dict[str, Any],
    memory_limit: str = DEFAULT_MEMORY_LIMIT,
    threads: int = DEFAULT_THREADS,
    temp_directory: Path | None = None,
) -> pd.DataFrame:
    """The statistics of Parquet files, streamed by DuckDB in bounded memory.

    Parameters
    ----------
    paths : dict
        ``{"eval": Path, "scores": Path}`` (either or both); a path may be a glob of
        Parquet files.
    manifest : dict
        The version's manifest.
    memory_limit : str, default "1GB"
        DuckDB's ``memory_limit``; work beyond it spills to ``temp_directory``.
    threads : int, default 2
    temp_directory : Path, optional
        Where DuckDB may spill.

    Returns
    -------
    DataFrame
        The statistics of every dataset given, normalised.
    """
    import duckdb

    config = {"memory_limit": memory_limit, "threads": int(threads)}
    if temp_directory is not None:
        config["temp_directory"] = str(temp_directory)
    attributes = sensitive_names(manifest)
    frames = []
    with duckdb.connect(config=config) as connection:
        for dataset, path in paths.items():
            relation = f"read_parquet('{_literal(str(path))}')"
            try:
                names = [row[0] for row in connection.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()]
                _check_source(names, dataset=dataset, attributes=attributes, file=Path(path).name)
                sql = render_sql(manifest, dataset=dataset, source=relation,  # type: ignore[arg-type]
                                 consent="consent_status" in names, team="team" in names)
                frames.append(connection.execute(sql).df())
            except duckdb.Error as exc:
                reason = str(exc).splitlines()[0]
                raise ValidationError(SOURCE_MISSING.format(file=Path(path).name, reason=reason)) from None
    return aggregates.normalize(pd.concat(frames, ignore_index=True), attributes=attributes)


def pandas_statistics(paths: dict[str, Path], *, manifest: dict[str, Any]) -> pd.DataFrame:
    """The statistics of CSV or Parquet files read into memory (the default engine)."""
    from ethics.datasets import read_table

    attributes = sensitive_names(manifest)
    bands = {a["name"]: a["bands"] for a in manifest["sensitive_attributes"] if a.get("bands")}
    frames = []
    for dataset, path in paths.items():
        rows = read_table(Path(path))
        _check_source(list(rows.columns), dataset=dataset, attributes=attributes, file=Path(path).name)
        frames.append(aggregates.from_rows(rows, attributes=attributes, bands=bands,
                                           threshold=manifest["threshold"], dataset=dataset, by_team=True))
    return aggregates.normalize(pd.concat(frames, ignore_index=True), attributes=attributes)


def _check_source(names: Sequence[str], *, dataset: str, attributes: Sequence[str], file: str) -> None:
    """The columns the statistics read: the score, the attributes and, for evaluation rows, the label."""
    for column in ("score", *attributes, *(["label"] if dataset == "eval" else [])):
        if column not in names:
            raise ValidationError(COLUMN_MISSING.format(file=file, column=column))


def compute_statistics(
    paths: dict[str, Path], *, manifest: dict[str, Any], engine: str = "pandas", **options: Any
) -> pd.DataFrame:
    """The statistics of row files with the chosen engine (``pandas`` or ``duckdb``).

    Raises
    ------
    ValidationError
        For an unknown engine or unreadable files.
    """
    if engine == "pandas":
        return pandas_statistics(paths, manifest=manifest)
    if engine == "duckdb":
        return duckdb_statistics(paths, manifest=manifest, **options)
    raise ValidationError(UNKNOWN_ENGINE.format(engine=engine, engines=", ".join(ENGINES)))


def _literal(text: str) -> str:
    return text.replace("'", "''")
