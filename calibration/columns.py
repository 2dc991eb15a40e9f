"""The register's words: English column names of docs/register.md and the Chinese an office uses.

A district office keeps the 《矛盾纠纷调处三级四步登记表》 in Excel with Chinese headers
(案件编号, 调处层级, 受理时间 …) and Chinese values (村级, 调解成功 …); the simulator writes
the same register with English names. Both are mapped here to one canonical vocabulary, so the
rest of
:mod:`calibration` never sees a Chinese string. Headers and values are compared after
:func:`normalise` (no spaces, half-width brackets, lower case), so ``乡镇（街道）`` and
``乡镇(街道)`` are the same header.
"""

from __future__ import annotations

import re
import unicodedata

from sim.scenario.vocabulary import KINDS, OUTCOMES, SEVERITIES, VENUES

# Committees around the ladder (sector, enterprise, …) are venues of the register (VENUES);
# calibration accepts their rows but fits the ladder levels only.

__all__ = [
    "CHANNEL_VALUES",
    "COLUMN_ALIASES",
    "COLUMN_LABELS",
    "DATE_COLUMNS",
    "GRADE_VALUES",
    "KIND_VALUES",
    "LEVEL_VALUES",
    "OPTIONAL_COLUMNS",
    "OUTCOME_VALUES",
    "QUALITY_FIELDS",
    "REQUIRED_COLUMNS",
    "SEVERITY_VALUES",
    "TRUTH_VALUES",
    "VENUES",
    "canonical_column",
    "normalise",
]

# Columns a register must have for any fit; the others are used when present.
QUALITY_FIELDS: tuple[str, ...] = (
    "training_hours",
    "mediator_grade",
    "mediator_cases_per_year",
    "effort_given_hours",
    "expert",
)
REQUIRED_COLUMNS: tuple[str, ...] = (
    "case_id",
    "level",
    "township",
    "village",
    "category",
    "severity",
    "entered_date",
    "ended_date",
    "outcome",
)
OPTIONAL_COLUMNS: tuple[str, ...] = (
    "step",
    "grid",
    "severity_initial",
    "sensitive",
    "channel",
    "arisen_date",
    "mediator_kind",
    "effort_hours",
    "initial",
    # The mediator's fields of a register with mechanisms.quality on (calibration/effects.py).
    *QUALITY_FIELDS,
)
DATE_COLUMNS: tuple[str, ...] = ("arisen_date", "entered_date", "ended_date")

# Chinese header of each canonical column, as written in the example register (.xlsx).
COLUMN_LABELS: dict[str, str] = {
    "case_id": "案件编号",
    "step": "调处步骤",
    "level": "调处层级",
    "township": "乡镇(街道)",
    "village": "村(社区)",
    "grid": "网格",
    "category": "纠纷类型",
    "severity_initial": "初始等级",
    "severity": "纠纷等级",
    "sensitive": "是否敏感",
    "channel": "报送渠道",
    "arisen_date": "发生时间",
    "entered_date": "受理时间",
    "ended_date": "办结时间",
    "outcome": "调处结果",
    "mediator_kind": "调解员类别",
    "effort_hours": "投入工时",
    "initial": "存量案件",
    "training_hours": "培训时数",
    "mediator_grade": "调解员等级",
    "mediator_cases_per_year": "年办案数",
    "effort_given_hours": "实际投入工时",
    "expert": "专家参与",
}

_ALIASES: dict[str, tuple[str, ...]] = {
    "case_id": ("案件编号", "编号", "案件号", "登记编号", "纠纷编号"),
    "step": ("调处步骤", "步骤", "序号", "步骤序号", "移交次序", "step_no"),
    "level": ("调处层级", "层级", "调处级别", "受理层级", "受理单位层级"),
    "township": ("乡镇(街道)", "乡镇", "街道", "乡镇街道", "所属乡镇"),
    "village": ("村(社区)", "村", "社区", "村社区", "所属村(社区)", "所属村"),
    "grid": ("网格", "所属网格", "网格名称"),
    "category": ("纠纷类型", "类型", "纠纷类别", "案件类型"),
    "severity_initial": ("初始等级", "发生时等级", "原始等级"),
    "severity": ("纠纷等级", "等级", "纠纷程度", "难易程度", "严重程度"),
    "sensitive": ("是否敏感", "敏感", "涉敏感"),
    "channel": ("报送渠道", "来源渠道", "渠道", "来源", "受理方式", "报送方式"),
    "arisen_date": ("发生时间", "发生日期", "纠纷发生时间"),
    "entered_date": ("受理时间", "受理日期", "登记时间", "登记日期"),
    "ended_date": ("办结时间", "办结日期", "结案时间", "结案日期"),
    "outcome": ("调处结果", "结果", "办理结果", "处理结果", "调解结果"),
    "mediator_kind": ("调解员类别", "调解员类型", "调解员身份", "kind"),
    "effort_hours": ("投入工时", "工时", "调解工时", "工时(小时)"),
    "initial": ("存量案件", "存量", "是否存量"),
    "training_hours": ("培训时数", "年培训时数", "培训学时"),
    "mediator_grade": ("调解员等级", "等级评定", "调解员星级"),
    "mediator_cases_per_year": ("年办案数", "调解员年办案数", "办案经验"),
    "effort_given_hours": ("实际投入工时", "实际工时"),
    "expert": ("专家参与", "是否专家参与", "专家"),
}


