"""Sufficient statistics: what every verdict needs, computed where the data lives.

Fairness, performance, AUC bounds, calibration, score drift and consent coverage need
only counts.  The statistics of a dataset are one row per *cell*: a combination of the
sensitive attributes (already banded, missing as ``(missing)``), the sales team
(optional: it gives consent coverage per team), the consent state, the label,
whether the lead was selected at the model's threshold, and the score bin.  Every
grouping the dashboard shows (each attribute, every intersection) is a sum of
cells, so the statistics are small (a few thousand rows) however many leads were
scored, and the governance database stays small.

They are produced by an *engine* chosen per dataset: :func:`from_rows` (pandas, in
memory, the default), :func:`ethics.warehouse.duckdb_statistics` (DuckDB over Parquet
larger than memory), or the SQL of ``ethics/sql/statistics.sql`` run on Spark or a
warehouse.  All give the same table (tested); ``python -m ethics import aggregates``
validates and stores it like any other dataset.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from ethics import artifacts, datasets, outcomes, registry, store, text_cells
from ethics.errors import COLUMN_MISSING, FILE_EMPTY, ValidationError
from ethics.fairness import MISSING_GROUP, Grouping, band_names, binned_auc, groupings
from ethics.group_values import value_text
from ethics.lazy import lazy_module
from ethics.manifest import outcome_of, sensitive_names
from ethics.store import json_number
from ethics.weeks import parse_week

np = lazy_module("numpy", globals())
pd = lazy_module("pandas", globals())
pa = lazy_module("pyarrow", globals())
pq = lazy_module("pyarrow.parquet", globals())

KIND = "aggregates"
#: Equal-width score bins on [0, 1]; a score of exactly 1 is in the last bin.
BINS = 100
DATASET_KINDS = ("eval", "scores")
CONSENT_STATES = ("granted", "none", "withdrawn", "objected")
#: Columns after the sensitive attributes, in order (the attributes come second).
KEY_COLUMNS = ("team", "consent_status", "label", "selected", "score_bin")
VALUE_COLUMNS = ("leads", "score_sum", "dataset_leads", "threshold", "bins")
#: Columns an imported file may leave out: no teams, no consent states, or no score sums (bin middles are assumed).
OPTIONAL_COLUMNS = ("team", "consent_status", "score_sum")
#: Optional text keys, coded like the attributes when the rows carry them.
_TEXT_KEYS = ("team", "consent_status")
THRESHOLD_TOLERANCE = 1e-12
SUM_TOLERANCE = 1e-6
#: Cells of at most this many possible keys (or 4 per row) are counted with a bincount instead of sorted.
_DENSE_KEYS = 1 << 20

AGG_COLUMN_EXTRA = (
    "{file}: column {column!r} is not a column of the statistics of {model_id} {version} "
    "(expected dataset, {attributes}, team, consent_status, label, selected, score_bin, leads, score_sum, "
    "dataset_leads, threshold, bins)."
)
AGG_CELL = "{file}, row {row}, column {column!r}: {problem}."
AGG_THRESHOLD = (
    "{file}, row {row}, column 'threshold': {value!r} differs from the registered threshold {registered!r} "
    "of {model_id} {version}: the statistics were computed for another threshold."
)
AGG_TOTAL = (
    "{file}, column 'leads': the cells of dataset {dataset!r} add up to {total:,} leads but column "
    "'dataset_leads' says {declared:,}: the counts do not add up."
)
AGG_DUPLICATE = "{file}, rows {rows}: the same cell appears twice ({cell})."
NO_LEADS = "{file}: dataset {dataset!r} has no leads."
ATTRIBUTE_CLASH = "Sensitive attribute {name!r} has the name of a column of the statistics ({columns}); rename it."


def columns(attributes: Sequence[str]) -> list[str]:
    """The columns of the statistics, in order, for these sensitive attributes.

    Raises
    ------
    ValidationError
        An attribute has the name of another column (manifests reserve ``team`` and ``label``).
    """
    others = ("dataset", *KEY_COLUMNS, *VALUE_COLUMNS)
    for name in attributes:
        if name in others:
            raise ValidationError(ATTRIBUTE_CLASH.format(name=name, columns=", ".join(others)))
    return ["dataset", *attributes, *others[1:]]


def score_bins(scores: np.ndarray, *, bins: int = BINS) -> np.ndarray:
    """Bin of each score: ``floor(score * bins)``, with a score of 1 in the last bin (as the SQL does)."""
    return np.minimum(np.floor(np.asarray(scores, dtype=np.float64) * bins), bins - 1).astype(np.int64)


# -- the pandas engine -------------------------------------------------------------------------


def from_rows(
    frame: pd.DataFrame,
    *,
    attributes: Sequence[str],
    threshold: float,
    bands: dict[str, Sequence[float]] | None = None,
    dataset: str | None = None,
    bins: int = BINS,
    by_team: bool = False,
    coded: Sequence[Grouping] | None = None,
) -> pd.DataFrame:
    """The statistics of scored rows held in memory (the pandas engine).

    Parameters
    ----------
    frame : DataFrame
        Rows with ``score``, the sensitive attributes, and optionally ``label`` and
        ``consent_status``.
    attributes : sequence of str
        Sensitive attributes.
    threshold : float
        The model's decision threshold.
    bands : dict, optional
        Band edges of numeric attributes.
    dataset : {"eval", "scores"}, optional
        Kind of data; by default ``eval`` when the rows carry a label.
    bins : int, default BINS
    by_team : bool, default False
        Keep the rows' ``team`` as a key (consent coverage per team); fairness alone
        does not need it.
    coded : sequence of Grouping, optional
        The rows already coded by ``groupings(frame, attributes=attributes, bands=bands, intersections=False)``
        (:func:`ethics.fairness.assess` codes them once for the statistics and the AUC).

    Returns
    -------
    DataFrame
        One row per occupied cell, columns :func:`columns`, sorted by the key.
    """
    bands = bands or {}
    columns(attributes)  # refuses an attribute named like a key column before the names collide
    labelled = "label" in frame.columns
    dataset = dataset or ("eval" if labelled else "scores")
    # groupings() codes each attribute as the fairness module does (bands, missing last).
    if coded is None:
        coded = groupings(frame, attributes=attributes, bands=bands, intersections=False)
    scores = frame["score"].to_numpy(dtype=np.float64)
    parts: list[tuple[np.ndarray, int]] = [(g.codes, len(g.labels)) for g in coded]
    text_keys = [c for c in _TEXT_KEYS if c in frame.columns and (by_team or c != "team")]
    key_labels: dict[str, list[Any]] = {}
    for column in text_keys:  # missing values get the last code and come back as None
        codes, uniques = pd.factorize(frame[column].astype("string"), sort=True)
        key_labels[column] = [*map(str, uniques), None]
        parts.append((np.where(codes < 0, len(uniques), codes), len(key_labels[column])))
    if labelled:
        parts.append((frame["label"].to_numpy(dtype=np.int64), 2))
    parts += [((scores >= threshold).astype(np.int64), 2), (score_bins(scores, bins=bins), bins)]
    key = np.zeros(len(frame), dtype=np.int64)
    space = 1
    for codes, size in parts:
        key = key * size + codes
        space *= size
    if space <= max(4 * len(frame), _DENSE_KEYS) and key.min(initial=0) >= 0:
        # Few possible cells: count them in place (no sort); the same cells, counts and sums as np.unique gives.
        counted = np.bincount(key, minlength=space)
        present = np.flatnonzero(counted)
        leads = counted[present]
        score_sum = np.bincount(key, weights=scores, minlength=space)[present]
    else:
        present, inverse = np.unique(key, return_inverse=True)
        leads = np.bincount(inverse)
        score_sum = np.bincount(inverse, weights=scores)
    decoded = []
    for _, size in reversed(parts):
        present, code = np.divmod(present, size)
        decoded.append(code)
    decoded.reverse()
    out: dict[str, Any] = {"dataset": dataset}
    for grouping, codes in zip(coded, decoded, strict=False):
        out[grouping.name] = np.asarray(grouping.labels, dtype=object)[codes]
    position = len(coded)
    for column in _TEXT_KEYS:
        if column in key_labels:
            out[column] = np.asarray(key_labels[column], dtype=object)[decoded[position]]
            position += 1
        else:
            out[column] = None
    if labelled:
        out["label"] = decoded[position]
        position += 1
    else:
        out["label"] = None
    out |= {"selected": decoded[position], "score_bin": decoded[position + 1], "leads": leads,
            "score_sum": score_sum, "dataset_leads": int(len(frame)), "threshold": float(threshold), "bins": bins}
    return normalize(pd.DataFrame(out, index=pd.RangeIndex(len(leads))), attributes=attributes)


def normalize(statistics: pd.DataFrame, *, attributes: Sequence[str]) -> pd.DataFrame:
    """Canonical column order, types and row order, so that equal statistics compare equal."""
    out = pd.DataFrame(index=pd.RangeIndex(len(statistics)))
    for column in ("dataset", *attributes, *_TEXT_KEYS):
        values = statistics[column].astype("object")
        if column in attributes:  # a value as group_values writes it, whichever engine counted ("1.0" is "1")
            values = values.map(lambda value: value if value is None or pd.isna(value) else value_text(value))
        out[column] = values.where(values.notna(), None)
    out["label"] = pd.array(statistics["label"].to_numpy(dtype=np.float64, na_value=np.nan), dtype="Float64").astype(
        "Int64"
    )
    for column in ("selected", "score_bin", "leads", "dataset_leads", "bins"):
        out[column] = statistics[column].to_numpy(dtype=np.int64)
    for column in ("score_sum", "threshold"):
        out[column] = statistics[column].to_numpy(dtype=np.float64)
    out = out[columns(attributes)]
    key = ["dataset", *attributes, *KEY_COLUMNS]
    order = out[key].astype("string").fillna("\uffff")
    order["label"] = out["label"].fillna(-1)
    order[["selected", "score_bin"]] = out[["selected", "score_bin"]]
    return out.iloc[order.sort_values(key, kind="stable").index].reset_index(drop=True)


# -- reading the statistics ---------------------------------------------------------------------


def parts(statistics: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The statistics of each dataset kind present (``eval``, ``scores``).

    Statistics stored before the ``team`` key existed read as computed without teams.
    """
    statistics = statistics.assign(**{c: None for c in _TEXT_KEYS if c not in statistics.columns})
    return {
        kind: statistics[statistics["dataset"] == kind].reset_index(drop=True)
        for kind in DATASET_KINDS
        if (statistics["dataset"] == kind).any()
    }


