"""Opening a register file (登记表): CSV in UTF-8 or GB18030, or an Excel workbook.

One file reader for every register the toolkit reads: calibration's historical registers and a
scenario's starting register (``initial_state.register_file``). Cells come back as objects,
text as text (no number or date guessing). What can be wrong with the file itself is said here,
naming the file: a folder, a CSV renamed ``.xlsx``, a workbook cut short, a CSV saved as Big5
(繁体, Traditional Chinese) that GB18030 would read as mojibake, and Excel formula cells whose
value was never stored (a workbook written by a program, not saved by Excel), which come back as
:class:`Formula` for :func:`formula_problems` to name by cell. pandas and openpyxl are imported
when a register is read: ``import sim`` and a scenario without a register need neither.
"""

from __future__ import annotations

import re
import unicodedata
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

from sim.scenario.errors import InputProblem, ScenarioError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Formula", "formula_problems", "read_register"]

_MISSING = InputProblem.MISSING


class Formula(str):
    """An Excel formula cell with no stored value: its formula text (``=SUM(A1:A3)``)."""


def read_register(
    path: Path, shown: str, sheet: str | int | None, known: frozenset[str], hint: str = ""
) -> pd.DataFrame:
    """The register's cells as objects; Excel dates are dates. Bad files raise ScenarioError.

    ``known`` are Chinese characters a register of this kind holds (its headers, values or
    place names): a CSV that shows many more of them read as Big5 than as GB18030 is Big5.
    ``hint`` is added to the Big5 message (where the expected headers are described).
    """
    if path.is_dir():
        raise ScenarioError([InputProblem(shown, "", _MISSING, "is a folder; expected a register")])
    if not path.is_file():
        raise ScenarioError([InputProblem(shown, "", _MISSING, "register file not found")])
    suffix = path.suffix.lower()
    try:
        if suffix in (".xlsx", ".xlsm"):
            return _read_excel(path, shown, sheet)
        if suffix in (".csv", ".txt", ""):
            return _read_csv(path, shown, known, hint)
    except (OSError, ValueError) as exc:
        raise ScenarioError(
            [InputProblem(shown, "", _MISSING, f"cannot read the register: {exc}")]
        ) from None
    raise ScenarioError(
        [InputProblem(shown, "", _MISSING, "expected a .csv or .xlsx register (登记表)")]
    )


# --- CSV -----------------------------------------------------------------------------------


def _read_csv(path: Path, shown: str, known: frozenset[str], hint: str) -> pd.DataFrame:
    import pandas as pd

    # Excel on a Chinese Windows saves CSV as GB18030 (GBK); try UTF-8 first. GB18030 decodes
    # almost any bytes, Big5 ones included, into wrong characters: that case is caught first.
    for encoding in ("utf-8-sig", "gb18030"):
        if encoding == "gb18030" and _looks_big5(path, known):
            raise ScenarioError(
                [
                    InputProblem(
                        shown,
                        "",
                        _MISSING,
                        "text in Big5 (繁体中文, Traditional Chinese), which would be read as "
                        "garbled characters; save the register as UTF-8 or GB18030 (GBK)" + hint,
                    )
                ]
            )
        try:
            # Blank lines are kept (as empty rows, skipped later) so that the rows below them
            # keep the numbers a person sees in the file.
            return pd.read_csv(
                path, dtype=str, keep_default_na=False, encoding=encoding, skip_blank_lines=False
            )
        except UnicodeDecodeError:
            continue
        except pd.errors.EmptyDataError:
            raise ScenarioError([InputProblem(shown, "", _MISSING, "the file is empty")]) from None
        except pd.errors.ParserError as exc:
            raise ScenarioError(
                [InputProblem(shown, "", _MISSING, f"malformed CSV: {exc}")]
            ) from None
    raise ScenarioError(
        [InputProblem(shown, "", _MISSING, "text encoding not UTF-8 or GB18030 (GBK)")]
    )


_SAMPLE_BYTES = 1 << 16  # the header and some hundred rows: enough to tell the encodings apart