def normalise(text: object) -> str:
    """Compare headers and labels without width, case, spaces or bracket style mattering."""
    s = unicodedata.normalize("NFKC", str(text)).strip().lower()
    return re.sub(r"\s+", "", s)


COLUMN_ALIASES: dict[str, str] = {}
for _canon, _names in _ALIASES.items():
    for _name in (_canon, *_names):
        COLUMN_ALIASES[normalise(_name)] = _canon
# A sim register also has float-day columns arisen/entered/ended (days from the run's start);
# they are not aliases of the *_date columns and are ignored.


def canonical_column(header: object) -> str | None:
    """The canonical column a header stands for, or None for a column calibration ignores."""
    return COLUMN_ALIASES.get(normalise(header))


def _values(table: dict[str, tuple[str, ...]], allowed: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {normalise(name): name for name in allowed}
    for canon, labels in table.items():
        assert canon in allowed, canon
        for label in (canon, *labels):
            out[normalise(label)] = canon
    return out


LEVEL_VALUES: dict[str, str] = _values(
    {
        "grid": ("网格", "网格级", "网格调", "网格员"),
        "village": ("村", "村级", "村级调", "村(社区)", "社区", "村社区", "村调委会"),
        "township": ("乡镇", "乡镇级", "乡镇调", "乡镇(街道)", "镇级", "街道", "镇", "乡"),
        "district": ("区", "区级", "区级调", "县级", "县", "矛调中心", "区矛调中心"),
    },
    VENUES,
)

OUTCOME_VALUES: dict[str, str] = _values(
    {
        "resolved_on_the_spot": ("当场调处", "当场化解", "现场化解"),
        "resolved": ("调解成功", "化解", "已化解", "成功", "办结化解"),
        "escalated_failed": ("调解不成", "调解不成上报", "上报", "逐级上报", "调解失败"),
        "escalated_time_limit": ("超期上报", "超期", "超时上报", "逾期上报"),
        "escalated_no_mediator": ("无调解员上报", "无调解员", "直接上报"),
        "unresolved": ("未化解", "调解终结", "转诉讼", "转信访"),
        "open": ("在办", "办理中", "未办结", "调解中"),
    },
    OUTCOMES,
)

SEVERITY_VALUES: dict[str, str] = _values(
    {
        "minor": ("小事", "一般", "一般纠纷", "简单"),
        "major": ("大事", "较大", "较大纠纷", "复杂"),
        "serious": ("重大疑难", "重大", "疑难", "重大疑难纠纷"),
    },
    SEVERITIES,
)

# Channels of sim.model.replication.CHANNELS (not imported: calibration reads registers, not the
# model).
CHANNEL_VALUES: dict[str, str] = _values(
    {
        "sweep": ("排查", "网格排查", "走访排查", "集中排查"),
        "self_report": ("自行申请", "群众申请", "来访", "浙里调", "12348", "窗口", "当事人申请"),
        "online": ("线上", "平安通", "四平台", "基层治理四平台", "在线"),
        "offline": ("线下", "电话", "钉钉", "微信"),
        "initial": ("存量",),
        "direct": ("直接",),
        "in_firm": ("企业内部", "企业调委会"),
        "referral": ("委派", "委托", "诉前委派", "诉调衔接", "移送"),
    },
    ("sweep", "self_report", "online", "offline", "initial", "direct", "in_firm", "referral"),
)

KIND_VALUES: dict[str, str] = _values(
    {"full_time": ("专职", "专职调解员"), "part_time": ("兼职", "兼职调解员", "志愿者")},
    KINDS,
)

GRADE_VALUES: dict[str, str] = _values(
    {"gold_medal": ("金牌", "金牌调解员"), "standard": ("普通", "标准", "一般")},
    ("standard", "gold_medal"),
)

TRUTH_VALUES: dict[str, bool] = {
    **{normalise(x): True for x in ("true", "1", "yes", "y", "是", "敏感", "对", "√")},
    **{normalise(x): False for x in ("false", "0", "no", "n", "否", "不敏感", "")},
}