def performance(statistics: pd.DataFrame) -> dict[str, Any]:
    """Accuracy, base and selection rate, and the AUC (binned estimate and bounds) of an evaluation set."""
    leads = statistics["leads"].to_numpy(dtype=np.float64)
    label = statistics["label"].to_numpy(dtype=np.float64, na_value=np.nan)
    selected = statistics["selected"].to_numpy(dtype=np.int64)
    total = leads.sum()
    order = statistics["score_bin"].to_numpy(dtype=np.int64) * 2 + selected
    low, high = binned_auc(np.zeros(len(leads), dtype=np.int64), order, label, leads, groups=1)[:, 0]
    return {
        "rows": int(total),
        "accuracy": json_number((leads * (label == selected)).sum() / total),
        "auc": json_number((low + high) / 2),
        "auc_bounds": [json_number(low), json_number(high)],
        "base_rate": json_number((leads * (label == 1)).sum() / total),
        "selection_rate": json_number((leads * selected).sum() / total),
        "calibration": calibration(statistics),
    }


def calibration(statistics: pd.DataFrame, *, bands: int = 10) -> list[dict[str, Any]]:
    """Mean score against the observed positive rate in ``bands`` equal-width score bands."""
    band = statistics["score_bin"].to_numpy(dtype=np.int64) * bands // int(statistics["bins"].iloc[0])
    leads = statistics["leads"].to_numpy(dtype=np.float64)
    positives = leads * (statistics["label"].to_numpy(dtype=np.float64, na_value=0) == 1)
    rows = []
    for index in range(bands):
        inside = band == index
        count = leads[inside].sum()
        if count:
            rows.append({
                "band": f"{index / bands:.1f}-{(index + 1) / bands:.1f}",
                "rows": int(count),
                "mean_score": json_number(statistics["score_sum"].to_numpy()[inside].sum() / count),
                "observed_rate": json_number(positives[inside].sum() / count),
            })
    return rows


