"""Reading tabular input files into text cells with exact row numbers, and the row checks shared
by the observations and the event log.

Every cell comes back as text (``""`` where empty), so CSV and Parquet inputs go through the same
checks and give the same messages. Row numbers are what an analyst needs to find the row:

- CSV: the 1-based physical line number in the file (the header is line 1; blank lines and
  quoted line breaks are counted, so an editor's "go to line" lands on the row);
- Parquet, or an in-memory DataFrame: the 1-based record number.

Nothing here raises anything but :class:`~forecast.errors.InputError`.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np
import pandas as pd

from forecast.catalog import Catalog, read_catalog
from forecast.errors import MAX_REPORTED, InputError, expected_one_of, raise_first

__all__ = [
    "RawTable",
    "Problems",
    "read_table",
    "require_file",
    "table_from_frame",
    "check_choice",
    "check_filled",
    "check_repeated",
    "parse_month",
    "outside_the_years",
    "not_a_month",
    "format_month",
    "SUFFIXES",
    "NUMBER_RE",
    "MONTH_PATTERN",
    "YEAR_PATTERN",
    "INF_TOKENS",
    "as_catalog",
    "parse_until",
    "run_table",
    "month_text",
]

SUFFIXES: dict[str, str] = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}

#: A year the data may hold (1000-2999), as a group; and a month ``YYYY-MM`` as two groups
#: (year, month): the one pattern of every month the package reads (data, event dates, run
#: names, the catalog's event log, --month).
YEAR_PATTERN = r"([12][0-9]{3})"
MONTH_PATTERN = rf"{YEAR_PATTERN}-(0[1-9]|1[0-2])"
_MONTH_RE = re.compile(MONTH_PATTERN)
#: A number as a data file writes it. ASCII digits only: ``\d`` and ``float()`` also take
#: other scripts' digits ("３", "٣"), and ``float()`` underscores ("1_000").
NUMBER_RE = r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
#: Infinity as text (lower case): a number, but no finite one.
INF_TOKENS = frozenset({"inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"})
#: the largest magnitude a data value may have: a sum of squares of larger ones overflows (a
#: normal signal's scale became inf and its every value 0), and no measurement comes near it
MAX_VALUE = 1e100
#: the largest count a data value may give: floats count exactly up to 2**53, and a count
#: beyond 2**63 became -9223372036854775808 in the model's integer arrays without a word
MAX_COUNT = 2**53


@dataclass(frozen=True)
class RawTable:
    """A tabular input as text cells.

    Attributes
    ----------
    file
        Name used in messages (the path as given, or a label such as ``<events frame>``).
    header
        Column names as found (stripped of surrounding whitespace).
    cells
        Column → object array of ``str`` (``""`` for an empty cell), one entry per record.
    rows
        1-based row number of each record (line number for CSV, record number otherwise).
    """

    file: str
    header: tuple[str, ...]
    cells: dict[str, np.ndarray]
    rows: np.ndarray = field(repr=False)

    def __len__(self) -> int:
        return len(self.rows)

    def column(self, name: str) -> np.ndarray:
        """Cells of one column; all ``""`` for an optional column the file lacks."""
        if name in self.cells:
            return self.cells[name]
        return np.full(len(self.rows), "", dtype=object)


class Problems:
    """Collects row problems of one file and raises the first in file order.

    One problem is kept per row: the first check (in the order checks are run) that the row
    fails. Checks run in column order, so within a row the leftmost cause is reported.
    """

    def __init__(self, table: RawTable) -> None:
        self.table = table
        self.flagged = np.zeros(len(table), dtype=bool)
        self.count = 0
        self._found: list[tuple[int, int, InputError]] = []
        self._checks = 0

    @property
    def ok(self) -> np.ndarray:
        """Rows with no problem found so far."""
        return ~self.flagged

    def check(
        self,
        bad: np.ndarray,
        column: str | None,
        values: Sequence[object] | None,
        reason: str | Callable[[int], str],
    ) -> None:
        """Record a problem for every bad row not already flagged.

        ``reason`` is a string or a function of the record's position giving one.
        """
        self._checks += 1
        new = np.asarray(bad, dtype=bool) & ~self.flagged
        if not new.any():
            return
        self.flagged |= new
        idx = np.flatnonzero(new)
        self.count += len(idx)
        for i in idx[:MAX_REPORTED]:
            text = reason(int(i)) if callable(reason) else reason
            value = None if values is None else values[i]
            err = InputError(text, file=self.table.file, row=int(self.table.rows[i]),
                             column=column, value=value)
            self._found.append((int(self.table.rows[i]), self._checks, err))

    def raise_first(self) -> None:
        """Raise the first problem in file order, if any.

        The raised :class:`InputError` carries ``problems`` (up to 50 of them, first first) and
        ``n_problems`` (how many rows of the file have a problem).
        """
        found = sorted(self._found, key=lambda t: (t[0], t[1]))
        raise_first([f[2] for f in found], self.count)


# ---------------------------------------------------------------------- reading
def require_file(path: Path) -> None:
    """Refuse ``path`` unless it is a file: ``file not found``, or ``not a file``.

    Examples
    --------
    >>> require_file(Path("/no/such/table.csv"))
    Traceback (most recent call last):
    ...
    forecast.errors.InputError: /no/such/table.csv: file not found
    """
    if not path.is_file():
        raise InputError("file not found" if not path.exists() else "not a file",
                         file=str(path))


def read_table(
    path: str | Path,
    *,
    required: Sequence[str],
    optional: Sequence[str] = (),
    allow_no_rows: bool = False,
    short_rows: bool = False,
) -> RawTable:
    """Read a CSV or Parquet file (by suffix) as text cells.

    Parameters
    ----------
    path
        ``.csv``, ``.parquet`` or ``.pq`` file.
    required, optional
        Column names. A missing required column is an error; other extra columns are ignored.
    allow_no_rows
        Whether a file with a header but no records is acceptable.
    short_rows
        Whether a CSV row may stop before trailing ``optional`` columns (a hand-edited file
        that fills a note on some rows only); their cells are then empty. A row that stops
        before a required column, or has more fields than the header, is still an error.

    Raises
    ------
    InputError
        File missing or unreadable, wrong encoding, empty, malformed CSV, missing columns.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
    >>> _ = p.write_text("a,b\\n1,x\\n\\n2,y\\n", encoding="utf-8")
    >>> t = read_table(p, required=["a", "b"])
    >>> t.rows.tolist(), t.cells["b"].tolist()
    ([2, 4], ['x', 'y'])
    """
    path = Path(path)
    file = str(path)
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise InputError(
            f"unsupported file type {path.suffix or '(no suffix)'!r}: "
            "expected .csv, .parquet or .pq",
            file=file,
        )
    require_file(path)
    if kind == "csv":
        header, records, rows = _read_csv(path, file, set(optional) if short_rows else set())
    else:
        header, records, rows = _read_parquet(path, file)
    return _build(file, header, records, rows, required, optional, allow_no_rows,
                  header_row=1 if kind == "csv" else None)


def table_from_frame(
    frame: pd.DataFrame,
    *,
    file: str,
    required: Sequence[str],
    optional: Sequence[str] = (),
    allow_no_rows: bool = False,
) -> RawTable:
    """An in-memory DataFrame as text cells (rows numbered 1.. by position)."""
    if not isinstance(frame, pd.DataFrame):
        raise InputError(f"expected a pandas DataFrame, got {type(frame).__name__}", file=file)
    header = tuple(str(c).strip() for c in frame.columns)
    records = {h: _column_text(frame.iloc[:, i]) for i, h in enumerate(header)}
    rows = np.arange(1, len(frame) + 1, dtype=np.int64)
    return _build(file, header, records, rows, required, optional, allow_no_rows, header_row=None)


def _one_column_of_many(header: Sequence[str]) -> bool:
    """A header read as one column that holds another separator (``;``, tab, ``|``): a file
    exported with the separator of a locale that writes decimal commas."""
    return len(header) == 1 and any(sep in header[0] for sep in ";\t|")


def _build(
    file: str,
    header: tuple[str, ...],
    records: dict[str, np.ndarray],
    rows: np.ndarray,
    required: Sequence[str],
    optional: Sequence[str],
    allow_no_rows: bool,
    header_row: int | None,
) -> RawTable:
    dupes = sorted({h for h in header if header.count(h) > 1 and h in (*required, *optional)})
    if dupes:
        raise InputError(f"column {dupes[0]!r} appears more than once in the header",
                         file=file, row=header_row, column=dupes[0], value=",".join(header))
    missing = [c for c in required if c not in header]
    if missing:
        expected = ", ".join(required) + (
            f" ({', '.join(optional)} optional)" if optional else "")
        hint = ""
        if _one_column_of_many(header):
            hint = "; the header is a single column: separate columns with commas"
        elif cased := [h for h in header if h != h.lower() and h.lower() in missing]:
            hint = (f"; column names are lower case (did you mean {cased[0].lower()!r} for "
                    f"{cased[0]!r}?)")
        raise InputError(
            f"missing required column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(repr(m) for m in missing)}: expected columns {expected}; "
            f"found {', '.join(header) if header else 'none'}{hint}",
            file=file, row=header_row, column=missing[0], value=",".join(header),
        )
    if not len(rows) and not allow_no_rows:
        raise InputError(
            "the file has a header but no data rows: expected at least one observation",
            file=file, row=header_row,
        )
    keep = [*required, *(c for c in optional if c in header)]
    return RawTable(file=file, header=header, cells={c: records[c] for c in keep}, rows=rows)


def _split_number(header: list[str], fields: list[str]) -> str:
    """A hint where one field too many is a number a comma split: ``2,14`` (a decimal comma)
    or ``1,200`` (a thousands separator) written unquoted in the ``value`` column.

    Examples
    --------
    >>> _split_number(["ally", "period", "value"], ["POL", "2020", "2", "14"])
    ': the value 2,14 reads as two fields (a decimal comma or a thousands separator): write 2.14 or 214 as the number is meant, or quote it'
    >>> _split_number(["ally", "period", "value"], ["POL", "2020", "2", "x"])
    ''
    """
    if "value" not in header or len(fields) != len(header) + 1:
        return ""
    i = header.index("value")
    whole, rest = fields[i].strip(), fields[i + 1].strip()
    if not (re.fullmatch(r"[-+]?[0-9]+", whole) and re.fullmatch(r"[0-9]+", rest)):
        return ""
    return (f": the value {whole},{rest} reads as two fields (a decimal comma or a thousands "
            f"separator): write {whole}.{rest} or {whole}{rest} as the number is meant, or "
            "quote it")


def _read_csv(path: Path, file: str, may_end_early: set[str] = frozenset()
              ) -> tuple[tuple[str, ...], dict[str, np.ndarray], np.ndarray]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read the file: {exc.strerror or exc}", file=file) from None
    if not data.strip():
        raise InputError("the file is empty: expected a header line and data rows", file=file)
    text = _decode(data, file)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[str] | None = None
    records: list[list[str]] = []
    rows: list[int] = []
    prev_line = 0
    try:
        for fields in reader:
            line = prev_line + 1
            prev_line = reader.line_num
            if not any(f.strip() for f in fields):
                continue  # blank line, or an empty row such as ",,," (spreadsheet export)
            if header is None:
                header = [f.strip() for f in fields]
                if _one_column_of_many(header):
                    break  # the header's own error, not the first row with a comma in a cell
                continue
            if len(fields) < len(header) and set(header[len(fields):]) <= may_end_early:
                fields = [*fields, *[""] * (len(header) - len(fields))]
            if len(fields) != len(header):
                raise InputError(
                    f"expected {len(header)} fields ({', '.join(header)}), found {len(fields)}"
                    + _split_number(header, fields), file=file, row=line,
                    value=",".join(fields),
                )
            records.append([f.strip() for f in fields])
            rows.append(line)
    except csv.Error as exc:
        hint = ("; a field that begins with a double quote must end with one: quote the whole "
                'field and double each quote inside it, as in """bad"" news, again"'
                if '"' in str(exc) or "unexpected end of data" in str(exc)
                else "; where no cell is that long, a double quote never closed ran the rest of "
                "the file into one"
                if "field limit" in str(exc) else "")
        raise InputError(f"malformed CSV: {exc}{hint}", file=file, row=prev_line + 1) from None
    if header is None:
        raise InputError("the file is empty: expected a header line and data rows", file=file)
    cols = tuple(header)
    arr = np.array(records, dtype=object).reshape(len(records), len(cols))
    cells = {c: arr[:, j] for j, c in enumerate(cols)}
    return cols, cells, np.asarray(rows, dtype=np.int64)


