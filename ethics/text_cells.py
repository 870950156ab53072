"""What an imported text cell may hold: no spreadsheet formula, no control or bidirectional character.

One rule for the free text of every import (consent sources, customer details, the text
cells of imported statistics), so a cell refused in one file is refused in all of them;
ids have the stricter rule of :func:`ethics.id_codes.id_problem`.  A cell starting a
formula is judged after its outer spaces are stripped, as the row imports do; phone
numbers and plain numbers after ``+`` or ``-`` are data (:func:`ethics.spreadsheet.formula_start`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ethics.errors import TEXT_BAD_TEAM, TEXT_CELL, TEXT_CHARACTER, TEXT_FORMULA, TEXT_TOO_LONG, ValidationError
from ethics.id_codes import character_name
from ethics.lazy import lazy_module
from ethics.manifest import TEAM_NAME, TEAM_RULE, refused_character
from ethics.spreadsheet import formula_start

pd = lazy_module("pandas", globals())

SHORT_TEXT = 200  # characters of a short label such as a consent event's source


def text_problem(text: str, *, most: int | None = None, team: bool = False) -> str | None:
    """Why ``text`` cannot be stored, as a phrase after the quoted value; None when it can.

    Parameters
    ----------
    text : str
    most : int, optional
        The longest text allowed (no bound when omitted).
    team : bool
        The text names a team: it must also follow the team rule (:data:`ethics.manifest.TEAM_RULE`).
    """
    if (char := formula_start(text.strip())) is not None:
        return TEXT_FORMULA.format(char=char)
    if (char := refused_character(text)) is not None:
        return TEXT_CHARACTER.format(char=character_name(char))
    if most is not None and len(text) > most:
        return TEXT_TOO_LONG.format(length=len(text), most=most)
    if team and text.strip() and not TEAM_NAME.fullmatch(text.strip()):
        return TEXT_BAD_TEAM.format(rule=TEAM_RULE)
    return None


def refuse_bad_text(value: Any, *, file: str, row: int, column: str, most: int | None = None,
                    team: bool = False) -> None:
    """Refuse one cell (text only; numbers and missing values pass).

    Raises
    ------
    ValidationError
        ``{file}, row {row}, column {column!r}: {value!r} <what is wrong>.``
    """
    if isinstance(value, str) and (problem := text_problem(value, most=most, team=team)) is not None:
        raise ValidationError(TEXT_CELL.format(file=file, row=row, column=column, value=value, problem=problem))


def refuse_bad_cells(frame: pd.DataFrame, *, file: str, columns: Iterable[str] | None = None,
                     team_column: str | None = "team", first_row: int = 1) -> None:
    """Refuse the first bad text cell of ``frame``, column by column in the file's order.

    Parameters
    ----------
    frame : DataFrame
        As read from the file (row ``first_row`` is position 0).
    file : str
        Name used in messages.
    columns : iterable of str, optional
        The columns to check; every column of text when omitted.
    team_column : str or None
        The column of team names (also held to the team rule).
    first_row : int
        The row number messages give the first row.

    Raises
    ------
    ValidationError
        Naming the file, row and column of the first bad cell.
    """
    for column in frame.columns if columns is None else columns:
        values = frame[column]
        if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            continue
        for position, value in enumerate(values.tolist()):
            refuse_bad_text(value, file=file, row=position + first_row, column=str(column),
                            team=column == team_column)