def scoring(statistics: pd.DataFrame) -> dict[str, Any]:
    """Rows, mean score and selection rate of a scoring batch."""
    leads = statistics["leads"].to_numpy(dtype=np.float64)
    total = leads.sum()
    return {
        "rows": int(total),
        "mean_score": json_number(statistics["score_sum"].sum() / total),
        "selection_rate": json_number((leads * statistics["selected"].to_numpy()).sum() / total),
    }


def histogram(statistics: pd.DataFrame) -> np.ndarray:
    """Leads per score bin (the fixed bins), for drift."""
    bins = int(statistics["bins"].iloc[0])
    return np.bincount(statistics["score_bin"].to_numpy(dtype=np.int64),
                       weights=statistics["leads"].to_numpy(dtype=np.float64), minlength=bins)


def consent_coverage(statistics: pd.DataFrame, *, purpose: str) -> dict[str, Any] | None:
    """A scoring batch's consent coverage from its statistics, in the shape of ``results["consent"]``.

    ``by_team`` comes from the cells' ``team`` (empty when the statistics were computed
    without it).  The cells hold no customer, so ``human_routing`` (a count of
    customers) is None; fairness on consented rows needs the rows.  None when the cells
    carry no consent state.
    """
    if statistics["consent_status"].isna().all():
        return None
    by_team = []
    if statistics["team"].notna().any():
        by_team = [{"team": None if pd.isna(team) else team, **_coverage_counts(part)}
                   for team, part in statistics.groupby("team", dropna=False, sort=True)]
    counts = _coverage_counts(statistics)
    return {"purpose": purpose, **counts, "by_team": by_team, "violations": counts["without_consent"],
            "human_routing": None, "source": "aggregates"}