def _decode(data: bytes, file: str) -> str:
    for bom, name in ((b"\xff\xfe\x00\x00", "UTF-32"), (b"\x00\x00\xfe\xff", "UTF-32"),
                      (b"\xff\xfe", "UTF-16"), (b"\xfe\xff", "UTF-16")):
        if data.startswith(bom):
            raise InputError(
                f"the file is {name} encoded (byte-order mark {bom.hex(' ').upper()}): "
                "expected UTF-8 text; save it as 'CSV UTF-8'",
                file=file, row=1,
            )
    if data.startswith(b"PK\x03\x04"):
        raise InputError("the file is a zip archive or an Excel workbook, not CSV text: "
                         "expected a UTF-8 CSV file (save as 'CSV UTF-8')", file=file)
    if data.startswith(b"PAR1"):
        raise InputError("the file is Parquet, not CSV: expected the suffix .parquet",
                         file=file)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]  # UTF-8 byte-order mark, as Excel writes it
    nul = data.find(b"\x00")
    if nul >= 0:
        raise InputError(
            "the file contains NUL bytes (UTF-16 text without a byte-order mark, or a binary "
            "file): expected UTF-8 text",
            file=file, row=data.count(b"\n", 0, nul) + 1,
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line_start = data.rfind(b"\n", 0, exc.start) + 1
        line_end = data.find(b"\n", exc.start)
        raw_line = data[line_start: line_end if line_end >= 0 else len(data)].rstrip(b"\r")
        column, value = _locate_bad_byte(data, raw_line, exc.start - line_start)
        raise InputError(
            f"not UTF-8 text: byte 0x{data[exc.start]:02X} cannot be decoded "
            "(latin-1 or Windows-1252?): expected UTF-8; re-save the file as UTF-8",
            file=file, row=data.count(b"\n", 0, exc.start) + 1, column=column, value=value,
        ) from None


def _locate_bad_byte(data: bytes, raw_line: bytes, offset: int) -> tuple[str | None, str]:
    """Column name and cell text (bad bytes escaped) holding an undecodable byte."""
    first_line = data.split(b"\n", 1)[0].rstrip(b"\r")
    try:
        header = next(csv.reader([first_line.decode("utf-8")]))
    except (UnicodeDecodeError, csv.Error, StopIteration):
        header = []
    field_index = raw_line[:offset].count(b",")  # good enough for unquoted cells
    cells = raw_line.split(b",")
    cell = cells[field_index] if field_index < len(cells) else raw_line
    value = cell.decode("utf-8", errors="backslashreplace").strip()
    column = header[field_index].strip() if field_index < len(header) else None
    return column, value


def _read_parquet(
    path: Path, file: str
) -> tuple[tuple[str, ...], dict[str, np.ndarray], np.ndarray]:
    try:
        import pyarrow.parquet as pq

        frame = pq.read_table(path).to_pandas()
        header = tuple(str(c).strip() for c in frame.columns)
        cells = {h: _column_text(frame.iloc[:, i]) for i, h in enumerate(header)}
    except Exception as exc:  # noqa: BLE001 - any failure of the reader is the file's fault
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise InputError(
            f"unreadable Parquet file ({type(exc).__name__}{': ' + detail if detail else ''}): "
            "expected a Parquet file as written by pandas.DataFrame.to_parquet",
            file=file,
        ) from None
    return header, cells, np.arange(1, len(frame) + 1, dtype=np.int64)


def _column_text(col: pd.Series) -> np.ndarray:
    """A column as text cells: floats written exactly, dates as YYYY-MM-DD, nulls as ``""``."""
    values = col.to_numpy(dtype=object)
    if pd.api.types.is_datetime64_any_dtype(col.dtype):
        return np.array(["" if pd.isna(v) else pd.Timestamp(v).strftime("%Y-%m-%d")
                         for v in values], dtype=object)
    out = np.empty(len(values), dtype=object)
    for i, v in enumerate(values):
        out[i] = _cell_text(v)
    return out


def _cell_text(v: object) -> str:
    if v is None or v is pd.NA or v is pd.NaT:
        return ""
    if isinstance(v, (bool, np.bool_)):
        return "1" if v else "0"
    if isinstance(v, (float, np.floating)):
        f = float(v)
        if f != f:  # pandas reads a Parquet null in a text column as NaN
            return ""
        return repr(f)
    if isinstance(v, bytes):
        return v.decode("utf-8", errors="backslashreplace").strip()
    if isinstance(v, pd.Timestamp):
        return v.strftime("%Y-%m-%d")
    if isinstance(v, pd.Period) and v.freqstr.startswith("Q"):
        return f"{v.year}-Q{v.quarter}"  # as the files write it: str() gives "2020Q1"
    return str(v).strip()


# ---------------------------------------------------------------------- shared checks
def check_filled(problems: Problems, table: RawTable, column: str, what: str) -> None:
    """Flag empty cells of a required text column."""
    cells = table.column(column)
    problems.check(cells == "", column, cells, f"missing {what}: expected one in every row")


def check_repeated(
    problems: Problems,
    keys: Sequence[np.ndarray],
    column: str,
    values: Sequence[object],
    reason: Callable[[int, int], str],
    among: np.ndarray | None = None,
) -> None:
    """Flag every row whose ``keys`` equal an earlier row's, comparing only rows without a
    problem so far (and in ``among``); ``reason(i, first_row)`` says why, with the file row
    of the earlier one.
    """
    usable = problems.ok if among is None else problems.ok & among
    joined = pd.Series(["\x1f".join(map(str, k)) for k in zip(*keys)], dtype=object)
    joined[~usable] = pd.NA
    repeated = (joined.duplicated(keep="first") & joined.notna()).to_numpy(dtype=bool)
    if not repeated.any():
        return
    first: dict[str, int] = {}
    for key, row in zip(joined[usable & ~repeated], problems.table.rows[usable & ~repeated]):
        first.setdefault(key, int(row))
    problems.check(repeated, column, values, lambda i: reason(i, first[joined[i]]))


def check_choice(
    problems: Problems,
    table: RawTable,
    column: str,
    choices: Iterable[str],
    reason: str,
) -> None:
    """Flag cells not among ``choices``; the message suggests a close match."""
    choices = list(choices)
    cells = table.column(column)
    # Python's strings, not numpy's fixed-width ones, which drop trailing NULs: 'JPN\x00'
    # passed as JPN, and a catalog name ending in one failed a lookup later (a KeyError)
    allowed = set(choices)
    bad = np.fromiter((str(c) not in allowed for c in cells), dtype=bool,
                      count=len(cells)) & (cells != "")

    def why(i: int) -> str:
        header = " (a header line repeated, as where two files were pasted together?)" \
            if str(cells[i]) == column else ""
        return f"{reason}{expected_one_of(str(cells[i]), choices)}{header}"

    problems.check(bad, column, cells, why)


def parse_month(text: str) -> int | None:
    """A ``YYYY-MM`` month as a month number (``year * 12 + month - 1``), or None if malformed.

    Examples
    --------
    >>> parse_month("2020-01"), parse_month("2020-13")
    (24240, None)
    """
    m = _MONTH_RE.fullmatch(text.strip()) if isinstance(text, str) else None
    if m is None:
        return None
    return int(m.group(1)) * 12 + int(m.group(2)) - 1


def exact_month(text: str) -> int | None:
    """A month written exactly ``YYYY-MM``, with no space around it, as its month number; else None.

    :func:`parse_month` reads a data cell, whose surrounding spaces do not matter; a month the user
    names (a run's month, a catalog's start) or one a run file records must be written as is.

    Examples
    --------
    >>> exact_month("2020-01"), exact_month(" 2020-01"), exact_month("2020-1")
    (24240, None, None)
    """
    return parse_month(text) if isinstance(text, str) and text == text.strip() else None


def outside_the_years(text: object, pattern: str = MONTH_PATTERN) -> str | None:
    """Why ``text``, written as ``pattern`` asks (a month by default) but with a year outside
    1000-2999, is not read; None for any other text. Such a period is said so, not "malformed".

    Examples
    --------
    >>> outside_the_years("9999-12")
    'year 9999 is outside 1000 to 2999, the years the package reads'
    >>> outside_the_years("2026-12") is None, outside_the_years("9999-13") is None
    (True, True)
    """
    if not isinstance(text, str) or re.fullmatch(pattern, text) is not None:
        return None
    shaped = re.fullmatch(pattern.replace(YEAR_PATTERN, "([0-9]{4})", 1), text)
    return (f"year {shaped.group(1)} is outside 1000 to 2999, the years the package reads"
            if shaped is not None else None)


def not_a_month(what: str, text: object, expected: str, pattern: str = MONTH_PATTERN) -> str:
    """What is wrong with ``text``, given as ``what`` and not read as a month: its year is out of
    range (:func:`outside_the_years`), or it is malformed and ``expected`` says what was meant.

    Examples
    --------
    >>> not_a_month("start", "9999-01", "expected YYYY-MM")
    'start out of range: year 9999 is outside 1000 to 2999, the years the package reads'
    >>> not_a_month("start", "2026-1", "expected YYYY-MM")
    'malformed start: expected YYYY-MM'
    """
    why = outside_the_years(text.strip() if isinstance(text, str) else text, pattern)
    return f"{what} out of range: {why}" if why else f"malformed {what}: {expected}"


def check_month(month: str) -> str:
    """``month`` if it is ``YYYY-MM`` (:func:`exact_month`), else :class:`InputError`.

    Examples
    --------
    >>> check_month("2026-03")
    '2026-03'
    """
    if exact_month(month) is None:
        raise InputError(not_a_month("month", month, "expected YYYY-MM, e.g. 2026-03"),
                         parameter="month", value=month)
    return month


def run_table(text: str) -> pd.DataFrame:
    r"""A CSV table a run wrote (``forecast.csv``, ``headline.csv``, …), read back as written.

    Ally, signal and period codes stay text, and only an empty cell is missing: pandas'
    guessing read the ally code ``NA`` as missing and ``036`` as the number 36, so such an ally
    lost its change since the previous run.

    Examples
    --------
    >>> run_table("ally,period,credibility\nNA,2026-03,0.5\n036,2026-03,\n")
      ally   period  credibility
    0   NA  2026-03          0.5
    1  036  2026-03          NaN
    """
    text_columns = ("period", "ally", "signal", "source", "note")  # labels stay as written
    return pd.read_csv(io.StringIO(text), dtype=dict.fromkeys(text_columns, str),
                       keep_default_na=False, na_values=[""])


def month_text(value: object) -> str | None:
    """A month given as ``YYYY-MM`` text (spaces around it allowed) or a ``pd.Period`` as
    ``YYYY-MM``; None for anything else.

    Examples
    --------
    >>> month_text(" 2026-02"), month_text(pd.Period("2026-02", "M")), month_text("2026-2")
    ('2026-02', '2026-02', None)
    >>> month_text(pd.Period("2026Q1", "Q")) is None  # a quarter is no month
    True
    """
    if isinstance(value, pd.Period):
        return value.strftime("%Y-%m") if value.freqstr == "M" else None
    number = parse_month(value) if isinstance(value, str) else None
    return None if number is None else format_month(number)


#: the end of a message about data after the forecast month: the way to run an earlier month
REPLAY_HINT = ("; to replay an earlier month, run on a copy of the data cut at it "
               "(docs/monthly-run.md), or in Python load without until and cut the panel: "
               "panel.truncate(month)")


def format_month(number: int) -> str:
    """Inverse of :func:`parse_month`.

    Examples
    --------
    >>> format_month(24240)
    '2020-01'
    """
    return f"{number // 12:04d}-{number % 12 + 1:02d}"


def as_catalog(catalog: str | Path | Catalog) -> Catalog:
    """A :class:`~forecast.catalog.Catalog`, reading it first if given as a path."""
    if isinstance(catalog, Catalog):
        return catalog
    if isinstance(catalog, (str, Path)):
        return read_catalog(catalog)
    raise InputError(f"expected a catalog path or a Catalog, got {type(catalog).__name__}",
                     parameter="catalog")


def parse_until(until: object) -> int | None:
    """The forecast month (``YYYY-MM``) as a month number; None stays None."""
    if until is None:
        return None
    month = parse_month(str(until))
    if month is None:
        raise InputError(not_a_month("forecast month", str(until), "expected YYYY-MM"),
                         parameter="until", value=str(until))
    return month