def _looks_big5(path: Path, known: frozenset[str]) -> bool:
    """True when the start of ``path`` reads as ``known`` characters in Big5 more than in
    GB18030.

    Many characters of a register are the same in simplified and traditional script (案件, 受理,
    投入, 小事, 是否 …), so a Big5 register read as Big5 shows many of them; read as GB18030 the
    same bytes become rare characters that no register has.
    """
    with path.open("rb") as fh:
        sample = fh.read(_SAMPLE_BYTES)

    def score(encoding: str) -> int:
        return sum(c in known for c in sample.decode(encoding, errors="replace"))

    big5 = score("big5")
    return big5 > 2 * score("gb18030") and big5 >= 4


# --- Excel ---------------------------------------------------------------------------------


def _plain(name: object) -> str:
    """A sheet name without width, case or spaces mattering."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(name)).strip().lower())


def _read_excel(path: Path, shown: str, sheet: str | int | None) -> pd.DataFrame:
    import pandas as pd

    _check_workbook(path, shown)
    try:
        # Closed at once: an open workbook holds a file descriptor until garbage collection,
        # which the model pauses while it runs.
        with pd.ExcelFile(path, engine="openpyxl") as book:
            names = book.sheet_names
            if sheet is None:
                # The register is the first sheet unless one is named so (notes may come first).
                wanted = [n for n in names if _plain(n) in ("登记表", "register")]
                sheet = wanted[0] if wanted else names[0]
            elif isinstance(sheet, str) and sheet not in names:
                raise ScenarioError(
                    [InputProblem(shown, "sheet", sheet, f"one of the workbook's sheets {names}")]
                )
            raw = pd.read_excel(book, sheet_name=sheet, dtype=object)
    except (zipfile.BadZipFile, KeyError, EOFError) as exc:  # parts missing inside the zip
        raise ScenarioError(
            [InputProblem(shown, "", _MISSING, f"a damaged .xlsx workbook ({exc})")]
        ) from None
    if _has_formulas(path):
        _mark_formulas(path, sheet, raw)
    return raw


def _check_workbook(path: Path, shown: str) -> None:
    """An .xlsx is a zip archive: say what the file is when it is not a whole one."""
    with path.open("rb") as fh:
        head = fh.read(4096)
    if not head.startswith(b"PK"):
        try:
            head.decode("utf-8")
            what = "it is text (a CSV renamed .xlsx?): give it a .csv name"
        except UnicodeDecodeError:
            what = "it is neither a workbook nor text"
        raise ScenarioError([InputProblem(shown, "", _MISSING, f"not an .xlsx workbook; {what}")])
    if not zipfile.is_zipfile(path):
        raise ScenarioError(
            [
                InputProblem(
                    shown, "", _MISSING, "a damaged or truncated .xlsx workbook (save it again)"
                )
            ]
        )


_FORMULA_TAG = re.compile(rb"<f[ >]")


def _has_formulas(path: Path) -> bool:
    """Any formula in any sheet (a cheap look into the zip before a second, slower read)."""
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            sheet = name.startswith("xl/worksheets/") and name.endswith(".xml")
            if sheet and _FORMULA_TAG.search(archive.read(name)):
                return True
    return False


def _mark_formulas(path: Path, sheet: str | int, raw: pd.DataFrame) -> None:
    """Put a :class:`Formula` in ``raw`` where the sheet has a formula and no stored value.

    pandas reads the stored values only (``data_only``), so such a cell came back empty; the
    formulas are read again here. Sheet row 1 is the header, row r is ``raw`` row r − 2.
    """
    import openpyxl
    import pandas as pd

    book = openpyxl.load_workbook(path, read_only=True, data_only=False)
    try:
        ws = book[sheet] if isinstance(sheet, str) else book.worksheets[sheet]
        for r, cells in enumerate(ws.iter_rows(min_row=2, values_only=True)):
            for c, value in enumerate(cells):
                if (
                    isinstance(value, str)
                    and value.startswith("=")
                    and r < len(raw)
                    and c < raw.shape[1]
                    and pd.isna(raw.iat[r, c])
                ):
                    raw.iat[r, c] = Formula(value)
    finally:
        book.close()


def formula_problems(cells: dict[str, object], number: int, shown: str) -> dict[str, InputProblem]:
    """The formula cells of one row (column → problem), to replace what the row's checks said
    of those columns (an empty cell is "a date" there, but the fault is the formula)."""
    return {
        column: InputProblem(
            shown,
            f"row {number}, column {column}",
            str(value),
            "a value, but the cell is a formula without a stored value (open the workbook in "
            "Excel and save it, or paste the values)",
        )
        for column, value in cells.items()
        if isinstance(value, Formula)
    }
