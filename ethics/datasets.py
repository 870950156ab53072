"""Evaluation sets (labelled rows) and scoring batches (current leads).

A file is read, checked completely and scored before anything is written; rows are
then stored as Parquet named by its SHA-256 under ``home/datasets`` and described by
one row in the database.  Row numbers in messages count data rows from 1 (the
header is not a row).

A feature's cell may be missing (empty) only when the version's model handles missing
values of that feature (the ``missing`` fact of its worker: every feature of LightGBM and
XGBoost, none of a linear model); scores-only models get every feature value.
In a CSV only the empty cell is missing: ``NA``, ``null``, ``NaN``, ``None`` and ``n/a``
are text, kept as typed in text columns (ids, sensitive attributes) and refused where a
number is expected.  Parquet's own nulls stay missing.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Collection
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from ethics import artifacts, audit, privacy, registry, store, teams
from ethics.errors import (
    CAPACITY_VARIES,
    CELL_FORMULA,
    CELL_MISSING,
    CELL_MISSING_NOT_HANDLED,
    CELL_NOT_CAPACITY,
    CELL_NOT_DATE,
    CELL_NOT_NUMBER,
    CELL_NOT_OFFER,
    COLUMN_EXTRA,
    COLUMN_MISSING,
    DATASET_EXISTS,
    DUPLICATE_LEAD,
    FILE_EMPTY,
    FILE_ENCODING,
    FILE_TYPE,
    FILE_UNREADABLE,
    LABEL_NOT_BINARY,
    MISSING_HANDLED_FOR,
    MISSING_HANDLED_NOWHERE,
    MISSING_SCORES_ONLY,
    NOT_FINITE,
    RANKING_NO_CAPACITY,
    SCORE_COMPUTED,
    SCORE_MISMATCH,
    SCORE_RANGE,
    TEAM_NO_CAPACITY,
    NotFound,
    ValidationError,
)
from ethics.id_codes import first_id_problem
from ethics.lazy import lazy_module
from ethics.manifest import (
    TEAM_NAME,
    TEAM_RULE,
    category_features,
    feature_names,
    input_attributes,
    outcome_of,
    sensitive_names,
)
from ethics.spreadsheet import FORMULA_PREFIXES, formula_start
from ethics.weeks import iso, parse_time, parse_week, utcnow

np = lazy_module("numpy", globals())
pd = lazy_module("pandas", globals())
pa = lazy_module("pyarrow", globals())
pq = lazy_module("pyarrow.parquet", globals())

DatasetKind = Literal["eval", "scores"]
KINDS: tuple[str, ...] = ("eval", "scores")
KIND_NAMES = {"eval": "evaluation set", "scores": "scoring batch", "aggregates": "aggregates"}
DATASETS_DIR = "datasets"
ID_COLUMNS = ("lead_id", "customer_id", "team")
OFFER_COLUMN = "offer"  # a multiclass model's chosen offer, as ethics.multiclass names it
CAPACITY_COLUMN = "capacity"  # a ranking's k per list, as ethics.ranking names it
SCORE_TOLERANCE = 1e-6
NOTHING_IMPORTED = "nothing was imported"
FUTURE_TOLERANCE = timedelta(minutes=5)  # clock skew between the scoring system and this one
# What spreadsheets and pandas write for "no value"; in a CSV they are text, never missing.
NULL_WORDS = frozenset({"na", "n/a", "#n/a", "#na", "<na>", "nan", "-nan", "null", "none", "nil", "nat"})
CELL_NULL_WORD = ("{file}, row {row}, column {column!r}: {value!r} is not a number; only an empty cell counts as "
                  "missing, and this column needs a number in every row.")
CELL_ATTRIBUTE_NOT_NUMBER = ("{file}, row {row}, column {column!r}: {value!r} is not a number, and the manifest gives "
                             "{column!r} band edges; leave the cell empty when the value is missing.")
CELL_BAD_ID = "{file}, row {row}, column {column!r}: {value!r} {problem}."
CELL_BAD_TEAM = "{file}, row {row}, column 'team': {value!r} is not a team name: {rule}."
#: The features whose missing values a model handles; called only when a feature's cell is empty.
MissingHandled = Callable[[], Collection[str]]


def import_dataset(
    db: store.Database,
    path: Path,
    *,
    kind: DatasetKind,
    model_id: str,
    version: str,
    week: str,
    home: Path,
    actor: str,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Import a CSV or Parquet file as an evaluation set or scoring batch.

    Parameters
    ----------
    db : Database
    path : Path
        ``.csv`` (UTF-8, header row) or ``.parquet``.
    kind : {"eval", "scores"}
        Evaluation set (needs ``label``) or scoring batch.
    model_id, version : str
        The registered model version the rows belong to.
    week : str
        ISO week such as ``2026-W48``.
    home : Path
        Data home; Parquet goes to ``home/datasets``.
    actor : str
    now : datetime, optional

    Returns
    -------
    dict
        The dataset row.

    Raises
    ------
    ValidationError
        Naming the file, row and column of the first problem; nothing is written.
    NotFound
        Unknown model or version.
    """
    path = Path(path)
    version_row = registry.get_version(db, model_id, version)
    week = parse_week(week)
    refuse_existing(db, file=path.name, kind=kind, model_id=model_id, version=version, week=week)
    raw = read_table(path)
    source_sha = artifacts.sha256_file(path)
    return _store(
        db, raw, file=path.name, source_sha=source_sha, kind=kind, version_row=version_row,
        week=week, home=home, actor=actor, now=now,
    )


