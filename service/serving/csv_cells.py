"""The one place CSV files are written: every cell a spreadsheet could read as a formula is made text.

Report text, company and sector names end up in CSV cells, and a spreadsheet runs a cell that starts
with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage return before one) as a formula: a PDF sentence
``-2+3+cmd|' /C notepad'!A0`` becomes a command. Following OWASP's advice on CSV injection, such a
cell is prefixed with a single quote, which spreadsheets show as text. Numbers stay numbers: a float
or int is written as it is, and so is text that is a plain decimal number ("-2", "1.5e-3"), which no
spreadsheet reads as a formula. Parquet files keep the raw text; only CSV is written here.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

# What a spreadsheet reads as the start of a formula; the fullwidth forms too (some read those alike).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def inert(value: Any) -> Any:
    """``value`` as a cell no spreadsheet runs: text that starts like a formula gets a leading quote."""
    if not isinstance(value, str) or not value:
        return value
    starts_like_formula = value[0] in FORMULA_STARTS or value.lstrip(" ")[:1] in FORMULA_STARTS
    if starts_like_formula and not PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def csv_text(columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> str:
    """Rows (mappings; missing columns empty) as CSV text with a header, every cell made inert."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, list(columns), restval="")
    writer.writeheader()
    writer.writerows({name: inert(value) for name, value in row.items()} for row in rows)
    return buffer.getvalue()


def write_table_csv(table: pa.Table, path: Path) -> None:
    """An Arrow table as CSV (Arrow's own format: quoted text, numbers as numbers), text cells inert."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    columns = [
        pa.array([inert(v) for v in column.to_pylist()], type=column.type)
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type)
        else column
        for column in table.columns
    ]
    pacsv.write_csv(pa.Table.from_arrays(columns, names=table.column_names), path)