def _coverage_counts(cells: pd.DataFrame) -> dict[str, Any]:
    """``scored, covered, coverage, without_consent, after_withdrawal, after_objection`` of some cells."""
    leads = cells.groupby("consent_status")["leads"].sum()
    scored = int(cells["leads"].sum())
    covered = int(leads.get("granted", 0))
    return {"scored": scored, "covered": covered, "coverage": json_number(covered / scored) if scored else None,
            "without_consent": scored - covered, "after_withdrawal": int(leads.get("withdrawn", 0)),
            "after_objection": int(leads.get("objected", 0))}


def consent_counts(statistics: pd.DataFrame, *, attributes: Sequence[str]) -> list[dict[str, Any]]:
    """Leads by consent state for each group of each sensitive attribute (empty without consent states).

    Returns
    -------
    list of dict
        ``{"attribute", "group", "granted", "none", "withdrawn", "objected", "not_recorded"}``.
    """
    if statistics["consent_status"].isna().all():
        return []
    state = statistics["consent_status"].fillna("not_recorded")
    rows = []
    for attribute in attributes:
        table = statistics.assign(state=state).pivot_table(
            index=attribute, columns="state", values="leads", aggfunc="sum", fill_value=0
        )
        for group, counts in table.iterrows():
            rows.append({"attribute": attribute, "group": group,
                         **{s: int(counts.get(s, 0)) for s in (*CONSENT_STATES, "not_recorded")}})
    return rows


# -- validation and import ----------------------------------------------------------------------