def import_frame(
    db: store.Database,
    frame: pd.DataFrame,
    *,
    name: str,
    kind: DatasetKind,
    model_id: str,
    version: str,
    week: str,
    home: Path,
    actor: str,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Import rows already in memory (the demo, tests); same checks as a file."""
    version_row = registry.get_version(db, model_id, version)
    week = parse_week(week)
    refuse_existing(db, file=name, kind=kind, model_id=model_id, version=version, week=week)
    return _store(
        db, frame, file=name, source_sha=None, kind=kind, version_row=version_row,
        week=week, home=home, actor=actor, now=now,
    )


def read_table(path: Path) -> pd.DataFrame:
    """Read a CSV (UTF-8) or Parquet file; id-like text stays text."""
    suffix = path.suffix.lower()
    if suffix not in {".csv", ".parquet"}:
        raise ValidationError(FILE_TYPE.format(file=path.name, suffix=suffix))
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ValidationError(FILE_UNREADABLE.format(file=path.name, reason=exc.strerror)) from None
    if suffix == ".parquet":
        try:
            return pq.read_table(io.BytesIO(data)).to_pandas()
        except (pa.ArrowException, OSError) as exc:
            raise ValidationError(FILE_UNREADABLE.format(file=path.name, reason=exc)) from None
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        row = data.count(b"\n", 0, exc.start)
        raise ValidationError(
            FILE_ENCODING.format(file=path.name, position=exc.start) + f" First bad byte is in row {row}."
        ) from None
    if not data.strip():
        raise ValidationError(FILE_EMPTY.format(file=path.name))
    try:
        # The Arrow backend keeps integer columns with empty cells as nullable integers,
        # so validation can name the empty cell instead of failing on the cast.
        # Only the empty cell is missing: pandas' other null words (NA, null, NaN, None, n/a, ...)
        # would turn lead "NA" and customer "null" into missing ids.
        return pd.read_csv(
            io.BytesIO(data), engine="pyarrow", dtype_backend="pyarrow",
            dtype={c: "string" for c in ID_COLUMNS}, keep_default_na=False, na_values=[""],
        )
    except (ValueError, pa.ArrowException) as exc:
        raise ValidationError(FILE_UNREADABLE.format(file=path.name, reason=exc)) from None


def refuse_existing(db: store.Database, *, file: str, kind: str, model_id: str, version: str, week: str) -> None:
    """Refuse a second dataset of one kind for a version and week (datasets are immutable).

    Raises
    ------
    ValidationError
        Naming the file and the dataset already imported.
    """
    if kind not in KIND_NAMES:
        raise ValidationError(f"{file}: dataset kind {kind!r} is unknown; use {', '.join(KIND_NAMES)}.")
    found = store.list_rows(
        db, store.DATASETS, "model_id = ? and version = ? and kind = ? and week = ?",
        [model_id, version, kind, week],
    )
    if found:
        raise ValidationError(
            DATASET_EXISTS.format(
                file=file, kind=KIND_NAMES[kind], model_id=model_id, version=version,
                week=week, dataset_id=found[0]["id"],
            )
        )


def _store(
    db: store.Database,
    raw: pd.DataFrame,
    *,
    file: str,
    source_sha: str | None,
    kind: str,
    version_row: dict[str, Any],
    week: str,
    home: Path,
    actor: str,
    now: datetime | None,
) -> dict[str, Any]:
    manifest = version_row["manifest"]
    with registry.scorer_for(version_row, home=home, consequence=NOTHING_IMPORTED) as scorer:
        if scorer is not None:
            scorer.preload()  # the worker starts and parses the artifact while the rows are validated
        frame = validate_rows(raw, manifest=manifest, kind=kind, file=file, scored=scorer is None, now=now,
                              missing=missing_handled(scorer))
        computed = scorer.score(frame) if scorer is not None else None
    if computed is not None:
        _check_computed_scores(computed, file=file, version_row=version_row)
        if "score" in raw.columns:
            _check_reported_scores(frame["score"].to_numpy(), computed, file=file, version_row=version_row)
        frame["score"] = computed
    # Last check, after every other: the first pseudonym creates the key in the data home.
    frame["customer_id"] = privacy.pseudonymise_column(db, frame["customer_id"])
    privacy.refuse_erased(db, frame["customer_id"].tolist(), file=file)
    return store_frame(db, frame, file=file, source_sha=source_sha, kind=kind, version_row=version_row, week=week,
                       home=home, actor=actor, now=now, rows=len(frame))


def store_frame(
    db: store.Database,
    frame: pd.DataFrame,
    *,
    file: str,
    source_sha: str | None,
    kind: str,
    version_row: dict[str, Any],
    week: str,
    home: Path,
    actor: str,
    now: datetime | None,
    rows: int,
) -> dict[str, Any]:
    """Store a validated frame as Parquet named by its SHA-256 and record it (one transaction).

    ``rows`` is the number of leads the frame describes (its length, or for aggregates
    the leads they count).
    """
    sha, relative = write_parquet(frame, home=home)
    row = {
        "model_id": version_row["model_id"],
        "version": version_row["version"],
        "kind": kind,
        "week": week,
        "source_name": file,
        "source_sha256": source_sha or sha,
        "parquet_sha256": sha,
        "parquet_file": relative,
        "rows": rows,
        "columns_json": store.to_json(list(frame.columns)),
        "imported_at": iso(now or utcnow()),
        "imported_by": actor,
    }
    with store.transaction(db):
        dataset_id = db[store.DATASETS].insert(row).last_pk
        seen = (teams.record_model_teams(db, version_row["model_id"], frame["team"].dropna().unique(), actor=actor,
                                         now=now) if "team" in frame.columns else [])
        audit.record(db, audit.DatasetImported(actor, "dataset", str(dataset_id), kind=kind, week=week, rows=rows,
                                               parquet_sha256=sha, source=file, created=now),
                     records=[(store.DATASETS, dataset_id), *seen])
    return {"id": dataset_id, **row}


def write_parquet(frame: pd.DataFrame, *, home: Path, directory: str = DATASETS_DIR) -> tuple[str, str]:
    """Store rows as zstd Parquet named by its SHA-256 under ``home/directory``.

    Returns
    -------
    tuple of str
        The SHA-256 and the path relative to ``home``.
    """
    buffer = pa.BufferOutputStream()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), buffer, compression="zstd")
    payload = buffer.getvalue().to_pybytes()
    sha = artifacts.sha256_bytes(payload)
    relative = f"{directory}/{sha}.parquet"
    target = home / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        tmp = target.with_suffix(".part")
        tmp.write_bytes(payload)
        tmp.replace(target)
    return sha, relative


def missing_handled(scorer: artifacts.Scorer | None) -> MissingHandled | None:
    """The features whose missing values ``scorer``'s model handles, asked of its worker when first needed.

    None for a scores-only model: its rows must give every feature (nothing here knows how
    the system that scored them read a missing value).
    """
    if scorer is None:
        return None
    return lambda: frozenset(scorer.missing)


def validate_rows(
    raw: pd.DataFrame, *, manifest: dict[str, Any], kind: str, file: str, scored: bool,
    now: datetime | None = None, missing: MissingHandled | None = None,
) -> pd.DataFrame:
    """Check every row against the manifest and return the canonical frame.

    Parameters
    ----------
    raw : DataFrame
        The rows as read.
    manifest : dict
        The version's validated manifest.
    kind : {"eval", "scores"}
    file : str
        Name used in messages.
    scored : bool
        True when the file must carry the score (no artifact to compute it).
    now : datetime, optional
        A scoring batch's optional ``scored_at`` may not be later than this.
    missing : callable, optional
        The features whose missing values the model handles (:func:`missing_handled`); a
        feature's empty cell is refused unless it names the feature.

    Returns
    -------
    DataFrame
        Columns ``lead_id, customer_id, team, <features>, <sensitive>, [label], [score], [scored_at]``
        (``customer_id`` still as typed; the import pseudonymises it).
    """
    if raw.empty:
        raise ValidationError(FILE_EMPTY.format(file=file))
    if outcome_of(manifest) != "binary":
        return _validate_outcome_rows(raw, manifest=manifest, kind=kind, file=file)
    features = feature_names(manifest)
    sensitive = _attribute_only(manifest)
    required = [*ID_COLUMNS, *features, *sensitive, *(["label"] if kind == "eval" else [])]
    if scored:
        required.append("score")
    allowed = set(required) | {"score"} | ({"scored_at"} if kind == "scores" else set())
    out = _identified_rows(raw, manifest=manifest, required=required, allowed=allowed, file=file, missing=missing)
    bands = _bands(manifest)
    for column in sensitive:
        out[column] = _attribute_column(raw[column], file=file, column=column, banded=column in bands)
    if kind == "eval":
        out["label"] = _label_column(raw["label"], file=file)
    if "score" in raw.columns:
        out["score"] = _score_column(raw["score"], file=file)
    if "scored_at" in raw.columns:
        out["scored_at"] = _time_column(raw["scored_at"], file=file, column="scored_at", now=now or utcnow())
    return out


def _validate_outcome_rows(raw: pd.DataFrame, *, manifest: dict[str, Any], kind: str, file: str) -> pd.DataFrame:
    """A continuous, multiclass or ranking model's rows (scores only: no artifact computes them).

    continuous: ``score`` is the amount the model gave (any real number), ``label`` the realised amount,
    and the manifest's ``control`` column (when named) is carried like a sensitive attribute.
    multiclass: ``offer`` is the offer made and ``label`` the true best offer, each one of the manifest's classes.
    ranking: ``score`` orders the list as for a binary model, ``capacity`` gives k per list (required when the
    manifest gives none), and a ``scored_on`` date keys the lists when the manifest's lists name it.
    """
    outcome = outcome_of(manifest)
    features = feature_names(manifest)
    sensitive = _attribute_only(manifest)
    if outcome == "continuous":
        extra = ["score", *([manifest["control"]] if manifest["control"] else [])]
    elif outcome == "multiclass":
        extra = [OFFER_COLUMN]
    else:
        extra = ["score", *(["scored_on"] if "scored_on" in manifest["ranking"]["lists"] else [])]
    required = [*ID_COLUMNS, *features, *sensitive, *extra, *(["label"] if kind == "eval" else [])]
    if outcome == "ranking" and manifest["ranking"]["capacity"] is None and CAPACITY_COLUMN not in raw.columns:
        raise ValidationError(RANKING_NO_CAPACITY.format(file=file))
    allowed = set(required) | ({CAPACITY_COLUMN} if outcome == "ranking" else set())
    out = _identified_rows(raw, manifest=manifest, required=required, allowed=allowed, file=file)
    attributes = [*sensitive, *([manifest["control"]] if outcome == "continuous" and manifest["control"] else [])]
    bands = _bands(manifest)
    for column in attributes:
        out[column] = _attribute_column(raw[column], file=file, column=column, banded=column in bands)
    if outcome == "continuous":
        if kind == "eval":
            out["label"] = _number_column(raw["label"], file=file, column="label")
        out["score"] = _number_column(raw["score"], file=file, column="score")
    elif outcome == "multiclass":
        offers = [entry["name"] for entry in manifest["classes"]]
        if kind == "eval":
            out["label"] = _offer_column(raw["label"], file=file, column="label", offers=offers)
        out[OFFER_COLUMN] = _offer_column(raw[OFFER_COLUMN], file=file, column=OFFER_COLUMN, offers=offers)
    else:
        if kind == "eval":
            out["label"] = _label_column(raw["label"], file=file)
        out["score"] = _score_column(raw["score"], file=file)
        if "scored_on" in raw.columns:
            out["scored_on"] = _date_column(raw["scored_on"], file=file, column="scored_on")
        if CAPACITY_COLUMN in raw.columns:
            out[CAPACITY_COLUMN] = _capacity_column(raw[CAPACITY_COLUMN], file=file)
        _check_list_capacities(out, ranking=manifest["ranking"], file=file)
    return out


def _check_list_capacities(out: pd.DataFrame, *, ranking: dict[str, Any], file: str) -> None:
    """One k per call list, and a k for every list: from the rows, else from the manifest."""
    if CAPACITY_COLUMN in out.columns:
        keys = out[ranking["lists"]].astype(str).agg(" ".join, axis=1)
        varies = out.groupby(keys, sort=False)[CAPACITY_COLUMN].nunique()
        if (varies > 1).any():
            name = varies.index[int(np.argmax((varies > 1).to_numpy()))]
            rows = np.flatnonzero((keys == name).to_numpy())
            values = sorted(out[CAPACITY_COLUMN].iloc[rows].unique().tolist())
            raise ValidationError(CAPACITY_VARIES.format(file=file, rows=", ".join(str(_row(r)) for r in rows[:5]),
                                                         list=name, values=", ".join(map(str, values))))
        return
    per_team = ranking["capacity"]
    if isinstance(per_team, dict):
        unknown = ~out["team"].isin(list(per_team)).to_numpy(dtype=bool)
        if unknown.any():
            position = int(np.argmax(unknown))
            team = out["team"].iloc[position]
            raise ValidationError(TEAM_NO_CAPACITY.format(file=file, row=_row(position), team=team,
                                                          teams=", ".join(per_team)))


def _identified_rows(
    raw: pd.DataFrame, *, manifest: dict[str, Any], required: list[str], allowed: set[str], file: str,
    missing: MissingHandled | None = None,
) -> pd.DataFrame:
    """The columns every outcome checks the same way: none missing or unexpected, the ids, unique leads, features.

    A feature's empty cell is kept as missing (NaN, or None for text) when ``missing()`` names the feature.
    """
    for column in required:
        if column not in raw.columns:
            raise ValidationError(COLUMN_MISSING.format(file=file, column=column))
    for column in raw.columns:
        if column not in allowed:
            raise ValidationError(
                COLUMN_EXTRA.format(file=file, column=column, model_id=manifest["id"], version=manifest["version"])
            )
    out = pd.DataFrame(index=pd.RangeIndex(len(raw)))
    for column in ID_COLUMNS:
        out[column] = _id_column(raw[column], file=file, column=column)
    _refuse_duplicates(out["lead_id"], file=file)
    text = set(category_features(manifest))
    for column in feature_names(manifest):
        empty = _empty_cells(raw[column])
        if empty.any():
            _refuse_unhandled_missing(column, position=int(np.argmax(empty)), missing=missing, file=file)
        if column in text:
            out[column] = _text_column(raw[column], file=file, column=column, required=False)
        else:
            out[column] = _number_column(raw[column], file=file, column=column, missing_ok=True)
    return out


def _empty_cells(values: pd.Series) -> np.ndarray:
    """Missing cells: nulls and empty (or blank) text; a typed ``NaN`` in a number column is a value, not missing."""
    empty = values.isna().to_numpy(dtype=bool)
    if not pd.api.types.is_numeric_dtype(values):
        empty = empty | (values.astype("string").str.strip() == "").fillna(True).to_numpy(dtype=bool)
    return empty


def _refuse_unhandled_missing(column: str, *, position: int, missing: MissingHandled | None, file: str) -> None:
    handled = None if missing is None else missing()
    if handled is not None and column in handled:
        return
    if handled is None:
        reason = MISSING_SCORES_ONLY
    elif handled:
        reason = MISSING_HANDLED_FOR.format(features=", ".join(sorted(handled)))
    else:
        reason = MISSING_HANDLED_NOWHERE
    raise ValidationError(CELL_MISSING_NOT_HANDLED.format(file=file, row=_row(position), column=column,
                                                          reason=reason))


def _attribute_only(manifest: dict[str, Any]) -> list[str]:
    """The sensitive attributes that are not also model inputs.

    An attribute the model reads (an age) is one column, required once and stored in its
    feature form (a number, or text for a category): the model needs that form, and
    fairness groups numbers and text alike (bands need numbers, which the manifest ensures).
    """
    inputs = set(input_attributes(manifest))
    return [name for name in sensitive_names(manifest) if name not in inputs]


def _bands(manifest: dict[str, Any]) -> set[str]:
    """The sensitive attributes the manifest gives band edges (numbers, grouped into bands)."""
    return {a["name"] for a in manifest["sensitive_attributes"] if a.get("bands")}


def _id_column(values: pd.Series, *, file: str, column: str) -> pd.Series:
    """Lead, customer and team ids: present, no formula, no hidden or look-alike characters; teams as team names."""
    text = _text_column(values, file=file, column=column, required=True)
    if (found := first_id_problem(text)) is not None:
        position, problem = found
        raise ValidationError(CELL_BAD_ID.format(file=file, row=_row(position), column=column,
                                                 value=text.iloc[position], problem=problem))
    if column == "team":
        bad = ~text.str.fullmatch(TEAM_NAME.pattern).to_numpy(dtype=bool)
        if bad.any():
            position = int(np.argmax(bad))
            raise ValidationError(CELL_BAD_TEAM.format(file=file, row=_row(position), value=text.iloc[position],
                                                       rule=TEAM_RULE))
    return text


def _attribute_column(values: pd.Series, *, file: str, column: str, banded: bool = False) -> np.ndarray | pd.Series:
    """A sensitive attribute (or a continuous model's control): numbers stay numbers, anything else is text.

    Numbers must be finite; an attribute with band edges must be numbers, empty cells missing.
    """
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    if not numeric and not banded:
        return _text_column(values, file=file, column=column, required=False)
    missing = values.isna().to_numpy(dtype=bool)
    if not numeric:
        text = values.astype("string").str.strip()
        missing = (text.isna() | (text == "")).to_numpy(dtype=bool)
        values = pd.Series(pd.to_numeric(text.where(~pd.Series(missing, index=text.index)), errors="coerce"),
                           index=text.index)
        original = text
    else:
        original = values
    numbers = values.to_numpy(dtype="float64", na_value=np.nan)
    bad = ~missing & ~np.isfinite(numbers)
    if bad.any():
        position = int(np.argmax(bad))
        message = CELL_ATTRIBUTE_NOT_NUMBER if banded else CELL_NOT_NUMBER
        raise ValidationError(message.format(file=file, row=_row(position), column=column,
                                             value=_plain(original.iloc[position])))
    return numbers


def _offer_column(values: pd.Series, *, file: str, column: str, offers: list[str]) -> pd.Series:
    text = _text_column(values, file=file, column=column, required=True)
    bad = ~text.isin(offers).to_numpy(dtype=bool)
    if bad.any():
        position = int(np.argmax(bad))
        raise ValidationError(CELL_NOT_OFFER.format(file=file, row=_row(position), column=column,
                                                    value=text.iloc[position], offers=", ".join(offers)))
    return text


def _capacity_column(values: pd.Series, *, file: str) -> pd.Series:
    numbers = _number_column(values, file=file, column=CAPACITY_COLUMN)
    bad = ((numbers < 1) | (numbers != np.floor(numbers))).to_numpy()
    if bad.any():
        position = int(np.argmax(bad))
        raise ValidationError(CELL_NOT_CAPACITY.format(file=file, row=_row(position),
                                                       value=_plain(values.iloc[position])))
    return numbers.astype("int64")


def _date_column(values: pd.Series, *, file: str, column: str) -> pd.Series:
    text = _text_column(values, file=file, column=column, required=True)
    for position, value in enumerate(text.tolist()):
        try:
            date.fromisoformat(value)
        except ValueError:
            raise ValidationError(CELL_NOT_DATE.format(file=file, row=_row(position), column=column,
                                                       value=value)) from None
    return text


def _time_column(values: pd.Series, *, file: str, column: str, now: datetime) -> pd.Series:
    """UTC timestamps; text without an offset is read as UTC; empty, unparsable and future cells are refused."""
    parsed = [None if pd.isna(v) or str(v).strip() == "" else parse_time(v) for v in values.tolist()]
    for position, (value, moment) in enumerate(zip(values.tolist(), parsed, strict=True)):
        if moment is None:
            if pd.isna(value) or str(value).strip() == "":
                raise ValidationError(CELL_MISSING.format(file=file, row=_row(position), column=column))
            raise ValidationError(f"{file}, row {_row(position)}, column {column!r}: {_plain(value)!r} is not a "
                                  "date and time such as 2026-11-20T14:05:00Z.")
        if moment > now + FUTURE_TOLERANCE:
            raise ValidationError(f"{file}, row {_row(position)}, column {column!r}: {_plain(value)!r} is in the "
                                  f"future (now is {iso(now)}).")
    return pd.Series(pd.to_datetime(parsed, utc=True), index=values.index)


def _row(position: int) -> int:
    return int(position) + 1


def _plain(value: Any) -> str:
    """A cell as the text a person typed, for messages (no numpy reprs)."""
    value = value.item() if isinstance(value, np.generic) else value
    if isinstance(value, float) and np.isnan(value):
        return "NaN"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def _text_column(values: pd.Series, *, file: str, column: str, required: bool) -> pd.Series:
    text = values.astype("string").str.strip()
    missing = text.isna() | (text == "")
    if required and missing.any():
        raise ValidationError(CELL_MISSING.format(file=file, row=_row(np.argmax(missing.to_numpy())), column=column))
    first = text.str.slice(0, 1)
    # Phone numbers and plain numbers after + or - are data (spreadsheet.formula_start); exports neutralise them.
    for position in np.flatnonzero(first.isin(FORMULA_PREFIXES).fillna(False).to_numpy(dtype=bool)):
        value = text.iloc[int(position)]
        if (char := formula_start(value)) is not None:
            raise ValidationError(
                CELL_FORMULA.format(file=file, row=_row(int(position)), column=column, value=value, char=char)
            )
    return text.where(~missing, None)


def _number_column(values: pd.Series, *, file: str, column: str, missing_ok: bool = False) -> pd.Series:
    """Finite numbers; with ``missing_ok`` an empty cell is NaN (a feature whose missing values the model handles)."""
    if pd.api.types.is_bool_dtype(values):
        values = values.astype("int64")
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    bad = ~np.isfinite(numbers)
    if missing_ok and bad.any():
        bad &= ~_empty_cells(values)
    if bad.any():
        position = int(np.argmax(bad))
        original = values.iloc[position]
        # values.isna(): an Arrow NaN (a CSV's typed "NaN") is a value, not missing; numpy's NaN is missing.
        if values.isna().iloc[position] or str(original).strip() == "":
            raise ValidationError(CELL_MISSING.format(file=file, row=_row(position), column=column))
        plain = _plain(original).strip()
        message = CELL_NULL_WORD if plain.lower() in NULL_WORDS else CELL_NOT_NUMBER
        raise ValidationError(message.format(file=file, row=_row(position), column=column, value=plain))
    return pd.Series(numbers, index=values.index)


def _label_column(values: pd.Series, *, file: str) -> pd.Series:
    numbers = pd.Series(
        pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64", na_value=np.nan), index=values.index
    )
    bad = ~numbers.isin([0, 1]).to_numpy()
    if bad.any():
        position = int(np.argmax(bad))
        raise ValidationError(
            LABEL_NOT_BINARY.format(file=file, row=_row(position), value=_plain(values.iloc[position]))
        )
    return numbers.astype("int8")


def _score_column(values: pd.Series, *, file: str) -> pd.Series:
    numbers = _number_column(values, file=file, column="score")
    bad = ((numbers < 0) | (numbers > 1)).to_numpy()
    if bad.any():
        position = int(np.argmax(bad))
        raise ValidationError(SCORE_RANGE.format(file=file, row=_row(position), value=_plain(numbers.iloc[position])))
    return numbers


def _refuse_duplicates(lead_ids: pd.Series, *, file: str) -> None:
    duplicated = lead_ids.duplicated(keep=False).to_numpy()
    if duplicated.any():
        value = lead_ids.iloc[int(np.argmax(duplicated))]
        rows = np.flatnonzero((lead_ids == value).to_numpy())[:5]
        raise ValidationError(
            DUPLICATE_LEAD.format(file=file, rows=", ".join(str(_row(r)) for r in rows), value=value)
        )


def _check_computed_scores(computed: np.ndarray, *, file: str, version_row: dict[str, Any]) -> None:
    """Every score the artifact computed is a probability: finite and in [0, 1]."""
    bad = ~((computed >= 0) & (computed <= 1))  # NaN compares False: it is bad too
    if bad.any():
        position = int(np.argmax(bad))
        raise ValidationError(SCORE_COMPUTED.format(file=file, row=_row(position), value=float(computed[position]),
                                                    model_id=version_row["model_id"], version=version_row["version"]))


def refuse_non_finite(
    frame: pd.DataFrame, *, columns: list[str], dataset: dict[str, Any], missing: MissingHandled | None = None
) -> None:
    """A stored dataset's numbers must be finite before a snapshot reads them (rows stored before checks were).

    Text columns (category features) are not numbers and are skipped.  A missing value (NaN)
    is accepted only in a column that ``missing()`` names (the features whose missing values
    the model handles, :func:`missing_handled`); an infinite value never.

    Raises
    ------
    ValidationError
        Naming the dataset, its source file, the row and the column.
    """
    for column in columns:
        if column not in frame.columns or not pd.api.types.is_numeric_dtype(frame[column]):
            continue
        values = frame[column].to_numpy(dtype="float64", na_value=np.nan)
        bad = np.isinf(values)
        if np.isnan(values).any() and (missing is None or column not in missing()):
            bad |= np.isnan(values)
        if bad.any():
            position = int(np.argmax(bad))
            raise ValidationError(NOT_FINITE.format(dataset_id=dataset["id"], file=dataset["source_name"],
                                                    row=_row(position), column=column,
                                                    value=float(values[position])))


def _check_reported_scores(
    reported: np.ndarray, computed: np.ndarray, *, file: str, version_row: dict[str, Any]
) -> None:
    bad = np.abs(reported - computed) > SCORE_TOLERANCE
    if bad.any():
        position = int(np.argmax(bad))
        raise ValidationError(
            SCORE_MISMATCH.format(
                file=file, row=_row(position), value=float(reported[position]),
                computed=round(float(computed[position]), 6),
                model_id=version_row["model_id"], version=version_row["version"],
            )
        )


def list_datasets(
    db: store.Database, model_id: str, *, version: str | None = None, kind: str | None = None
) -> list[dict[str, Any]]:
    """A model's datasets, oldest week first."""
    clauses, args = ["model_id = ?"], [model_id]
    for column, value in (("version", version), ("kind", kind)):
        if value is not None:
            clauses.append(f"{column} = ?")
            args.append(value)
    return store.list_rows(db, store.DATASETS, " and ".join(clauses), args, order_by="week, id")


def find_dataset(db: store.Database, model_id: str, *, version: str, kind: str, week: str) -> dict[str, Any] | None:
    """The dataset of one kind for one version and week, or None."""
    found = list_datasets(db, model_id, version=version, kind=kind)
    return next((row for row in found if row["week"] == week), None)


def read_rows(dataset: dict[str, Any], *, home: Path) -> pd.DataFrame:
    """Load a stored dataset, checking its SHA-256 first.

    Raises
    ------
    NotFound
        When the Parquet file is missing or was changed after import.
    """
    path = home / dataset["parquet_file"]
    if not path.exists():
        raise NotFound(f"Dataset {dataset['id']}: file {path} is missing from the data home.")
    data = path.read_bytes()
    if artifacts.sha256_bytes(data) != dataset["parquet_sha256"]:
        raise NotFound(f"Dataset {dataset['id']}: file {path} was changed after import (SHA-256 differs).")
    return pq.read_table(io.BytesIO(data)).to_pandas()
