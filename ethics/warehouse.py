"""Engines that compute the statistics where the data lives: DuckDB over Parquet, and SQL for Spark or a warehouse.

One SQL text (``ethics/sql/statistics.sql``, rendered for a model version by
:func:`render_sql`) is what DuckDB runs here and what Spark or a warehouse runs
elsewhere; the pandas engine (:func:`ethics.aggregates.from_rows`) gives the same table
from rows in memory.  Pick the engine per dataset with :func:`compute_statistics`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from ethics import aggregates
from ethics.errors import COLUMN_MISSING, ValidationError
from ethics.fairness import MISSING_GROUP, band_names
from ethics.lazy import lazy_module
from ethics.manifest import outcome_of, sensitive_names

pd = lazy_module("pandas", globals())

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

    attributes = sensitive_names(manifest)
    frames = []
    with _duckdb(memory_limit=memory_limit, threads=threads, temp_directory=temp_directory) as connection:
        for dataset, path in paths.items():
            relation = _parquet(path)
            try:
                names = [row[0] for row in connection.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()]
                _check_source(names, dataset=dataset, attributes=attributes, file=Path(path).name)
                sql = render_sql(manifest, dataset=dataset, source=relation,  # type: ignore[arg-type]
                                 consent="consent_status" in names, team="team" in names)
                frames.append(connection.execute(sql).df())
            except duckdb.Error as exc:
                raise _unreadable(path, exc) from None
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


# -- the cells of the other outcome types: continuous, multiclass, ranking ---------------------

CELL_KINDS = ("continuous", "multiclass", "ranking")
UNKNOWN_KIND = "Cells of kind {kind!r} are unknown; use {kinds}."
NO_CELL_ATTRIBUTES = "The cells SQL needs at least one sensitive attribute."
BAD_SQL_RESOLUTION = "resolution must be a positive number, or None for exact values; got {resolution!r}."
BAD_SQL_CAPACITY = "capacity must be a whole number of at least 0, or None for the rows' column; got {value!r}."
#: The last doubling band the ranking SQL names: ranks up to exact_ranks * 2**RANK_DOUBLINGS (2.7e11 with 64).
RANK_DOUBLINGS = 32


def _template(name: str) -> str:
    """The SQL of ``ethics/sql/<name>.sql`` after its comment header."""
    text = (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")
    return text[text.index("WITH "):]


def _groups(attributes: Sequence[str], bands: Mapping[str, Sequence[float]] | None) -> str:
    if not attributes:
        raise ValidationError(NO_CELL_ATTRIBUTES)
    bands = bands or {}
    return ",\n        ".join(_group_expression(a, bands.get(a)) for a in attributes)


def _double(number: float) -> str:
    return f"CAST({float(number)!r} AS DOUBLE)"


def half_even_sql(column: str, resolution: float) -> str:
    """``np.rint(column / resolution) * resolution`` in portable SQL: halves go to the even multiple.

    SQL's ``ROUND`` rounds halves away from zero (``ROUND(2.5) = 3``, numpy gives 2), so the
    step is ``FLOOR(q)`` plus one when the fraction is above one half, or exactly one half
    and ``FLOOR(q)`` is odd.  ``q - FLOOR(q)`` is exact in double precision, so the test of
    the half is exact and every value equals numpy's bit for bit.
    """
    q = f"({column} / {_double(resolution)})"
    low = f"CAST(FLOOR({q}) AS DOUBLE)"
    half = _double(0.5)
    up = (f"CASE WHEN {q} - {low} > {half} THEN 1 WHEN {q} - {low} < {half} THEN 0 "
          f"WHEN MOD({low}, 2) = 0 THEN 0 ELSE 1 END")
    return f"({low} + {up}) * {_double(resolution)}"


def render_continuous_sql(
    *,
    attributes: Sequence[str],
    outcome: str,
    label: str | None = None,
    control: str | None = None,
    bands: Mapping[str, Sequence[float]] | None = None,
    resolution: float | None = None,
    source: str = "scored_leads",
) -> str:
    """The SQL of :func:`ethics.continuous.cells_table`: the same cells, computed where the rows live.

    Parameters
    ----------
    attributes : sequence of str
        Sensitive attributes (banded with ``bands``, ``(missing)`` for NULL).
    outcome : str
        Column of the decided amount.
    label : str, optional
        Column of the realised value; adds ``label_sum``, ``abs_error_sum`` and ``squared_error_sum``.
    control : str, optional
        Column of a legitimate factor (strata), banded like an attribute.
    bands : mapping, optional
        Band edges per numeric attribute or control.
    resolution : float, optional
        Round values half to even to this step (as numpy); None keeps the exact values.
    source : str, default "scored_leads"
        Table or view holding the rows.

    Returns
    -------
    str
        SQL that runs unchanged on DuckDB and Spark SQL; columns as :func:`~ethics.continuous.cells_table`.

    Raises
    ------
    ValidationError
        No attributes, or a bad resolution.
    """
    if resolution is not None and not (isinstance(resolution, int | float) and resolution > 0):
        raise ValidationError(BAD_SQL_RESOLUTION.format(resolution=resolution))
    keys = [*attributes, *([control] if control else [])]
    sums = ""
    if label:
        error = "(value - realised)"
        sums = (",\n    SUM(realised) AS label_sum,\n    SUM(ABS(" + error + ")) AS abs_error_sum,"
                "\n    SUM(" + error + " * " + error + ") AS squared_error_sum")
    return _template("continuous").format(
        source=source,
        groups=_groups(keys if attributes else (), bands),
        keys=", ".join(keys),
        outcome=outcome,
        realised=f"CAST({label} AS DOUBLE)" if label else "CAST(NULL AS DOUBLE)",
        value="raw_value" if resolution is None else half_even_sql("raw_value", resolution),
        sums=sums,
    )


def render_multiclass_sql(
    *,
    attributes: Sequence[str],
    labelled: bool = True,
    bands: Mapping[str, Sequence[float]] | None = None,
    source: str = "scored_leads",
) -> str:
    """The SQL of :func:`ethics.multiclass.multiclass_cells`: leads per (attributes, offer, label).

    Parameters
    ----------
    attributes : sequence of str
        Sensitive attributes.
    labelled : bool, default True
        Whether the rows carry ``label`` (the true best offer).
    bands : mapping, optional
        Band edges per numeric attribute.
    source : str, default "scored_leads"
        Table or view holding the rows (column ``offer``).

    Returns
    -------
    str
        SQL that runs unchanged on DuckDB and Spark SQL.  Offers are not checked against the
        model's: :func:`~ethics.multiclass.assess_multiclass_cells` refuses unknown ones.
    """
    return _template("multiclass").format(
        source=source,
        groups=_groups(attributes, bands),
        attributes=", ".join(attributes),
        label="CAST(label AS STRING)" if labelled else "CAST(NULL AS STRING)",
    )


def rank_band_sql(rank: str, *, exact: int) -> str:
    """:func:`ethics.ranking.rank_bands` in SQL: integer comparisons only, no logarithm to round."""
    whens = [f"WHEN {rank} <= {exact} THEN {rank}"]
    whens += [f"WHEN {rank} <= {exact * 2 ** (d + 1)} THEN {exact * 2 ** d + 1}" for d in range(RANK_DOUBLINGS)]
    return "CASE " + " ".join(whens) + f" ELSE {exact * 2 ** RANK_DOUBLINGS + 1} END"


def render_ranking_sql(
    *,
    attributes: Sequence[str],
    capacity: int | None = None,
    labelled: bool = True,
    lists: Sequence[str] = ("team", "batch"),
    order: str = "row_number",
    bands: Mapping[str, Sequence[float]] | None = None,
    exact_ranks: int = 64,
    source: str = "scored_leads",
) -> str:
    """The SQL of :func:`ethics.ranking.ranking_cells`: ranks by a window function, then the cells.

    Parameters
    ----------
    attributes : sequence of str
        Sensitive attributes.
    capacity : int, optional
        k for every list; None reads the rows' ``capacity`` column (one k per list).
    labelled : bool, default True
        Whether the rows carry ``label`` (0/1).
    lists : sequence of str, default ("team", "batch")
        Columns naming a list.
    order : str, default "row_number"
        Column (or expression) of the input order, breaking ties of ``score`` as the
        dashboard's stable sort does.
    bands : mapping, optional
        Band edges per numeric attribute.
    exact_ranks : int, default 64
        Ranks kept one by one (:data:`ethics.ranking.EXACT_RANKS`).
    source : str, default "scored_leads"
        Table or view holding the rows (``score``, the list columns, ``order``).

    Returns
    -------
    str
        SQL that runs unchanged on DuckDB and Spark SQL.

    Raises
    ------
    ValidationError
        No attributes, or a capacity that is not a whole number of at least 0.
    """
    if capacity is not None and (isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 0):
        raise ValidationError(BAD_SQL_CAPACITY.format(value=capacity))
    return _template("ranking").format(
        source=source,
        groups=_groups(attributes, bands),
        attributes=", ".join(attributes),
        lists=", ".join(lists),
        order=order,
        capacity="CAST(capacity AS BIGINT)" if capacity is None else f"CAST({capacity} AS BIGINT)",
        label="CAST(label AS INT)" if labelled else "CAST(NULL AS INT)",
        rank_band=rank_band_sql("rank", exact=int(exact_ranks)),
    )


RENDERERS = {"continuous": render_continuous_sql, "multiclass": render_multiclass_sql, "ranking": render_ranking_sql}


def render_cells_sql(kind: str, **options: Any) -> str:
    """The cells SQL of one outcome type: ``continuous``, ``multiclass`` or ``ranking``.

    Parameters
    ----------
    kind : str
        One of :data:`CELL_KINDS`.
    **options
        The keyword arguments of :func:`render_continuous_sql`, :func:`render_multiclass_sql`
        or :func:`render_ranking_sql`.

    Returns
    -------
    str

    Raises
    ------
    ValidationError
        An unknown kind, or as the renderer.
    """
    if kind not in RENDERERS:
        raise ValidationError(UNKNOWN_KIND.format(kind=kind, kinds=", ".join(CELL_KINDS)))
    return RENDERERS[kind](**options)


def cells_options(manifest: Mapping[str, Any], *, dataset: str) -> dict[str, Any]:
    """The cells renderer's options for a non-binary model version's manifest and one dataset kind.

    A ranking whose manifest gives k per team reads the rows' ``capacity`` column (one k
    per list): the SQL knows no team table.
    """
    outcome = outcome_of(dict(manifest))
    options: dict[str, Any] = {"attributes": sensitive_names(manifest),
                               "bands": {a["name"]: a["bands"] for a in manifest["sensitive_attributes"]
                                         if a.get("bands")}}
    labelled = dataset == "eval"
    if outcome == "continuous":
        return options | {"outcome": "score", "label": "label" if labelled else None,
                          "control": manifest.get("control"), "resolution": manifest.get("resolution")}
    if outcome == "multiclass":
        return options | {"labelled": labelled}
    capacity = manifest["ranking"]["capacity"]
    return options | {"labelled": labelled, "lists": manifest["ranking"]["lists"],
                      "capacity": capacity if isinstance(capacity, int) else None}


def render_outcome_sql(manifest: Mapping[str, Any], *, dataset: str, source: str = "scored_leads") -> str:
    """The cells SQL of a non-binary model version for one dataset kind, with its ``dataset`` column.

    What ``python -m ethics sql`` prints for such a model; its output imports with
    ``python -m ethics import aggregates`` (checked by :func:`ethics.outcomes.check_cells`).
    """
    inner = render_cells_sql(outcome_of(dict(manifest)), source=source, **cells_options(manifest, dataset=dataset))
    return f"SELECT '{_literal(dataset)}' AS dataset, cells.*\nFROM (\n{inner.rstrip().rstrip(';')}\n) AS cells\n"


def outcome_cells(
    paths: dict[str, Path], *, manifest: Mapping[str, Any], engine: str = "pandas", **options: Any
) -> pd.DataFrame:
    """The cells of a non-binary model's row files (``{"eval": path, "scores": path}``), with ``dataset``.

    ``pandas`` reads the rows and reduces them as a snapshot does (:func:`ethics.outcomes.row_cells`);
    ``duckdb`` streams Parquet through the same SQL a warehouse runs.
    """
    from ethics import outcomes
    from ethics.datasets import read_table

    if engine not in ENGINES:
        raise ValidationError(UNKNOWN_ENGINE.format(engine=engine, engines=", ".join(ENGINES)))
    parts = []
    for dataset, path in paths.items():
        if engine == "pandas":
            parts.append(outcomes.row_cells(read_table(Path(path)), manifest=manifest, kind=dataset))
        else:
            cells = duckdb_cells(outcome_of(dict(manifest)), path, **options,
                                 **cells_options(manifest, dataset=dataset))
            parts.append(cells.assign(dataset=dataset))
    return pd.concat(parts, ignore_index=True)


def duckdb_cells(
    kind: str,
    path: Path | str,
    *,
    memory_limit: str = DEFAULT_MEMORY_LIMIT,
    threads: int = DEFAULT_THREADS,
    temp_directory: Path | None = None,
    **options: Any,
) -> pd.DataFrame:
    """The cells of Parquet rows (a file or a glob), streamed by DuckDB in bounded memory.

    Parameters
    ----------
    kind : str
        One of :data:`CELL_KINDS`.
    path : Path or str
        A Parquet file or a glob of them.
    memory_limit : str, default "1GB"
    threads : int, default 2
    temp_directory : Path, optional
        Where DuckDB may spill.
    **options
        The renderer's keyword arguments (not ``source``).

    Returns
    -------
    DataFrame
        The cells, as the kind's pandas function gives them (row order aside).

    Raises
    ------
    ValidationError
        An unknown kind, or unreadable rows.
    """
    import duckdb

    sql = render_cells_sql(kind, source=_parquet(path), **options)
    with _duckdb(memory_limit=memory_limit, threads=threads, temp_directory=temp_directory) as connection:
        try:
            return connection.execute(sql).df()
        except duckdb.Error as exc:
            raise _unreadable(path, exc) from None


def _duckdb(*, memory_limit: str, threads: int, temp_directory: Path | None) -> Any:
    """An in-memory DuckDB connection bounded in memory and threads, spilling to ``temp_directory``."""
    import duckdb

    config = {"memory_limit": memory_limit, "threads": int(threads)}
    if temp_directory is not None:
        config["temp_directory"] = str(temp_directory)
    return duckdb.connect(config=config)


def _parquet(path: Path | str) -> str:
    """The DuckDB relation reading a Parquet file or glob."""
    return f"read_parquet('{_literal(str(path))}')"


def _unreadable(path: Path | str, exc: Exception) -> ValidationError:
    """A DuckDB error on the rows as the one message naming the file."""
    return ValidationError(SOURCE_MISSING.format(file=Path(path).name, reason=str(exc).splitlines()[0]))