def validate(raw: pd.DataFrame, *, manifest: dict[str, Any], threshold: float, file: str) -> pd.DataFrame:
    """Check imported statistics against the model version and return them canonical.

    Parameters
    ----------
    raw : DataFrame
        The statistics as read from CSV or Parquet.
    manifest : dict
        The version's manifest (sensitive attributes and their bands).
    threshold : float
        The registered decision threshold.
    file : str
        Name used in messages.

    Returns
    -------
    DataFrame
        The statistics, normalised.

    Raises
    ------
    ValidationError
        Naming the file, row and column of the first problem: missing or unknown columns,
        unknown datasets, groups or consent states, missing or out-of-range bins, negative
        counts, totals that do not add up, another threshold or bin count, duplicate cells.
    """
    if raw.empty:
        raise ValidationError(FILE_EMPTY.format(file=file))
    attributes = sensitive_names(manifest)
    _check_columns(raw, manifest=manifest, file=file)
    raw = raw.reset_index(drop=True)
    text_cells.refuse_bad_cells(raw, file=file)
    text = _text_columns(raw, manifest=manifest, file=file)
    numbers = _number_columns(raw, file=file)
    _check_cells(numbers, eval_rows=(text["dataset"] == "eval").to_numpy(dtype=bool), threshold=threshold,
                 manifest=manifest, file=file)
    frame = raw.assign(**text, **numbers)
    frame["label"] = np.where(frame["dataset"] == "eval", numbers["label"], np.nan)
    for column in _TEXT_KEYS:
        if column not in frame.columns:
            frame[column] = None
    if "score_sum" not in frame.columns:
        frame["score_sum"] = (numbers["score_bin"] + 0.5) / BINS * numbers["leads"]
    _check_duplicates(frame, key=["dataset", *attributes, *KEY_COLUMNS], file=file)
    _check_totals(frame, file=file)
    return normalize(frame, attributes=attributes)


def _fail(file: str, position: int, column: str, problem: str) -> ValidationError:
    return ValidationError(AGG_CELL.format(file=file, row=int(position) + 1, column=column, problem=problem))


def _first(mask: Any) -> int | None:
    """Position of the first true value, or None."""
    mask = np.asarray(mask, dtype=bool)
    return int(np.argmax(mask)) if mask.any() else None


def _check_columns(raw: pd.DataFrame, *, manifest: dict[str, Any], file: str) -> None:
    attributes = sensitive_names(manifest)
    expected = columns(attributes)
    for column in expected:
        if column not in raw.columns and column not in OPTIONAL_COLUMNS:
            raise ValidationError(COLUMN_MISSING.format(file=file, column=column))
    for column in raw.columns:
        if column not in expected:
            raise ValidationError(AGG_COLUMN_EXTRA.format(
                file=file, column=column, model_id=manifest["id"], version=manifest["version"],
                attributes=", ".join(attributes) or "no sensitive attributes"))


def _text_columns(raw: pd.DataFrame, *, manifest: dict[str, Any], file: str) -> dict[str, pd.Series]:
    """Dataset kinds, group labels (known bands), teams and consent states, checked (their text by ``text_cells``)."""
    dataset = raw["dataset"].astype("string")
    if (bad := _first(~dataset.isin(DATASET_KINDS).fillna(False))) is not None:
        raise _fail(file, bad, "dataset", f"{raw['dataset'].iloc[bad]!r} is not eval or scores")
    out = {"dataset": dataset}
    bands = {a["name"]: a["bands"] for a in manifest["sensitive_attributes"] if a.get("bands")}
    for attribute in sensitive_names(manifest):
        values = raw[attribute].astype("string").str.strip()
        if (bad := _first((values.isna() | (values == "")).to_numpy())) is not None:
            raise _fail(file, bad, attribute, f"group is missing (write {MISSING_GROUP!r} for leads without a value)")
        if attribute in bands:
            known = [*band_names(bands[attribute]), MISSING_GROUP]
            if (bad := _first(~values.isin(known))) is not None:
                raise _fail(file, bad, attribute, f"unknown group {values.iloc[bad]!r}; the bands of {attribute!r} "
                                                  f"are {', '.join(known)}")
        out[attribute] = values
    if "team" in raw.columns:
        team = raw["team"].astype("string").str.strip().replace("", pd.NA)
        out["team"] = team
    if "consent_status" in raw.columns:
        consent = raw["consent_status"].astype("string")
        if (bad := _first(consent.notna() & ~consent.isin(CONSENT_STATES).fillna(False))) is not None:
            raise _fail(file, bad, "consent_status", f"{consent.iloc[bad]!r} is not one of "
                                                     f"{', '.join(CONSENT_STATES)} (or empty)")
    return out


