"""Codes and layouts the model writes and reads: venue indices, record fields, uniform rows.

Implements the bookkeeping side of docs/model.md: the venues of "Mediation at a venue" and
"Routing" as indices, the register's codes (channels, statuses, origins, petition outcomes; see
docs/register.md), and the rows of uniforms a case carries ("Common random numbers" in
docs/design.md). Every index here is computed from an ordered tuple of names, and the names are
checked against :mod:`sim.scenario.vocabulary`, so that no offset is numbered by hand.
"""

from __future__ import annotations

from sim.scenario.vocabulary import LEVELS, OUTCOMES, VENUES

__all__ = [
    "CASE_FIELDS",
    "CHANNELS",
    "GRADES",
    "ORIGINS",
    "PETITION_FIELDS",
    "PETITION_OUTCOMES",
    "SAMPLE_FIELDS",
    "STATUSES",
    "STEP_FIELDS",
]

# ----------------------------------------------------------------------------- venues
# The model compares venue indices (`venue < N_LEVELS` is a ladder level, `level += 1` climbs,
# the committees follow the levels, `venue >= DISTRICT` is the top), so it states the order it
# relies on and checks it against the vocabulary.
assert LEVELS == ("grid", "village", "township", "district"), LEVELS
assert (
    *LEVELS,
    "sector",
    "enterprise",
    "stationed_room",
    "joint",
    "township_joint",
) == VENUES, VENUES
GRID = VENUES.index("grid")
VILLAGE = VENUES.index("village")
TOWNSHIP = VENUES.index("township")
DISTRICT = VENUES.index("district")
SECTOR = VENUES.index("sector")
ENTERPRISE = VENUES.index("enterprise")
ROOM = VENUES.index("stationed_room")
JOINT = VENUES.index("joint")
TOWNSHIP_JOINT = VENUES.index("township_joint")
N_LEVELS = len(LEVELS)
N_VENUES = len(VENUES)
# The venues before the township centres were appended: the width of rows laid out per venue
# (the policy row's committee blocks, stream "quality"), and the venues sampled in the time
# series when mechanisms.township_centres is off, so that those numbers stay where they were.
N_BASE_VENUES = TOWNSHIP_JOINT
# The committees around the ladder, in venue order (their uniforms are in the policy row).
# Township joint mediation is not among them: it reads the township's block of the case row.
COMMITTEES = VENUES[N_LEVELS:N_BASE_VENUES]

# ----------------------------------------------------------------------------- codes
OUT = {name: i for i, name in enumerate(OUTCOMES)}
CHANNELS = (
    "sweep",
    "self_report",
    "online",
    "offline",
    "initial",
    "direct",
    "in_firm",
    "referral",
)
CH = {name: i for i, name in enumerate(CHANNELS)}
CH_ONLINE, CH_OFFLINE = CH["online"], CH["offline"]
STATUSES = ("resolved", "unresolved", "open", "pending", "petitioned")
ST = {name: i for i, name in enumerate(STATUSES)}
ORIGINS = ("ladder", "court_referral")
GRADES = ("standard", "gold_medal")  # the mediator's grade (等级评定), with mechanisms.quality
# Appended: "closed_by_mediation" (访调对接, mechanisms.petition_mediation).
PETITION_OUTCOMES = ("closed", "closed_by_hearing", "open", "closed_by_mediation")

# The records the model makes, field by field with their types (sim.model.records.RecordLog).
# Codes index the tuples above and in sim.scenario.vocabulary; -1 means none, NaN not (yet)
# happened.
STEP_FIELDS = (
    ("case_id", "int64"), ("step", "int32"), ("level_i", "int8"), ("unit_i", "int32"),
    ("channel_i", "int8"), ("entered", "float64"), ("started", "float64"),
    ("ended", "float64"), ("outcome_i", "int8"), ("kind_i", "int8"),
    ("effort_hours", "float64"), ("severity_entered_i", "int8"), ("severity_i", "int8"),
    ("expert", "bool"),
    # mechanisms.quality (appended; the register shows them only with quality on): the grade
    # (GRADES, -1 not recorded), the mediator's cases a year, the effort given in hours.
    ("grade_i", "int8"), ("mediator_cases_per_year", "float64"),
    ("effort_given_hours", "float64"),
)  # fmt: skip
CASE_FIELDS = (
    ("case_id", "int64"), ("arisen", "float64"), ("grid_i", "int32"), ("category_i", "int16"),
    ("severity_initial_i", "int8"), ("severity_i", "int8"), ("sensitive", "bool"),
    ("initial", "bool"), ("status_i", "int8"), ("concluded", "float64"), ("steps", "int32"),
    ("origin_i", "int8"),
)  # fmt: skip
PETITION_FIELDS = (
    ("petition_id", "int64"), ("case_id", "int64"), ("filed", "float64"), ("level_i", "int8"),
    ("skip_level", "bool"), ("repeat", "bool"), ("backlog_entered", "float64"),
    ("closed", "float64"), ("outcome_i", "int8"),
)  # fmt: skip
SAMPLE_FIELDS = (
    ("time", "float64"), ("level_i", "int8"), ("present", "int32"), ("waiting", "int32"),
    ("busy", "int32"),
)  # fmt: skip

