"""Low-level PDF layout for the reports: headings, paragraphs, tables, chart images.

Every piece of text is printed literally: fpdf2's markdown and HTML modes are never
switched on, so a model name such as ``**<b>x</b>**`` appears exactly as typed.  The
fonts are DejaVu (Debian ``fonts-dejavu-core``), embedded as Unicode TTF, because
fpdf2's core fonts know only Latin-1 ("≥", "—", and names in Greek or Cyrillic
would not print).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from datetime import datetime
from io import BytesIO
from pathlib import Path
from typing import Any

from fpdf import FPDF
from fpdf.enums import TableBordersLayout, XPos, YPos
from fpdf.fonts import FontFace

from ethics.errors import EthicsError

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONT = "DejaVu"
MONO = "DejaVuMono"
_FONT_FILES = {
    (FONT, ""): "DejaVuSans.ttf",
    (FONT, "B"): "DejaVuSans-Bold.ttf",
    (MONO, ""): "DejaVuSansMono.ttf",
}
FONTS_MISSING = (
    "The report font {file} is missing: install Debian's fonts-dejavu-core (`make setup` does it)."
)
_HEADING_SIZES = {1: 16, 2: 13, 3: 11}
_BODY = 9.5
_SMALL = 8
_GREY = (110, 110, 110)
KEEP_TOGETHER_MM = 90
_HEADER_FILL = (230, 236, 244)
_STATUS_COLOURS = {"pass": (44, 160, 44), "warn": (230, 140, 0), "fail": (214, 39, 40)}


class Document(FPDF):
    """An A4 report with numbered pages and a running title in the footer.

    Parameters
    ----------
    title : str
        Printed in every page's footer and stored as the PDF's title.
    created : datetime
        Stored as the PDF's creation date (so the same inputs give the same file metadata).
    """

    def __init__(self, *, title: str, created: datetime) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        for (family, style), file in _FONT_FILES.items():
            path = FONT_DIR / file
            if not path.is_file():
                raise EthicsError(FONTS_MISSING.format(file=path))
            self.add_font(family, style, str(path))
        self.running_title = title
        self.set_title(title)
        self.set_creator("ethics")
        self.set_creation_date(created)
        self.set_margins(16, 16, 16)
        self.set_auto_page_break(auto=True, margin=16)
        self.alias_nb_pages()
        self.set_font(FONT, size=_BODY)

    def footer(self) -> None:
        """The running title and "page n of N" at the bottom of every page."""
        self.set_y(-11)
        self.set_font(FONT, size=_SMALL - 1)
        self.set_text_color(*_GREY)
        self.cell(0, 5, f"{self.running_title}  ·  page {self.page_no()} of {{nb}}", align="C")
        self.set_text_color(0)

    def heading(self, text: str, *, level: int = 1, keep: float = 0) -> None:
        """A section heading, moved to a new page unless ``keep`` mm of what follows fit under it."""
        if self.will_page_break((24 if level == 1 else 14) + keep):
            self.add_page()
        self.ln(3 if level == 1 else 1.5)
        self.set_font(FONT, "B", _HEADING_SIZES[level])
        self.multi_cell(0, _HEADING_SIZES[level] * 0.5, text, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(1.5)
        self.set_font(FONT, size=_BODY)

    def paragraph(self, text: str, *, small: bool = False, grey: bool = False) -> None:
        """A block of literal text that wraps at the margins."""
        self.set_font(FONT, size=_SMALL if small else _BODY)
        if grey:
            self.set_text_color(*_GREY)
        self.multi_cell(0, 4.6 if not small else 3.8, text, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_text_color(0)
        self.set_font(FONT, size=_BODY)
        self.ln(1)

    def status_line(self, status: str, text: str) -> None:
        """A finding: a coloured status word, then its sentence."""
        self.set_font(FONT, "B", _BODY)
        self.set_text_color(*_STATUS_COLOURS.get(status, _GREY))
        word = status.replace("_", " ").upper()
        self.cell(self.get_string_width(word) + 2, 4.6, word)
        self.set_text_color(0)
        self.set_font(FONT, size=_BODY)
        self.multi_cell(0, 4.6, text, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(0.8)

    def fields(self, pairs: Sequence[tuple[str, Any]], *, mono: Sequence[str] = ()) -> None:
        """Label/value rows (both wrap); labels in ``mono`` get a fixed-width value (hashes)."""
        label_width, line = 44, 4.6
        for label, value in pairs:
            text = _text(value)
            value_font = (MONO, "", _SMALL) if label in mono else (FONT, "", _BODY)
            self.set_font(FONT, "B", _BODY)
            label_lines = self.multi_cell(label_width - 2, line, label, dry_run=True, output="LINES")
            self.set_font(*value_font)
            value_lines = self.multi_cell(self.epw - label_width, line, text, dry_run=True, output="LINES")
            height = line * max(len(label_lines), len(value_lines))
            if self.will_page_break(height):
                self.add_page()
            top = self.get_y()
            self.set_font(FONT, "B", _BODY)
            self.multi_cell(label_width - 2, line, label, align="L", new_x=XPos.RIGHT, new_y=YPos.TOP)
            self.set_xy(self.l_margin + label_width, top)
            self.set_font(*value_font)
            self.multi_cell(self.epw - label_width, line, text, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            self.set_y(top + height + 0.6)
        self.set_font(FONT, size=_BODY)
        self.ln(1)

    def rows_table(
        self,
        rows: Sequence[dict[str, Any]],
        *,
        widths: Sequence[float] | None = None,
        empty: str = "Nothing to show.",
        small: bool = False,
    ) -> None:
        """A table with a heading row taken from the first row's keys; repeats headings on new pages.

        Parameters
        ----------
        rows : sequence of dict
            Every row has the same keys; values are printed with :func:`_text`.
        widths : sequence of float, optional
            Relative column widths.
        empty : str
            Printed instead when there are no rows.
        small : bool
            A smaller font for wide tables.
        """
        if not rows:
            self.paragraph(empty, grey=True)
            return
        columns = list(rows[0])
        size = _SMALL - (0.5 if small else 0)
        self.set_font(FONT, size=size)
        if self.will_page_break(table_keep(len(rows), small=small)):
            self.add_page()  # a short table is not split; a long one starts with a few rows at least
        with self.table(
            col_widths=tuple(widths) if widths else None,
            text_align="LEFT",
            line_height=size * 0.47,
            padding=(0.8, 1.2),
            borders_layout=TableBordersLayout.HORIZONTAL_LINES,
            headings_style=FontFace(family=FONT, emphasis="BOLD", fill_color=_HEADER_FILL),
            markdown=False,
            repeat_headings=1,
        ) as table:
            table.row([str(c) for c in columns])
            for row in rows:
                table.row([_text(row[c]) for c in columns])
        self.set_font(FONT, size=_BODY)
        self.ln(2.5)

    def image_height(self, png: bytes) -> float:
        """The height in mm of a PNG drawn across the text width."""
        pixels_wide, pixels_high = struct.unpack(">II", png[16:24])  # the PNG header's IHDR size
        return self.epw * pixels_high / pixels_wide

    def chart(self, png: bytes, *, caption: str, reserve: float = 0) -> None:
        """A chart image across the text width (height from its aspect ratio) with a caption under it.

        ``reserve`` mm more must fit under it (its table), or the chart starts a new page.
        """
        height = self.image_height(png)
        if self.will_page_break(height + 8 + min(reserve, KEEP_TOGETHER_MM)):
            self.add_page()
        self.image(BytesIO(png), x=self.l_margin, w=self.epw, h=height)
        self.paragraph(caption, small=True, grey=True)

    def render(self) -> bytes:
        """The finished PDF as bytes."""
        return bytes(self.output())


def table_keep(rows: int, *, small: bool = False) -> float:
    """The height in mm a table of ``rows`` rows needs on its first page: all of a short one, ``KEEP_TOGETHER_MM``.

    A heading above a table keeps this much under it, so the heading never ends a page that the table leaves.
    """
    return min(table_height(rows, small=small), KEEP_TOGETHER_MM)


def table_height(rows: int, *, small: bool = False) -> float:
    """The least height in mm of a table of ``rows`` one-line rows plus its heading row."""
    size = _SMALL - (0.5 if small else 0)
    return (rows + 1) * (size * 0.47 + 1.7) + 2.5


def _text(value: Any) -> str:
    """A cell or field value as text: numbers rounded for reading, None as an em dash."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, (list, tuple)):
        return ", ".join(_text(v) for v in value)
    return str(value)
