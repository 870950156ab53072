"""The SQLite connection, transactions, table names and the data home's file modes.

This is the only module that knows about sqlite3 and sqlite-utils errors: it turns
them into ``ethics.errors`` types.  Every other module names tables through the
constants below.

The data home holds personal data (scoring rows, explanations, customer details) and
keys, so it is private to the account that runs ``ethics``: opening it (:func:`open_db`,
:func:`private_home`) makes the folder 0700 and sets the process umask to 077, so every
file written afterwards (the database and its -wal/-shm, keys, Parquet, artifacts,
explanations, reports) is 0600 and every folder 0700.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ethics.errors import NotFound, ValidationError

# sqlite-utils imports pandas and numpy when they are installed, only to add their scalar types to
# ``COLUMN_TYPE_MAPPING`` (the SQL type of a new column from a Python value): ~0.4 s of every command's
# start-up (issue 19).  So it is imported with both hidden, and ``_ColumnTypes`` adds those same types on
# the first lookup that misses once numpy or pandas is imported (a numpy value can only exist by then).
_HIDDEN = [name for name in ("pandas", "numpy") if name not in sys.modules]
sys.modules.update(dict.fromkeys(_HIDDEN))  # a None entry makes ``import`` raise ImportError
try:
    import sqlite_utils
    import sqlite_utils.db
    from sqlite_utils.db import NotFoundError
finally:
    for _name in _HIDDEN:
        if sys.modules.get(_name, "") is None:
            del sys.modules[_name]


class _ColumnTypes(dict[Any, str]):
    """sqlite-utils' ``COLUMN_TYPE_MAPPING``, completed with numpy's and pandas' types once they are imported.

    The types are the ones ``sqlite_utils.db`` adds at import time when it finds the libraries.
    """

    def _complete(self) -> bool:
        """Add the types of numpy and pandas if imported and not yet added; whether any were added."""
        added = False
        numpy, pandas = sys.modules.get("numpy"), sys.modules.get("pandas")
        if numpy is not None and numpy.int8 not in self:
            self.update({getattr(numpy, f"{kind}{bits}"): "INTEGER" for kind in ("int", "uint")
                         for bits in (8, 16, 32, 64)})
            self.update({getattr(numpy, f"float{bits}"): "REAL" for bits in (16, 32, 64)})
            added = True
        if pandas is not None and pandas.Timestamp not in self:
            self[pandas.Timestamp] = "TEXT"
            added = True
        return added

    def __missing__(self, key: Any) -> str:
        if self._complete():
            return self[key]
        raise KeyError(key)

    def get(self, key: Any, default: Any = None) -> Any:
        if key not in self:
            self._complete()
        return super().get(key, default)


if not isinstance(sqlite_utils.db.COLUMN_TYPE_MAPPING, _ColumnTypes):
    sqlite_utils.db.COLUMN_TYPE_MAPPING = _ColumnTypes(sqlite_utils.db.COLUMN_TYPE_MAPPING)

MODELS = "models"
VERSIONS = "model_versions"
DATASETS = "datasets"
SNAPSHOTS = "snapshots"
CONSENT_EVENTS = "consent_events"
INCIDENTS = "incidents"
USERS = "users"
SIGN_INS = "sign_in_attempts"
AUDIT = "audit_log"
CHECKPOINTS = "audit_checkpoints"
INCIDENT_COMMENTS = "incident_comments"
REVIEWS = "reviews"
OVERRIDES = "decision_overrides"
CUSTOMERS = "customers"
DSR_REQUESTS = "dsr_requests"
PRIVACY_KEY = "privacy_key"
TEAMS = "teams"
MODEL_TEAMS = "model_teams"
ERASURE_JOBS = "erasure_jobs"
ERASURE_STEPS = "erasure_steps"
DATA_GENERATION = "data_generation"

BUSY_TIMEOUT_S = 30.0

Database = sqlite_utils.Database


def open_db(path: str | Path | None = None, *, memory: bool = False) -> Database:
    """Open the governance database with WAL, a busy timeout and foreign keys.

    Parameters
    ----------
    path : str or Path, optional
        The database file; created with its folder if missing.
    memory : bool, default False
        Open a private in-memory database instead (tests).

    Returns
    -------
    sqlite_utils.Database
        Not yet migrated: call :func:`migrate`.
    """
    if memory or path is None:
        conn = sqlite3.connect(":memory:", isolation_level=None)
    else:
        path = Path(path)
        private_home(path.parent)
        if not path.exists():
            os.close(os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE))  # SQLite gives -wal and -shm its mode
        for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            _tighten(file, FILE_MODE)
        conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_S, isolation_level=None)
    conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
    conn.execute("PRAGMA foreign_keys = ON")
    db = sqlite_utils.Database(conn)
    if not memory and path is not None:
        db.enable_wal()
        conn.execute("PRAGMA synchronous = NORMAL")
    return db


FILE_MODE = 0o600
FOLDER_MODE = 0o700
_PRIVATE_UMASK = 0o077


def private_home(home: Path) -> None:
    """Create the data home (0700) or tighten it, and make what this process writes from now on private.

    The umask is the process's: a command or app that opens a data home writes nothing
    that other accounts on the machine can read.  A home made before (0755) becomes 0700,
    so the files in it, whatever their own modes, are out of other accounts' reach.
    """
    os.umask(os.umask(_PRIVATE_UMASK) | _PRIVATE_UMASK)  # never looser than before
    home.mkdir(parents=True, exist_ok=True, mode=FOLDER_MODE)
    _tighten(home, FOLDER_MODE)


def _tighten(path: Path, mode: int) -> None:
    """Remove group and other bits from ``path`` if it exists and is this account's."""
    try:
        found = path.stat()
        if found.st_uid == os.getuid() and found.st_mode & 0o077:
            path.chmod(mode)
    except (FileNotFoundError, PermissionError):
        pass


