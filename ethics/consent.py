"""Consent events: append-only records of what each customer allowed, and when.

The state of a customer for a purpose at a moment is the status of their latest
event (by event time, not import order) at or before that moment; it is derived
from the events and never stored.  Two events at the same second resolve to the
stricter one (objected > withdrawn > granted).

Opting out of automated decisions (GDPR Art. 22) and objecting to profiling
(Art. 21) are both recorded as status ``objected``: on ``ai_scoring`` it is the
Art. 22 opt-out, on ``profiling`` the Art. 21 objection.  Either puts the customer
on the "route to a human" list.  A later ``granted`` lifts it.

A lead is *covered* when its customer's state for the model's consent purpose
(manifest ``consent_purpose``) was ``granted`` when it was scored.  Scoring time is
the batch's optional ``scored_at`` column, else the batch's import time: models with
an artifact are scored during the import, and scores-only batches were scored by
then at the latest.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ethics import aggregates, audit, datasets, privacy, spreadsheet, store, teams, text_cells
from ethics import policy as rules
from ethics.errors import ValidationError
from ethics.id_codes import IdCodes, id_problem, text_array
from ethics.lazy import lazy_module
from ethics.manifest import CONSENT_PURPOSES
from ethics.weeks import iso, parse_time, utcnow

np = lazy_module("numpy", globals())
pd = lazy_module("pandas", globals())
pa = lazy_module("pyarrow", globals())
pc = lazy_module("pyarrow.compute", globals())

STATUSES = ("granted", "withdrawn", "objected")
PURPOSES = CONSENT_PURPOSES  # defined beside the manifest, whose consent_purpose must be one of them
EVENT_FIELDS = ("event_id", "customer_id", "purpose", "status", "source", "occurred_at")
# Purposes whose objection takes the customer out of automated decisions (Art. 21/22).
OBJECTION_PURPOSES = ("ai_scoring", "profiling")
# Stricter statuses win ties at the same second.
_RANK = {status: rank for rank, status in enumerate(STATUSES)}
_NONE = -1
_CLOCK_SKEW = timedelta(minutes=5)
_CHUNK = 900  # SQLite host parameters per query

BAD_TIME = "{file}, row {row}, column 'occurred_at': {value!r} is not a date and time such as 2026-11-20T14:05:00Z."
FUTURE_TIME = "{file}, row {row}, column 'occurred_at': {value!r} is in the future (now is {now})."
DUPLICATE_EVENT = "{file}, rows {rows}, column 'event_id': event id {value!r} appears more than once."
EVENT_EXISTS = "{file}, row {row}, column 'event_id': event {value!r} was already imported; events are append-only."
NOT_ONE_OF = "{file}, row {row}, column {column!r}: {value!r} is not one of {allowed}."
MISSING = "{file}, row {row}, column {column!r}: value is missing."
BAD_ID = "{file}, row {row}, column {column!r}: {value!r} {problem}."
COLUMN_MISSING = "{file}: required column {column!r} is missing."


# -- import ----------------------------------------------------------------------------------


def record_events(
    db: store.Database,
    events: Iterable[Mapping[str, Any]],
    *,
    source_name: str,
    actor: str,
    now: datetime | None = None,
) -> int:
    """Append consent events after checking all of them.

    Customer ids are stored as pseudonyms (:func:`ethics.privacy.pseudonymise`) and
    event times as UTC.

    Parameters
    ----------
    db : Database
    events : iterable of mapping
        Each with ``event_id, customer_id, purpose, status, source, occurred_at``.
    source_name : str
        File or feed name used in messages.
    actor : str
        Who imports them (audited).
    now : datetime, optional
        Events later than this (plus five minutes of clock skew) are refused.

    Returns
    -------
    int
        Number of events appended.

    Raises
    ------
    ValidationError
        Naming the file, row and column of the first bad event; nothing is written:
        a missing value, an event or customer id with a control, invisible or look-alike
        character (:func:`ethics.id_codes.id_problem`), a source that starts a formula, holds a control or
        bidirectional character or is longer than :data:`ethics.text_cells.SHORT_TEXT` characters, an unknown
        purpose or status, an unparsable or future time,
        a duplicate event id (in the file or already imported), an erased customer.
    """
    moment = now or utcnow()
    stamp = iso(moment)
    rows: list[dict[str, Any]] = []
    for number, event in enumerate(events, start=1):
        values = {field: _cell(event.get(field)) for field in EVENT_FIELDS}
        for field in EVENT_FIELDS:
            if not values[field]:
                raise ValidationError(MISSING.format(file=source_name, row=number, column=field))
        for column in ("event_id", "customer_id"):
            if (problem := id_problem(values[column])) is not None:
                raise ValidationError(BAD_ID.format(file=source_name, row=number, column=column,
                                                    value=values[column], problem=problem))
        text_cells.refuse_bad_text(values["source"], file=source_name, row=number, column="source",
                                   most=text_cells.SHORT_TEXT)
        for column, allowed in (("purpose", PURPOSES), ("status", STATUSES)):
            if values[column] not in allowed:
                raise ValidationError(NOT_ONE_OF.format(file=source_name, row=number, column=column,
                                                        value=values[column], allowed=", ".join(allowed)))
        occurred = parse_time(event.get("occurred_at"))
        if occurred is None:
            raise ValidationError(BAD_TIME.format(file=source_name, row=number, value=values["occurred_at"]))
        if occurred > moment + _CLOCK_SKEW:
            raise ValidationError(FUTURE_TIME.format(file=source_name, row=number, value=values["occurred_at"],
                                                     now=stamp))
        rows.append({**values, "occurred_at": iso(occurred), "occurred_ts": int(occurred.timestamp()),
                     "imported_at": stamp})
    _refuse_duplicate_ids(db, [row["event_id"] for row in rows], file=source_name)
    pseudonyms = privacy.pseudonymise_all(db, [row["customer_id"] for row in rows])
    privacy.refuse_erased(db, pseudonyms, file=source_name)
    for row, pseudonym in zip(rows, pseudonyms, strict=True):
        row["customer_id"] = pseudonym
    columns = [*EVENT_FIELDS, "occurred_ts", "imported_at"]
    with store.transaction(db):
        # One prepared statement for every row: sqlite-utils' insert_all re-builds SQL per small batch.
        db.conn.executemany(
            f"insert into {store.CONSENT_EVENTS} ({', '.join(columns)}) values ({', '.join('?' * len(columns))})",
            ([row[c] for c in columns] for row in rows),
        )
        audit.record(db, audit.ConsentImported(actor, "consent_import", source_name, events=len(rows),
                                               source=source_name, created=now),
                     records=[(store.CONSENT_EVENTS, audit.inserted(db, len(rows)))])
    return len(rows)


def import_events(db: store.Database, path: Path, *, actor: str, now: datetime | None = None) -> int:
    """Append the consent events of a CSV or Parquet file (see :func:`record_events`).

    Raises
    ------
    ValidationError
        Unreadable file, missing column, or a bad row (named); nothing is written.
    """
    path = Path(path)
    frame = datasets.read_table(path)
    for column in EVENT_FIELDS:
        if column not in frame.columns:
            raise ValidationError(COLUMN_MISSING.format(file=path.name, column=column))
    extra = [c for c in frame.columns if c not in EVENT_FIELDS]
    if extra:
        raise ValidationError(f"{path.name}: column {extra[0]!r} is not one of {', '.join(EVENT_FIELDS)}; remove it "
                              "(unexpected columns may hold personal data).")
    columns = [frame[field].astype(object).where(frame[field].notna(), None).tolist() for field in EVENT_FIELDS]
    events = [dict(zip(EVENT_FIELDS, values, strict=True)) for values in zip(*columns, strict=True)]
    return record_events(db, events, source_name=path.name, actor=actor, now=now)


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return ""
    return str(value).strip()


def _refuse_duplicate_ids(db: store.Database, event_ids: list[str], *, file: str) -> None:
    seen: dict[str, int] = {}
    for number, event_id in enumerate(event_ids, start=1):
        if event_id in seen:
            raise ValidationError(DUPLICATE_EVENT.format(file=file, rows=f"{seen[event_id]}, {number}", value=event_id))
        seen[event_id] = number
    for start in range(0, len(event_ids), _CHUNK):
        chunk = event_ids[start:start + _CHUNK]
        found = db.execute(f"select event_id from {store.CONSENT_EVENTS} where event_id in "
                           f"({', '.join('?' * len(chunk))}) limit 1", chunk).fetchone()
        if found:
            raise ValidationError(EVENT_EXISTS.format(file=file, row=seen[found[0]], value=found[0]))


# -- state at a moment ----------------------------------------------------------------------

_RANK_SQL = "case status when 'objected' then 2 when 'withdrawn' then 1 else 0 end"


def status_at(db: store.Database, *, customer_id: str, purpose: str, at: str) -> dict[str, Any]:
    """The consent state of a customer for a purpose at a moment.

    Parameters
    ----------
    db : Database
    customer_id : str
        The id as stored in scoring data (the pseudonym; see :func:`ethics.privacy.pseudonymise`).
    purpose : str
    at : str
        ISO 8601 time; without an offset it is read as UTC.

    Returns
    -------
    dict
        ``{"status": "granted"|"withdrawn"|"objected"|"none", "since": str | None, "source": str | None}``.
    """
    moment = parse_time(at)
    if moment is None:
        raise ValidationError(f"Time {at!r} is not a date and time such as 2026-11-20T14:05:00Z.")
    row = db.execute(
        f"select status, occurred_at, source from {store.CONSENT_EVENTS} "
        f"where customer_id = ? and purpose = ? and occurred_ts <= ? "
        f"order by occurred_ts desc, {_RANK_SQL} desc, id desc limit 1",
        [customer_id, purpose, int(moment.timestamp())],
    ).fetchone()
    if row is None:
        return {"status": "none", "since": None, "source": None}
    return {"status": row[0], "since": row[1], "source": row[2]}


class EventIndex:
    """Consent events sorted for as-of lookups of many leads at once (numpy ``searchsorted``).

    Each event becomes one int64 key: (customer, purpose) code, then the time, then the
    status rank in the lowest two bits, so sorting the keys orders events by customer,
    purpose, time and strictness in one pass.  Customer ids are matched with Arrow's
    hash kernels, which are far faster than Python-object hashing for millions of ids.

    Parameters
    ----------
    customers : array-like of str
        Pseudonyms.
    purposes : array-like of str
        Each one of :data:`PURPOSES`.
    statuses : array of int
        Index into :data:`STATUSES`.
    times : array of int
        UTC epoch seconds.
    """

    def __init__(self, *, customers: Any, purposes: Any, statuses: np.ndarray, times: np.ndarray) -> None:
        self.customers = IdCodes(customers)
        known = pa.array(PURPOSES, type=pa.large_string())
        purpose_codes = pc.index_in(text_array(purposes), value_set=known).to_numpy(zero_copy_only=False)
        codes = self.customers.codes * len(PURPOSES) + purpose_codes.astype(np.int64)
        keys = (((codes << _TIME_BITS) | (np.asarray(times, dtype=np.int64) - _EPOCH_OFFSET)) << _STATUS_BITS
                | np.asarray(statuses, dtype=np.int64))
        self.keys = np.sort(keys)

    @classmethod
    def from_db(cls, db: store.Database, *, purposes: Iterable[str]) -> EventIndex:
        """The events of ``purposes`` read from the database.

        Kept for the next call while the events do not change (same file, event count and
        last row: events are only appended, and an erasure lowers the count), so a run of
        weekly snapshots reads them once.
        """
        wanted = sorted(set(purposes))
        path = store.db_file(db)
        # The inode tells a data home re-created at the same path from the one read before.
        key = (str(path), path.stat().st_ino, *events_state(db).values(), *wanted) if path else None
        if key in _INDEX_CACHE:
            return _INDEX_CACHE[key]
        # "+purpose" keeps SQLite off the (purpose, customer, time) index: a full scan reads
        # most of the table in page order, about 3x faster than an index walk with row lookups.
        frame = pd.read_sql_query(
            f"select customer_id, purpose, {_RANK_SQL} as rank, occurred_ts from {store.CONSENT_EVENTS} "
            f"where +purpose in ({', '.join('?' * len(wanted))})", db.conn, params=wanted,
        )
        index = cls(customers=frame["customer_id"], purposes=frame["purpose"], statuses=frame["rank"].to_numpy(),
                    times=frame["occurred_ts"].to_numpy())
        if key is not None:
            _INDEX_CACHE.clear()  # one at a time: an index of millions of events is large
            _INDEX_CACHE[key] = index
        return index

    def codes_of(self, customers: Any) -> np.ndarray:
        """Each customer's code in this index; -1 for a customer without events."""
        return self.customers.codes_of(customers)

    def as_of(
        self, customers: Any, purpose: str, times: np.ndarray, *, order: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Status code (-1 for none) and since-time of each (customer, time) for one purpose.

        ``customers`` are pseudonyms, or their codes from :meth:`codes_of` (an int64 array)
        when several purposes are looked up for the same leads; ``order`` is then
        :func:`lookup_order` of those codes, sorted once for all purposes.
        """
        is_codes = isinstance(customers, np.ndarray) and customers.dtype == np.int64
        customer_codes = customers if is_codes else self.codes_of(customers)
        known = customer_codes >= 0
        codes = np.where(known, customer_codes * len(PURPOSES) + PURPOSES.index(purpose), 0)
        times = np.broadcast_to(np.asarray(times, dtype=np.int64), codes.shape)
        prefix = (codes << _TIME_BITS) | (times - _EPOCH_OFFSET)
        if order is None:
            order = lookup_order(customer_codes, times)
        found = np.empty(len(prefix), dtype=np.int64)
        found[order] = np.searchsorted(self.keys, (prefix[order] << _STATUS_BITS) | _STATUS_MASK, side="right") - 1
        safe = np.maximum(found, 0)
        hit_keys = self.keys[safe] if len(self.keys) else np.zeros(len(prefix), dtype=np.int64)
        hit = known & (found >= 0) & ((hit_keys >> (_STATUS_BITS + _TIME_BITS)) == codes)
        status = np.where(hit, hit_keys & _STATUS_MASK, _NONE).astype(np.int8)
        since = np.where(hit, ((hit_keys >> _STATUS_BITS) & _TIME_MASK) + _EPOCH_OFFSET, 0)
        return status, since


_INDEX_CACHE: dict[tuple[Any, ...], EventIndex] = {}

# Key layout: (customer, purpose) code | 34 bits of time | 2 bits of status.  Times are shifted so
# the years 1700 to 2245 fit; 27 bits remain for codes (44 million customers with three purposes).
_TIME_BITS, _STATUS_BITS = 34, 2
_TIME_MASK, _STATUS_MASK = (1 << _TIME_BITS) - 1, (1 << _STATUS_BITS) - 1
_EPOCH_OFFSET = -8_520_336_000


# -- coverage ---------------------------------------------------------------------------------


def scoring_times(frame: pd.DataFrame, dataset: Mapping[str, Any]) -> np.ndarray:
    """UTC epoch seconds at which each lead was scored: ``scored_at`` if present, else the import time."""
    if "scored_at" in frame.columns:
        stamps = pd.to_datetime(frame["scored_at"], utc=True)
        return ((stamps - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)).to_numpy(dtype=np.int64)
    return np.full(len(frame), int(datetime.fromisoformat(dataset["imported_at"]).timestamp()), dtype=np.int64)


def lookup_order(customer_codes: np.ndarray, times: Any) -> np.ndarray:
    """The order of lookups by customer code and time.

    Needles in this order make ``searchsorted`` walk the sorted keys forwards (several
    times faster on millions); any order gives the same answers.
    """
    times = np.broadcast_to(np.asarray(times, dtype=np.int64), customer_codes.shape)
    return np.argsort(((customer_codes + 1) << _TIME_BITS) | (times - _EPOCH_OFFSET), kind="stable")


def lead_states(frame: pd.DataFrame, times: np.ndarray, index: EventIndex, *, purpose: str) -> pd.DataFrame:
    """Per lead: the consent status for ``purpose`` and whether an objection was in force when scored."""
    customers = index.codes_of(frame["customer_id"])
    order = lookup_order(customers, times)
    status, since = index.as_of(customers, purpose, times, order=order)
    objected = np.zeros(len(frame), dtype=bool)
    for other in OBJECTION_PURPOSES:
        other_status = status if other == purpose else index.as_of(customers, other, times, order=order)[0]
        objected |= other_status == _RANK["objected"]
    return pd.DataFrame({"status": status, "since": since, "objected": objected}, index=frame.index)


def status_names(status: Any) -> np.ndarray:
    """Status codes of :func:`lead_states` as the names the cells count (``granted``, ``none``, …)."""
    names = np.asarray([*STATUSES, "none"], dtype=object)
    codes = np.asarray(status, dtype=np.int64)
    return names[np.where(codes == _NONE, len(STATUSES), codes)]


def covered(states: pd.DataFrame) -> np.ndarray:
    """Which leads were scored while their customer held the purpose."""
    return (states["status"] == _RANK["granted"]).to_numpy()


def events_state(db: store.Database) -> dict[str, int]:
    """How many consent events a snapshot saw (recorded in its inputs)."""
    count, last = db.execute(f"select count(*), coalesce(max(id), 0) from {store.CONSENT_EVENTS}").fetchone()
    return {"events": count, "last_row": last}


def consent_sampling(
    everyone: list[dict[str, Any]] | None, consented: list[dict[str, Any]] | None, *, max_difference: float
) -> list[dict[str, Any]]:
    """Group shares of all scored leads against the consented ones, per single attribute.

    A flagged group is over- or under-represented after consent filtering: verdicts on
    consented rows then describe a different population (sampling bias).
    """
    return [
        {"attribute": row["attribute"], "group": row["group"], "all_share": row["eval_share"],
         "consented_share": row["scores_share"], "difference": row["difference"], "flagged": row["flagged"]}
        for row in rules.sampling_bias(everyone, consented, max_difference=max_difference)
    ]


def coverage(frame: pd.DataFrame, states: pd.DataFrame, *, purpose: str) -> dict[str, Any]:
    """Coverage of one scoring batch, overall and per team, counted as the snapshot counts it.

    The leads are reduced to cells (team × consent state) and counted by
    ``aggregates.consent_coverage``, the one producer of coverage figures; the rows add
    the customers to route to a human (``human_routing``), which cells cannot count.
    ``without_consent`` counts every uncovered lead; ``after_withdrawal`` and
    ``after_objection`` are the parts of it whose latest event was a withdrawal or an
    objection (the rest never granted the purpose).
    """
    cells = (pd.DataFrame({"team": frame["team"].to_numpy(dtype=object),
                           "consent_status": status_names(states["status"])})
             .groupby(["team", "consent_status"], dropna=False).size().rename("leads").reset_index())
    summary = aggregates.consent_coverage(cells, purpose=purpose) or {}
    routed = frame.loc[states["objected"].to_numpy(), "customer_id"].nunique()
    return {**summary, "human_routing": int(routed), "source": "rows"}


COUNTS = ("scored", "covered", "coverage", "without_consent", "after_withdrawal", "after_objection")


def coverage_for(summary: Mapping[str, Any] | None, *, scope: str | None) -> dict[str, Any] | None:
    """A snapshot's consent results as a reader may receive them.

    An unscoped reader gets them whole.  A sales manager gets the team's row as the
    totals and as the only row of ``by_team``: no other team's counts, and no
    model-wide figure that includes them (``human_routing`` is then None: the team's
    customers to route are on the routing list).  Fairness on consented rows is
    model-level, like every fairness result, and stays.
    """
    if summary is None or scope is None:
        return None if summary is None else dict(summary)
    row = next((r for r in summary.get("by_team", []) if r["team"] == scope), None)
    counts = {key: (row or {}).get(key, 0) for key in COUNTS} | {"coverage": (row or {}).get("coverage")}
    rest = {k: v for k, v in summary.items() if k not in ("by_team", "human_routing", "fairness_consented")}
    if summary.get("fairness_consented") is not None:  # its row counts are model-wide: left out
        rest["fairness_consented"] = {k: v for k, v in summary["fairness_consented"].items() if k != "rows"}
    return {**rest, **counts,
            "by_team": [row] if row else [], "violations": counts["without_consent"], "human_routing": None,
            "team": scope}


def consent_light(summary: Mapping[str, Any] | None, policy: Mapping[str, Any]) -> dict[str, str]:
    """The Overview's consent light: coverage against the policy, and any lead scored after an objection."""
    if not summary or not summary.get("scored"):
        return {"status": "not_evaluated", "reason": "no scoring batch to check"}
    settings = policy.get("consent", {})
    threshold = settings.get("coverage", DEFAULT_COVERAGE)
    status = rules.judge(summary["coverage"], threshold)
    reason = (f"{summary['coverage']:.1%} of {summary['scored']:,} leads covered by {summary['purpose']}; "
              f"{summary['without_consent']:,} without")
    if summary["after_objection"] and settings.get("fail_on_objection", True):
        return {"status": "fail", "reason": f"{summary['after_objection']:,} scored after an objection; {reason}"}
    if status != "pass":
        reason += f" ({rules.describe_threshold(threshold)})"
    return {"status": status, "reason": reason}


DEFAULT_COVERAGE = {"warn_below": 0.98, "fail_below": 0.95}


# -- reads for the Consent & privacy page -------------------------------------------------------

_REASONS = {_NONE: "never granted {purpose}", _RANK["withdrawn"]: "{purpose} withdrawn on {since}",
            _RANK["objected"]: "objected to {purpose} on {since}"}


def _when(seconds: np.ndarray | int) -> str:
    return iso(datetime.fromtimestamp(int(seconds), tz=UTC))


def list_violations(
    db: store.Database, *, model_id: str, week: str, home: Path, team: str | None = None
) -> list[dict[str, Any]]:
    """Leads of a week's scoring batch scored without the model's consent purpose, with the reason.

    Uses every event known now, so an event imported late (after the snapshot) counts
    by its event time; the snapshot keeps the counts it saw.

    Parameters
    ----------
    db : Database
    model_id, week : str
    home : Path
    team : str, optional
        Only this sales team's leads (a sales manager's scope).

    Returns
    -------
    list of dict
        ``lead_id, customer, customer_ref, name, model_id, week, team, scored_at, status, reason``.
    """
    from ethics import registry

    model = registry.get_model(db, model_id)
    version = registry.get_version(db, model_id)
    purpose = version["manifest"]["consent_purpose"]
    batch = next((d for d in datasets.list_datasets(db, model_id, kind="scores") if d["week"] == week), None)
    if batch is None:
        return []
    frame = datasets.read_rows(batch, home=home)
    if team is not None:
        frame = frame[frame["team"] == team]
    times = scoring_times(frame, batch)
    states = lead_states(frame, times, EventIndex.from_db(db, purposes={purpose, *OBJECTION_PURPOSES}),
                         purpose=purpose)
    bad = ~covered(states)
    rows, stamps = frame[bad], times[bad]
    names = privacy.customer_names(db, rows["customer_id"])
    result = []
    for (_, lead), stamp, status, since in zip(rows.iterrows(), stamps, states["status"][bad], states["since"][bad],
                                              strict=True):
        known = names.get(lead["customer_id"], {})
        result.append({
            "lead_id": lead["lead_id"], "customer": lead["customer_id"], "customer_ref": known.get("customer_ref"),
            "name": known.get("name"), "model_id": model["id"], "week": week, "team": lead["team"],
            "scored_at": _when(stamp), "status": "none" if status == _NONE else STATUSES[status],
            "reason": _REASONS[int(status)].format(purpose=purpose, since=_when(since)[:10]),
        })
    return result


VIOLATION_COLUMNS = ("lead_id", "customer", "customer_ref", "name", "model_id", "week", "team", "scored_at",
                     "status", "reason")


def violations_csv(rows: list[dict[str, Any]], *, note: str | None = None) -> str:
    """Violations as CSV (formula cells neutralised); ``note`` (a suspension) comes first."""
    return spreadsheet.to_csv(rows, columns=VIOLATION_COLUMNS, note=note)


def open_violations_incident(
    db: store.Database, *, model_id: str, week: str, home: Path, reporter: str, scope: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Open one privacy incident for a week's consent violations of a model.

    A sales manager (``scope``) reports the team's violations, with their lead ids, in an
    incident of the team.  An unscoped reporter's incident is about the whole model: it
    counts the violations per team and names no lead, since every team that the model
    scores sees it (the leads are listed, per team, on the Violations tab and its CSV).
    High severity when a lead was scored after an objection, medium otherwise.  One open
    incident per model and team reports the finding: a second is refused, naming it.

    Raises
    ------
    ValidationError
        When the week has no violations (of the team), or an open incident reports them already.
    """
    from ethics import incidents, snapshots

    incidents.refuse_reported(db, model_id=model_id, finding=VIOLATIONS_FINDING, team=scope)
    rows = list_violations(db, model_id=model_id, week=week, home=home, team=scope)
    whose = f" of team {scope}" if scope else ""
    if not rows:
        raise ValidationError(f"Model {model_id!r} has no consent violations{whose} in week {week}: nothing to report.")
    by_status = pd.Series([r["status"] for r in rows]).value_counts()
    objected = int(by_status.get("objected", 0))
    found = [s for s in snapshots.list_snapshots(db, model_id) if s["week"] == week]
    if scope:
        leads = ", ".join(r["lead_id"] for r in rows[:_LISTED_LEADS])
        more = f" and {len(rows) - _LISTED_LEADS} more" if len(rows) > _LISTED_LEADS else ""
        listed = f"Leads: {leads}{more}."
    else:
        per_team = pd.Series([str(r["team"]) for r in rows]).value_counts().sort_index()
        listed = "Per team: " + ", ".join(f"{team} {count}" for team, count in per_team.items()) + (
            "; each team's leads are on the Violations tab.")
    description = (
        f"{len(rows)} leads{whose} of week {week} were scored without a valid consent: "
        f"{int(by_status.get('none', 0))} never granted, {int(by_status.get('withdrawn', 0))} after a withdrawal, "
        f"{objected} after an objection. {listed} Route these customers to a human and stop "
        "scoring them until consent is on record."
    )
    return incidents.open_incident(
        db, model_id=model_id, severity="high" if objected else "medium", category="privacy",
        title=f"{len(rows)} leads{whose} scored without consent in {week}", description=description,
        reporter=reporter, snapshot_id=found[0]["id"] if found else None, team=scope, finding=VIOLATIONS_FINDING,
        now=now,
    )


VIOLATIONS_FINDING = "consent-violations"
_LISTED_LEADS = 20


def list_human_routing(
    db: store.Database, *, home: Path, scope: str | None = None, at: datetime | None = None,
) -> list[dict[str, Any]]:
    """Customers to be handled by a human instead of a model: an objection (Art. 21/22) in force at ``at``.

    Each row names the sales team and the customer's leads in the latest scoring batch
    of every model (where the customer has leads).

    Parameters
    ----------
    db : Database
    home : Path
    scope : str, optional
        A sales manager's team: only the team's leads, in the models that score them.
    at : datetime, optional
        Default now.

    Returns
    -------
    list of dict
        ``team, customer, customer_ref, name, purpose, objected_on, source, leads``; oldest objection first.
        A lead of a suspended model is marked so: its score must not be used anyway.
    """
    moment = int((at or utcnow()).timestamp())
    purposes = list(OBJECTION_PURPOSES)
    objections = db.execute_returning_dicts(
        f"""
        select customer_id, purpose, status, occurred_at, source from (
            select customer_id, purpose, status, occurred_at, source,
                   row_number() over (partition by customer_id, purpose
                                      order by occurred_ts desc, {_RANK_SQL} desc, id desc) as latest
            from {store.CONSENT_EVENTS}
            where purpose in ({', '.join('?' * len(purposes))}) and occurred_ts <= ?
        ) where latest = 1 and status = 'objected' order by occurred_at
        """,
        [*purposes, moment],
    )
    if not objections:
        return []
    wanted = {row["customer_id"] for row in objections}
    leads: dict[str, list[tuple[str, str, str]]] = {}
    team = scope
    models = None if scope is None else teams.visible_model_ids(db, scope)
    suspended = {row["id"] for row in store.list_rows(db, store.MODELS, "status = 'suspended'", select="id")}
    for batch in _latest_batches(db):
        if models is not None and batch["model_id"] not in models:
            continue
        frame = datasets.read_rows(batch, home=home)
        frame = frame[frame["customer_id"].isin(wanted)]
        for customer, lead_id, lead_team in zip(frame["customer_id"], frame["lead_id"], frame["team"], strict=True):
            model = batch["model_id"] + (", suspended" if batch["model_id"] in suspended else "")
            leads.setdefault(customer, []).append((lead_team, model, lead_id))
    names = privacy.customer_names(db, wanted)
    result = []
    for row in objections:
        by_team: dict[str | None, list[str]] = {}
        for lead_team, model_id, lead_id in leads.get(row["customer_id"], []):
            by_team.setdefault(lead_team, []).append(f"{lead_id} ({model_id})")
        known = names.get(row["customer_id"], {})
        if not by_team and team is None and models is None:
            by_team[None] = []  # no lead in a current batch: still listed for the officer, under no team
        for lead_team, lead_ids in sorted(by_team.items(), key=lambda item: item[0] or ""):
            if team is None or lead_team == team:
                result.append({
                    "team": lead_team, "customer": row["customer_id"], "customer_ref": known.get("customer_ref"),
                    "name": known.get("name"), "purpose": row["purpose"], "objected_on": row["occurred_at"],
                    "source": row["source"], "leads": ", ".join(lead_ids),
                })
    return result


def _latest_batches(db: store.Database) -> list[dict[str, Any]]:
    return db.execute_returning_dicts(
        f"select * from {store.DATASETS} d where kind = 'scores' and week = "
        f"(select max(week) from {store.DATASETS} where kind = 'scores' and model_id = d.model_id) order by model_id"
    )


def compare_fairness(everyone: list[dict[str, Any]], consented: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Verdicts on all rows beside the same verdicts on consented rows only, and whether the status changed."""
    found = {(v["data"], v["grouping"], v["metric"]): v for v in consented}
    rows = []
    for verdict in everyone:
        other = found.get((verdict["data"], verdict["grouping"], verdict["metric"]), {})
        rows.append({
            "data": verdict["data"], "grouping": verdict["grouping"], "metric": verdict["label"],
            "all_status": verdict["status"], "all_value": verdict["value"],
            "consented_status": other.get("status"), "consented_value": other.get("value"),
            "changed": other.get("status") != verdict["status"],
        })
    return rows