# ----------------------------------------------------------------------------- uniform rows
# The row of uniforms each case carries (stream "case"): these, then one block per ladder level.
# Append only: a new mechanism takes a new stream instead, so that existing numbers never move.
CASE_ROW = (
    "village",
    "grid",
    "category",
    "severity",
    "channel",
    "sensitive",
    "detect",
    "on_the_spot",
    "report_delay",
    "entry",
    "worsen_1",
    "worsen_2",
)
LEVEL_BLOCK = ("effort", "outcome", "handover")  # per ladder level, in LEVELS order
U_VILLAGE = CASE_ROW.index("village")
U_GRID = CASE_ROW.index("grid")
U_CATEGORY = CASE_ROW.index("category")
U_SEVERITY = CASE_ROW.index("severity")
U_CHANNEL = CASE_ROW.index("channel")
U_SENSITIVE = CASE_ROW.index("sensitive")
U_DETECT = CASE_ROW.index("detect")
U_ON_THE_SPOT = CASE_ROW.index("on_the_spot")
U_REPORT_DELAY = CASE_ROW.index("report_delay")
U_ENTRY = CASE_ROW.index("entry")
U_WORSEN_1 = CASE_ROW.index("worsen_1")
U_WORSEN_2 = CASE_ROW.index("worsen_2")
U_LEVEL_BASE = len(CASE_ROW)  # level ``lv``'s block starts at U_LEVEL_BASE + U_PER_LEVEL * lv
U_PER_LEVEL = len(LEVEL_BLOCK)
U_EFFORT = LEVEL_BLOCK.index("effort")
U_OUTCOME = LEVEL_BLOCK.index("outcome")
U_HANDOVER = LEVEL_BLOCK.index("handover")
U_WIDTH = U_LEVEL_BASE + U_PER_LEVEL * N_LEVELS

# The second row (stream "policy"): the mechanisms around the ladder, then one block per
# committee venue (COMMITTEES order).
DEPARTMENT_DRAWS = ("department_1", "department_2", "department_3")  # to pick departments
POLICY_ROW = (
    "sector_direct",
    "enterprise",
    "enterprise_pick",
    "joint",
    "summon",
    *DEPARTMENT_DRAWS,
    "patience",
    "skip",
    "petition_time",
    "petition_outcome",
    "hearing",
    "repeat",
    "repeat_delay",
    "expert",
)
VENUE_BLOCK = ("effort", "outcome")  # per committee venue
P_SECTOR_DIRECT = POLICY_ROW.index("sector_direct")
P_ENTERPRISE = POLICY_ROW.index("enterprise")
P_ENTERPRISE_PICK = POLICY_ROW.index("enterprise_pick")
P_JOINT = POLICY_ROW.index("joint")
P_SUMMON = POLICY_ROW.index("summon")
P_DEPARTMENTS = POLICY_ROW.index(DEPARTMENT_DRAWS[0])  # len(DEPARTMENT_DRAWS) from here
P_PATIENCE = POLICY_ROW.index("patience")
P_SKIP = POLICY_ROW.index("skip")
P_PETITION_TIME = POLICY_ROW.index("petition_time")
P_PETITION_OUTCOME = POLICY_ROW.index("petition_outcome")
P_HEARING = POLICY_ROW.index("hearing")
P_REPEAT = POLICY_ROW.index("repeat")
P_REPEAT_DELAY = POLICY_ROW.index("repeat_delay")
P_EXPERT = POLICY_ROW.index("expert")
P_VENUE_BASE = len(POLICY_ROW)  # committee ``c``'s block: P_VENUE_BASE + P_PER_VENUE * c
P_PER_VENUE = len(VENUE_BLOCK)
P_WIDTH = P_VENUE_BASE + P_PER_VENUE * len(COMMITTEES)
assert LEVEL_BLOCK[: len(VENUE_BLOCK)] == VENUE_BLOCK, "effort and outcome lead every block"


def step_uniforms(venue: int) -> tuple[bool, int]:
    """Where a step at ``venue`` finds its (effort, outcome) uniforms: (in the policy row?, index).

    Ladder levels read their block of the case row; the committees their block of the policy row.
    Township joint mediation (乡镇联合调处) takes the place of the township step for the cases it
    takes, so it reads the township's block: a dispute has the same luck at its township whether
    its committee or the centre's departments mediate it (common random numbers).
    """
    if venue == TOWNSHIP_JOINT:
        return False, U_LEVEL_BASE + U_PER_LEVEL * TOWNSHIP
    if venue >= N_LEVELS:
        return True, P_VENUE_BASE + P_PER_VENUE * (venue - N_LEVELS)
    return False, U_LEVEL_BASE + U_PER_LEVEL * venue


# The row of stream "entry" (mechanisms.entry_choice only): the uniforms that turn a dispute's
# entry level under today's shares into its choice under the village's supply (sim.model.entry).
ENTRY_ROW = ("best", "other_1", "other_2", "other_3")  # the chosen level's utility, the others'
E_BEST = ENTRY_ROW.index("best")
E_WIDTH = len(ENTRY_ROW)
assert E_WIDTH == N_LEVELS, "one uniform per alternative: the ladder's levels"
