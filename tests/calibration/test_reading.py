"""Reading registers: Chinese headers and dates, every malformed row reported, quarantine exact."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import sim
from calibration.dates import parse_date
from calibration.reading import read_register, write_quarantine
from sim.scenario.errors import ScenarioError
from tests.scenarios import SMALL

EXAMPLES = Path(__file__).resolve().parents[2] / "calibration" / "examples"


@pytest.fixture(scope="module")
def base() -> sim.Scenario:
    return sim.load_scenario(SMALL)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-05", "2024-03-05 00:00"),
        ("2024/3/5", "2024-03-05 00:00"),
        ("2024年3月5日", "2024-03-05 00:00"),
        ("2024.03.05", "2024-03-05 00:00"),
        ("2024-03-05 08:30", "2024-03-05 08:30"),
        ("2024/3/5 8:30:15", "2024-03-05 08:30:15"),
        ("2024年3月5日 8时30分", "2024-03-05 08:30"),
        ("2024-03-05T10:00:00", "2024-03-05 10:00"),
    ],
)
def test_dates_in_the_usual_chinese_formats(text: str, expected: str) -> None:
    assert parse_date(text) == pd.Timestamp(expected)


@pytest.mark.parametrize("text", ["2024-02-30", "3/5/2024", "明天", "2024-03-05 25:00", "45000"])
def test_impossible_or_ambiguous_dates_are_not_guessed(text: str) -> None:
    assert parse_date(text) is None


def test_example_csv_and_xlsx_read_the_same(base: sim.Scenario) -> None:
    csv = read_register(EXAMPLES / "register.csv", base)
    xlsx = read_register(EXAMPLES / "register.xlsx", base)
    assert csv.bad_rows == 0 and xlsx.bad_rows == 0
    assert csv.rows_read == xlsx.rows_read > 500
    # Chinese headers were mapped: 调处层级 → level with values 网格/村级/乡镇/区级.
    assert set(csv.table["level"]) <= set(sim.LEVELS)
    assert csv.headers["level"] == "调处层级"
    cols = ["case_id", "step", "level", "village", "category", "outcome", "entered_date"]
    pd.testing.assert_frame_equal(csv.table[cols], xlsx.table[cols], check_dtype=False)


# --- Malformed rows ------------------------------------------------------------------------


def _good_rows() -> pd.DataFrame:
    """The first cases of the example register, as text: a valid register to break."""
    table = pd.read_csv(EXAMPLES / "register.csv", dtype=str, keep_default_na=False)
    ids = table["案件编号"].unique()[:40]
    return table[table["案件编号"].isin(ids)].reset_index(drop=True)


def _pick(table: pd.DataFrame, taken: set[int], **where: str) -> int:
    """Index of a row matching ``where`` not used by another breakage."""
    mask = pd.Series(True, index=table.index)
    for col, val in where.items():
        mask &= table[col] == val
    for i in table.index[mask]:
        if i not in taken:
            taken.add(i)
            return int(i)
    raise AssertionError(f"no row with {where}")


def _broken_register(folder: Path) -> tuple[Path, dict[int, str], int]:
    """A register with one malformation per kind; returns the file, {row number: column}, N."""
    table = _good_rows()
    taken: set[int] = set()
    bad: dict[int, str] = {}  # file row number (header = 1) → column the message must name

    def breaks(index: int, column: str, value: str, named: str | None = None) -> None:
        table.loc[index, column] = value
        bad[index + 2] = named or column

    closed = dict(调处结果="调解成功")
    breaks(_pick(table, taken, **closed), "受理时间", "2024-13-45", "entered_date")  # bad date
    i = _pick(table, taken, **closed)  # closed before received
    breaks(i, "办结时间", "2022-01-01 00:00", "ended_date")
    breaks(_pick(table, taken), "调处层级", "省级", "level")  # unknown level
    breaks(_pick(table, taken), "村(社区)", "Jiazhen-V99", "village")  # unknown village
    breaks(_pick(table, taken), "案件编号", "", "case_id")  # missing case id
    breaks(_pick(table, taken), "乡镇(街道)", "丙镇", "township")  # unknown township
    breaks(_pick(table, taken), "纠纷类型", "海事", "category")  # unknown category
    breaks(_pick(table, taken), "纠纷等级", "特大", "severity")  # unknown severity
    breaks(_pick(table, taken), "调处结果", "搁置", "outcome")  # unknown outcome
    breaks(_pick(table, taken, **closed), "办结时间", "", "ended_date")  # closed, no end
    breaks(_pick(table, taken), "调处步骤", "二", "step")  # step not a number
    breaks(_pick(table, taken, **closed), "发生时间", "2030-01-01", "entered_date")  # before arisen
    breaks(_pick(table, taken), "是否敏感", "也许", "sensitive")  # not yes/no
    i = _pick(table, taken, 调处结果="调解成功", 调处层级="村级")  # on the spot at the village
    breaks(i, "调处结果", "当场调处", "outcome")

    # Whole-row faults, appended at the end: a duplicate step, a step after the conclusion.
    src = _pick(table, taken, 调处结果="调解不成")
    duplicate = table.loc[[src]].copy()
    resolved = table.loc[[_pick(table, taken, 调处结果="调解成功", 调处层级="网格")]].copy()
    resolved["调处步骤"] = str(int(resolved["调处步骤"].iloc[0]) + 1)
    resolved["调处层级"] = "村级"
    table = pd.concat([table, duplicate, resolved], ignore_index=True)
    bad[len(table)] = "step"  # the duplicate: index len − 2, file row len
    bad[len(table) + 1] = "step"  # the step after the conclusion: the last row
    path = folder / "broken.csv"
    table.to_csv(path, index=False)
    return path, bad, len(table)


def test_every_malformed_row_is_reported_with_its_row_number(
    base: sim.Scenario, tmp_path: Path
) -> None:
    path, bad, n = _broken_register(tmp_path)
    assert len(bad) >= 16  # 14 cell faults + duplicate step + step after conclusion
    register = read_register(path, base)
    text = [str(p) for p in register.problems]
    for row, column in bad.items():
        assert any(f"row {row}, column {column}" in t for t in text), (row, column, text)
    # Every message names the file, the row and column, and what was expected.
    assert all(t.startswith(str(path)) and ": row " in t for t in text)
    # No other row is blamed: the good rows of the same cases stay good.
    blamed = {int(t.split(": row ")[1].split(",")[0]) for t in text}
    assert blamed == set(bad)
    assert register.rows_read == n
    assert len(register.table) == n - len(bad)  # never dropped silently


def test_quarantine_holds_exactly_the_bad_rows(base: sim.Scenario, tmp_path: Path) -> None:
    path, bad, _ = _broken_register(tmp_path)
    register = read_register(path, base)
    out = write_quarantine(register, tmp_path / "q.csv")
    q = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert sorted(q["row"].astype(int)) == sorted(bad)
    original = pd.read_csv(path, dtype=str, keep_default_na=False)
    for _, rec in q.iterrows():
        # Each quarantined row is the file's row, unchanged, with its problems beside it.
        source = original.iloc[int(rec["row"]) - 2]
        assert list(rec[original.columns]) == list(source)
        assert rec["problems"]
    assert set(register.table["row"]).isdisjoint(bad)


def test_strict_stops_at_the_first_problem(base: sim.Scenario, tmp_path: Path) -> None:
    path, bad, _ = _broken_register(tmp_path)
    with pytest.raises(ScenarioError) as err:
        read_register(path, base, strict=True)
    assert len(err.value.problems) == 1
    assert f"row {min(bad)}, column" in str(err.value.problems[0])


def test_missing_columns_are_one_problem_naming_them(base: sim.Scenario, tmp_path: Path) -> None:
    table = _good_rows().drop(columns=["调处结果", "受理时间"])
    path = tmp_path / "cols.csv"
    table.to_csv(path, index=False)
    with pytest.raises(ScenarioError) as err:
        read_register(path, base)
    message = str(err.value.problems[0])
    assert "outcome (调处结果)" in message and "entered_date (受理时间)" in message


def test_gbk_csv_from_chinese_excel_is_read(base: sim.Scenario, tmp_path: Path) -> None:
    path = tmp_path / "gbk.csv"
    _good_rows().to_csv(path, index=False, encoding="gb18030")
    assert read_register(path, base).bad_rows == 0


# --- Messy registers (issue 16) ------------------------------------------------------------

REPEATED_ID = """\
case_id,step,level,township,village,category,severity,entered_date,ended_date,outcome
A1,0,grid,甲镇,Jiazhen-V01,neighbour,minor,2023-01-01 08:00,2023-01-02 08:00,escalated_failed
A1,1,village,甲镇,Jiazhen-V01,neighbour,minor,2023-01-03 08:00,2023-01-04 08:00,resolved
A2,0,grid,甲镇,Jiazhen-V02,family,minor,2023-01-05 08:00,2023-01-06 08:00,resolved
A1,0,grid,甲镇,Jiazhen-V03,land,minor,2023-02-01 08:00,2023-02-01 09:00,resolved
"""


def test_a_repeated_case_id_sets_aside_only_the_repeated_row(
    base: sim.Scenario, tmp_path: Path
) -> None:
    """The repeated row (row 5) is bad; it must not count as the case's conclusion, or the
    case's real later step (row 3) would be quarantined with it."""
    path = tmp_path / "repeated.csv"
    path.write_text(REPEATED_ID, encoding="utf-8")
    register = read_register(path, base)
    assert list(register.quarantine["row"]) == [5]
    assert sorted(register.table["row"]) == [2, 3, 4]
    assert [p.key for p in register.problems] == ["row 5, column step"]