def _number_columns(raw: pd.DataFrame, *, file: str) -> dict[str, np.ndarray]:
    """The numeric columns as floats: present, whole counts and bins in range."""
    numbers = {}
    for column in ("label", "selected", "score_bin", "leads", "dataset_leads", "threshold", "bins", "score_sum"):
        if column not in raw.columns:
            continue
        values = pd.to_numeric(raw[column], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        if column != "label" and (bad := _first(~np.isfinite(values))) is not None:
            what = "score bin is missing" if column == "score_bin" else "value is missing or not a number"
            raise _fail(file, bad, column, what)
        numbers[column] = values
    if (bad := _first(numbers["bins"] != BINS)) is not None:
        raise _fail(file, bad, "bins", f"{_plain(numbers['bins'][bad])} score bins; the statistics use {BINS} "
                                       "equal-width bins on [0, 1] (render the SQL with `python -m ethics sql`)")
    score_bin = numbers["score_bin"]
    if (bad := _first((score_bin != np.floor(score_bin)) | (score_bin < 0) | (score_bin >= BINS))) is not None:
        raise _fail(file, bad, "score_bin", f"{_plain(score_bin[bad])} is not a bin between 0 and {BINS - 1}")
    for column in ("leads", "dataset_leads"):
        values = numbers[column]
        if (bad := _first((values < 0) | (values != np.floor(values)))) is not None:
            raise _fail(file, bad, column, f"{_plain(values[bad])} is not a count (a whole number, 0 or more)")
    if (bad := _first(~np.isin(numbers["selected"], (0, 1)))) is not None:
        raise _fail(file, bad, "selected", f"{_plain(numbers['selected'][bad])} is not 0 or 1")
    return numbers


def _check_cells(
    numbers: dict[str, np.ndarray], *, eval_rows: np.ndarray, threshold: float, manifest: dict[str, Any], file: str
) -> None:
    """The registered threshold, labels where they belong, and cells that agree with their bin."""
    if (bad := _first(np.abs(numbers["threshold"] - threshold) > THRESHOLD_TOLERANCE)) is not None:
        raise ValidationError(AGG_THRESHOLD.format(
            file=file, row=bad + 1, value=float(numbers["threshold"][bad]), registered=threshold,
            model_id=manifest["id"], version=manifest["version"]))
    label = numbers["label"]
    if (bad := _first(eval_rows & ~np.isin(label, (0, 1)))) is not None:
        raise _fail(file, bad, "label", f"{_plain(label[bad])} is not 0 or 1 (evaluation sets are labelled)")
    if (bad := _first(~eval_rows & ~np.isnan(label))) is not None:
        raise _fail(file, bad, "label", "a scoring batch has no labels; leave it empty")
    # A bin wholly on one side of the threshold cannot hold the other side's leads.
    score_bin, selected, leads = numbers["score_bin"], numbers["selected"], numbers["leads"]
    low, high = score_bin / BINS, (score_bin + 1) / BINS
    wrong = ((selected == 1) & (high <= threshold) & (score_bin < BINS - 1)) | ((selected == 0) & (low >= threshold))
    if (bad := _first(wrong)) is not None:
        side = "selected" if selected[bad] == 1 else "not selected"
        raise _fail(file, bad, "selected", f"leads in score bin {int(score_bin[bad])} ([{low[bad]:g}, "
                                           f"{high[bad]:g})) cannot be {side} at threshold {threshold:g}")
    if "score_sum" in numbers:
        sums = numbers["score_sum"]
        slack = SUM_TOLERANCE * np.maximum(leads, 1)
        if (bad := _first((sums < low * leads - slack) | (sums > np.minimum(high, 1) * leads + slack))) is not None:
            raise _fail(file, bad, "score_sum", f"{sums[bad]!r} is not a sum of {int(leads[bad])} scores in bin "
                                                f"{int(score_bin[bad])}")


def _check_duplicates(frame: pd.DataFrame, *, key: list[str], file: str) -> None:
    cells = frame[key].astype("string").fillna("")
    if (bad := _first(cells.duplicated(keep=False).to_numpy())) is not None:
        same = np.flatnonzero((cells == cells.iloc[bad]).all(axis=1).to_numpy())[:5]
        values = {c: frame[c].iloc[bad] for c in key}
        cell = ", ".join(f"{c}={_plain(v) if isinstance(v, float) else v}" for c, v in values.items() if pd.notna(v))
        raise ValidationError(AGG_DUPLICATE.format(file=file, rows=", ".join(str(r + 1) for r in same), cell=cell))


def _check_totals(frame: pd.DataFrame, *, file: str) -> None:
    """Each dataset's cells add up to the leads it declares, and there are some."""
    for dataset, part in frame.groupby("dataset"):
        total, declared = int(part["leads"].sum()), part["dataset_leads"].unique()
        if len(declared) > 1 or total != int(declared[0]):
            raise ValidationError(AGG_TOTAL.format(file=file, dataset=dataset, total=total, declared=int(declared[0])))
        if total == 0:
            raise ValidationError(NO_LEADS.format(file=file, dataset=dataset))


def _plain(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def import_aggregates(
    db: store.Database,
    path: Path,
    *,
    model_id: str,
    version: str,
    week: str,
    home: Path,
    actor: str,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Import the statistics of a week (the output of the SQL, as CSV or Parquet).

    Parameters
    ----------
    db : Database
    path : Path
        ``.csv`` or ``.parquet`` with the columns of :func:`columns`.
    model_id, version : str
        The registered model version.
    week : str
        ISO week.
    home : Path
        Data home; the canonical statistics are stored as Parquet under ``home/datasets``.
    actor : str
    now : datetime, optional

    Returns
    -------
    dict
        The dataset row (kind ``aggregates``; ``rows`` counts the leads described).

    Raises
    ------
    ValidationError
        Naming the file, row and column of the first problem; nothing is written.

    A continuous, multiclass or ranking model's statistics are its engine's cells
    (``outcomes.row_cells``; the SQL of ``python -m ethics sql``) with a ``dataset`` column
    and optional ``team`` and ``consent_status``; the engine checks them.
    """
    path = Path(path)
    version_row = registry.get_version(db, model_id, version)
    week = parse_week(week)
    datasets.refuse_existing(db, file=path.name, kind=KIND, model_id=model_id, version=version, week=week)
    raw = datasets.read_table(path)
    if outcome_of(version_row["manifest"]) != "binary":
        if raw.empty:
            raise ValidationError(FILE_EMPTY.format(file=path.name))
        cells = outcomes.check_cells(raw, manifest=version_row["manifest"], file=path.name)
        return datasets.store_frame(
            db, cells, file=path.name, source_sha=artifacts.sha256_file(path), kind=KIND, version_row=version_row,
            week=week, home=home, actor=actor, now=now, rows=int(pd.to_numeric(cells["leads"]).sum()))
    statistics = validate(raw, manifest=version_row["manifest"], threshold=version_row["threshold"], file=path.name)
    return datasets.store_frame(
        db, statistics, file=path.name, source_sha=artifacts.sha256_file(path), kind=KIND,
        version_row=version_row, week=week, home=home, actor=actor, now=now,
        rows=int(statistics.groupby("dataset")["dataset_leads"].first().sum()),
    )


def write_parquet(statistics: pd.DataFrame, path: Path) -> None:
    """Write statistics as Parquet (what the engines hand to ``import aggregates``)."""
    pq.write_table(pa.Table.from_pandas(statistics, preserve_index=False), path)