def db_file(db: Database) -> Path | None:
    """The main database file, or None for an in-memory database; the data home is its folder."""
    for _, name, path in db.execute("PRAGMA database_list").fetchall():
        if name == "main" and path:
            return Path(path)
    return None


def migrate(db: Database) -> list[str]:
    """Apply pending migrations; return the names applied (empty when up to date)."""
    from ethics.migrations import MIGRATIONS

    if not MIGRATIONS.pending(db):
        return []
    # Re-read under the write lock: the app and the CLI may start at the same time.
    with transaction(db):
        pending = [m.name for m in MIGRATIONS.pending(db)]
        MIGRATIONS.apply(db)
    return pending


@contextmanager
def _translated() -> Iterator[None]:
    try:
        yield
    except NotFoundError as exc:
        raise NotFound(str(exc)) from None
    except sqlite3.IntegrityError as exc:
        raise ValidationError(f"Rule broken in the database: {exc}.") from None


@contextmanager
def transaction(db: Database) -> Iterator[Database]:
    """Run a block of writes as one ``BEGIN IMMEDIATE`` transaction.

    The write lock is taken at the start, so two writers queue on the busy timeout
    instead of failing half way.  Nested blocks become savepoints.  On any error
    everything the block wrote is rolled back.
    """
    if db.conn.in_transaction:
        with _translated(), db.atomic():
            yield db
        return
    db.conn.execute("BEGIN IMMEDIATE")
    _AFTER_COMMIT.pop(id(db), None)
    try:
        with _translated():
            yield db
    except BaseException:
        _AFTER_COMMIT.pop(id(db), None)
        if db.conn.in_transaction:
            db.conn.execute("ROLLBACK")
        raise
    db.conn.execute("COMMIT")
    for callback in _AFTER_COMMIT.pop(id(db), []):
        callback(db)


_AFTER_COMMIT: dict[int, list[Callable[[Database], None]]] = {}


def after_commit(db: Database, callback: Callable[[Database], None]) -> None:
    """Run ``callback(db)`` once after the open transaction commits (not if it rolls back)."""
    pending = _AFTER_COMMIT.setdefault(id(db), [])
    if callback not in pending:
        pending.append(callback)


def get_row(db: Database, table: str, pk: Any, *, message: str) -> dict[str, Any]:
    """Return one row by primary key or raise ``NotFound(message)``."""
    try:
        return dict(db[table].get(pk))
    except NotFoundError:
        raise NotFound(message) from None


def list_rows(
    db: Database,
    table: str,
    where: str | None = None,
    where_args: Sequence[Any] | dict[str, Any] | None = None,
    *,
    order_by: str | None = None,
    select: str = "*",
) -> list[dict[str, Any]]:
    """Return rows as plain dicts; an absent table reads as empty."""
    if not db[table].exists():
        return []
    return [
        dict(row)
        for row in db[table].rows_where(where, where_args, order_by=order_by, select=select)
    ]


def json_number(value: Any) -> float | None:
    """A number as stored in JSON results: rounded to 12 digits; NaN and infinity become None."""
    value = float(value)
    return None if math.isnan(value) or math.isinf(value) else round(value, 12)


def to_json(value: Any) -> str:
    """Canonical JSON: sorted keys, no spaces, so equal content hashes equally."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