def test_a_bad_concluding_row_does_not_blame_the_later_steps(
    base: sim.Scenario, tmp_path: Path
) -> None:
    """A row set aside for its own fault (here a bad date) is not a conclusion of its case."""
    text = REPEATED_ID.splitlines()
    # Row 2 concludes A1 (resolved) but has an impossible end date; row 3 is A1's real step 1.
    text[1] = text[1].replace("2023-01-02 08:00,escalated_failed", "2023-02-30 08:00,resolved")
    path = tmp_path / "bad_conclusion.csv"
    path.write_text("\n".join(text[:4]) + "\n", encoding="utf-8")
    register = read_register(path, base)
    assert list(register.quarantine["row"]) == [2]


def _messy(table: pd.DataFrame) -> tuple[pd.DataFrame, set[int]]:
    """A few of the example's rows broken (file row numbers returned), and a repeated id."""
    table = table.copy()
    bad = {5, 9, 14}
    table.loc[3, "受理时间"] = "2024-02-30"
    table.loc[7, "纠纷等级"] = "特大"
    table.loc[12, "村(社区)"] = "Jiazhen-V99"
    repeat = table.iloc[[0]].copy()  # a case's first step entered twice
    table = pd.concat([table, repeat], ignore_index=True)
    bad.add(len(table) + 1)
    return table, bad


