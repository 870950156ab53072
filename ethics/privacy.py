"""Pseudonymisation of customer identifiers with a keyed hash.

Customer ids are never stored as typed: scoring data and consent events hold
``HMAC-SHA256(key, id)`` (shortened, prefixed ``p-``).  The key lives in the data
home (``privacy.key``), never in the database; the database keeps only a fingerprint
of it, so a lost or swapped key is an error instead of silently new pseudonyms.
Names and contact details, where imported at all, live in the one ``customers``
table, which erasure clears.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from ethics import audit, store
from ethics.errors import TEXT_CELL, ValidationError
from ethics.id_codes import id_problem
from ethics.lazy import lazy_module
from ethics.spreadsheet import formula_start
from ethics.text_cells import text_problem
from ethics.weeks import iso, utcnow

np = lazy_module("numpy", globals())
pd = lazy_module("pandas", globals())

KEY_FILE = "privacy.key"
PREFIX = "p-"
DIGEST_CHARS = 32  # 128 bits of the HMAC: collisions are out of reach for any customer base
CUSTOMER_FIELDS = ("customer_id", "name", "email", "phone")
_MEMORY_KEYS: dict[int, bytes] = {}
_KEYS: dict[str, bytes] = {}

KEY_LOST = (
    "{path} is missing or was replaced, but data was pseudonymised with another key (fingerprint {expected}): "
    "new imports would not match the stored customers."
)
KEY_HINT = "Restore privacy.key from the backup of the data home."
ERASED_CUSTOMER = (
    "{file}, row {row}, column 'customer_id': this customer was erased on {when} (data-subject request {request}); "
    "their data may not be imported again."
)
ERASED_HINT = "Remove the erased customer's rows at the source and import the file again."


def _key_path(db: store.Database) -> Path | None:
    path = store.db_file(db)
    return None if path is None else path.parent / KEY_FILE


def _fingerprint(key: bytes) -> str:
    return hmac.new(key, b"ethics privacy key fingerprint", hashlib.sha256).hexdigest()[:16]


def write_key(home: Path, key: bytes | None = None) -> bool:
    """Write the data home's ``privacy.key`` (mode 0600) unless it exists; the first writer wins.

    Parameters
    ----------
    home : Path
        The data home.
    key : bytes, optional
        The key; by default 32 random bytes (``secrets.token_bytes``), which is what every
        home gets.  Only ``python -m ethics demo --reproducible`` passes a fixed one.

    Returns
    -------
    bool
        Whether this call wrote the file.
    """
    path = home / KEY_FILE
    if path.exists():
        return False
    tmp = path.with_suffix(f".{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write((key if key is not None else secrets.token_bytes(32)).hex())
    try:
        os.link(tmp, path)  # first writer wins; a concurrent one reads the winner's key
    except FileExistsError:
        return False
    finally:
        tmp.unlink()
    return True


def key_for(db: store.Database) -> bytes:
    """The pseudonymisation key from the data home, created on first use.

    Raises
    ------
    ValidationError
        When the database records a key whose file is missing or different.
    """
    path = _key_path(db)
    if path is None:
        key = _MEMORY_KEYS.setdefault(id(db.conn), secrets.token_bytes(32))
    elif str(path) in _KEYS and path.exists():
        return _KEYS[str(path)]
    else:
        if not path.exists() and not db.execute(f"select count(*) from {store.PRIVACY_KEY}").fetchone()[0]:
            write_key(path.parent)
        key = bytes.fromhex(path.read_text().strip()) if path.exists() else b""
    recorded = db.execute(f"select fingerprint from {store.PRIVACY_KEY} where id = 1").fetchone()
    if recorded is None and key:
        with store.transaction(db):
            db.execute(f"insert or ignore into {store.PRIVACY_KEY} (id, fingerprint, created_at) values (1, ?, ?)",
                       [_fingerprint(key), iso(utcnow())])
        recorded = db.execute(f"select fingerprint from {store.PRIVACY_KEY} where id = 1").fetchone()
    if not key or recorded[0] != _fingerprint(key):
        raise ValidationError(KEY_LOST.format(path=path, expected=recorded[0] if recorded else "?"), hint=KEY_HINT)
    if path is not None:
        _KEYS[str(path)] = key
    return key


def keyed_tag(db: store.Database, text: str, *, purpose: str) -> str:
    """A short keyed hash of ``text`` for a record that must not keep it (``k-`` and 16 hex digits).

    ``purpose`` separates the uses of the key, so a tag never equals a customer's pseudonym.
    """
    digest = hmac.new(key_for(db), f"{purpose}\0{text}".encode(), hashlib.sha256).hexdigest()
    return "k-" + digest[:16]


def pseudonymise(db: store.Database, customer_id: str) -> str:
    """The stored pseudonym of a customer id as a person types it (the one lookup function).

    Parameters
    ----------
    db : Database
    customer_id : str
        The id from the CRM, e.g. ``C000123``; surrounding spaces are ignored.

    Returns
    -------
    str
        ``p-`` and 32 hex digits, as stored in scoring data and consent events.
    """
    return pseudonymise_all(db, [customer_id])[0]


def pseudonymise_all(db: store.Database, customer_ids: Iterable[str]) -> list[str]:
    """:func:`pseudonymise` for many ids at once (imports); each distinct id is hashed once."""
    ids = [str(value).strip() for value in customer_ids]
    inner = hmac.new(key_for(db), digestmod=hashlib.sha256)
    mapping = {}
    for value in dict.fromkeys(ids):
        digest = inner.copy()
        digest.update(value.encode("utf-8"))
        mapping[value] = PREFIX + digest.hexdigest()[:DIGEST_CHARS]
    return [mapping[value] for value in ids]


def pseudonymise_column(db: store.Database, values: pd.Series) -> pd.Series:
    """A column of customer ids as pseudonyms (same index)."""
    codes, uniques = pd.factorize(values.astype(str), sort=False)
    hashed = np.array(pseudonymise_all(db, uniques), dtype=object)
    return pd.Series(hashed[codes], index=values.index, dtype=object)


def erased(db: store.Database) -> dict[str, dict[str, Any]]:
    """The register of erased customers: pseudonym -> ``{"id", "requested_at"}`` of the request."""
    return {
        row[0]: {"id": row[1], "requested_at": row[2]}
        for row in db.execute(f"select pseudonym, id, requested_at from {store.DSR_REQUESTS} where kind = 'erase'")
    }


def refuse_erased(db: store.Database, pseudonyms: Sequence[str], *, file: str) -> None:
    """Refuse an import that would bring an erased customer back.

    Raises
    ------
    ValidationError
        Naming the file and the first row of an erased customer.
    """
    register = erased(db)
    if not register:
        return
    for position, pseudonym in enumerate(pseudonyms):
        if pseudonym in register:
            found = register[pseudonym]
            raise ValidationError(
                ERASED_CUSTOMER.format(file=file, row=position + 1, when=found["requested_at"], request=found["id"]),
                hint=ERASED_HINT,
            )


def record_customers(
    db: store.Database, rows: Iterable[dict[str, Any]], *, source_name: str, actor: str,
    now: datetime | None = None,
) -> int:
    """Store names and contact details (the ``customers`` table) after checking every row.

    Parameters
    ----------
    db : Database
    rows : iterable of dict
        ``customer_id`` (required), ``name``, ``email``, ``phone`` (optional).
    source_name : str
        File name for messages.
    actor : str
    now : datetime, optional

    Returns
    -------
    int
        Customers stored (a later import replaces a customer's details).

    Raises
    ------
    ValidationError
        Naming the file, row and column; nothing is written: a missing customer id, an id with a
        control, invisible or look-alike character or not in NFKC form (the id rule of dataset
        imports, :func:`ethics.id_codes.id_problem`), a cell that starts a formula or holds a
        control or bidirectional character (:mod:`ethics.text_cells`), an erased customer.
    """
    stamp = iso(now or utcnow())
    checked = []
    for number, row in enumerate(rows, start=1):
        unknown = sorted(set(row) - set(CUSTOMER_FIELDS))
        if unknown:
            raise ValidationError(f"{source_name}: column {unknown[0]!r} is not one of {', '.join(CUSTOMER_FIELDS)}.")
        values = {field: _text(row.get(field)) for field in CUSTOMER_FIELDS}
        if not values["customer_id"]:
            raise ValidationError(f"{source_name}, row {number}, column 'customer_id': value is missing.")
        for field, value in values.items():
            if value is None:
                continue
            # As dataset imports: a formula is refused as one; an id is then held to the id rule.
            is_id = field == "customer_id" and formula_start(value) is None
            if (problem := id_problem(value) if is_id else text_problem(value)) is not None:
                raise ValidationError(TEXT_CELL.format(file=source_name, row=number, column=field, value=value,
                                                       problem=problem))
        checked.append(values)
    pseudonyms = pseudonymise_all(db, [row["customer_id"] for row in checked])
    refuse_erased(db, pseudonyms, file=source_name)
    records = [
        {"pseudonym": p, "customer_ref": row["customer_id"], "name": row["name"], "email": row["email"],
         "phone": row["phone"], "imported_at": stamp}
        for p, row in zip(pseudonyms, checked, strict=True)
    ]
    with store.transaction(db):
        db[store.CUSTOMERS].insert_all(records, pk="pseudonym", replace=True, batch_size=5000)
        audit.record(db, audit.CustomersImported(actor, "customers_import", source_name, customers=len(records),
                                                 source=source_name, created=now),
                     records=[(store.CUSTOMERS, pseudonym) for pseudonym in dict.fromkeys(pseudonyms)])
    return len(records)


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    text = str(value).strip()
    return text or None


def customer_names(db: store.Database, pseudonyms: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Typed id and name of the customers whose details were imported, by pseudonym."""
    wanted = list(dict.fromkeys(pseudonyms))
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start:start + 500]
        for row in db.execute_returning_dicts(
            f"select pseudonym, customer_ref, name from {store.CUSTOMERS} "
            f"where pseudonym in ({', '.join('?' * len(chunk))})", chunk,
        ):
            found[row["pseudonym"]] = row
    return found


def pseudonyms_named(db: store.Database, name: str) -> list[str]:
    """Pseudonyms of the customers whose imported name is ``name`` (case and outer spaces ignored)."""
    rows = db.execute(f"select pseudonym from {store.CUSTOMERS} where lower(name) = lower(?)", [name.strip()])
    return [row[0] for row in rows.fetchall()]