def test_utf8_bom_csv_with_chinese_headers_quarantines_exactly_its_bad_rows(
    base: sim.Scenario, tmp_path: Path
) -> None:
    table, bad = _messy(_good_rows())
    path = tmp_path / "bom.csv"
    table.to_csv(path, index=False, encoding="utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    register = read_register(path, base)
    assert register.headers["case_id"] == "案件编号"  # the BOM is not part of the header
    assert set(register.quarantine["row"]) == bad
    assert len(register.table) == len(table) - len(bad)


def test_xlsx_quarantines_exactly_its_bad_rows(base: sim.Scenario, tmp_path: Path) -> None:
    table, bad = _messy(_good_rows())
    path = tmp_path / "messy.xlsx"
    table.to_excel(path, index=False, sheet_name="登记表")
    register = read_register(path, base)
    assert set(register.quarantine["row"]) == bad
    assert len(register.table) == len(table) - len(bad)


def test_blank_lines_keep_the_row_numbers_a_person_sees(base: sim.Scenario, tmp_path: Path) -> None:
    """An empty line is not a case, and the rows below it keep their numbers in the file."""
    lines = REPEATED_ID.splitlines()
    path = tmp_path / "blank.csv"
    # file rows: 1 header, 2 A1/0, 3 blank, 4 A1/1, 5 A2/0, 6 blank, 7 the repeated A1/0
    path.write_text("\n".join([*lines[:2], "", *lines[2:4], ",,,,,,,,,", lines[4]]) + "\n")
    register = read_register(path, base)
    assert list(register.quarantine["row"]) == [7]
    assert sorted(register.table["row"]) == [2, 4, 5]
    assert register.rows_read == 4
