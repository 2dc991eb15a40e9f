"""The model's uniform layouts are append-only: built from names, they sit where they always did.

Moving any offset would hand every case different random numbers (and move the golden
fingerprints); these checks name the offset that moved.
"""

from __future__ import annotations

from sim.model import layout
from sim.scenario.vocabulary import LEVELS, VENUES


def test_case_row_offsets_are_where_they_always_were() -> None:
    assert (layout.U_VILLAGE, layout.U_SENSITIVE, layout.U_DETECT, layout.U_WORSEN_2) == (
        0,
        5,
        6,
        11,
    )
    assert (layout.U_LEVEL_BASE, layout.U_PER_LEVEL, layout.U_HANDOVER) == (12, 3, 2)
    assert layout.U_WIDTH == 12 + 3 * len(LEVELS) == 24


def test_policy_row_offsets_are_where_they_always_were() -> None:
    assert (layout.P_SECTOR_DIRECT, layout.P_SUMMON, layout.P_DEPARTMENTS) == (0, 4, 5)
    assert (layout.P_PATIENCE, layout.P_HEARING, layout.P_REPEAT, layout.P_EXPERT) == (
        8,
        12,
        13,
        15,
    )
    assert layout.P_VENUE_BASE == 16 and layout.P_WIDTH == 24


def test_venue_indices_follow_the_vocabulary() -> None:
    names = (
        *("GRID", "VILLAGE", "TOWNSHIP", "DISTRICT", "SECTOR", "ENTERPRISE", "ROOM", "JOINT"),
        "TOWNSHIP_JOINT",  # appended with the township centres (乡镇矛调中心)
    )
    assert [getattr(layout, n) for n in names] == list(range(len(VENUES)))
    assert VENUES[layout.ROOM] == "stationed_room"
    # A step reads its (effort, outcome) uniforms: ladder levels from the case row, committees
    # from the policy row, two apiece.
    assert layout.step_uniforms(layout.TOWNSHIP) == (False, 12 + 3 * 2)
    assert layout.step_uniforms(layout.SECTOR) == (True, 16)
    assert layout.step_uniforms(layout.JOINT) == (True, 16 + 2 * 3)
    # Township joint mediation stands in for the township step: the township's block.
    assert layout.step_uniforms(layout.TOWNSHIP_JOINT) == (False, 12 + 3 * 2)
    assert layout.N_BASE_VENUES == 8 and len(layout.COMMITTEES) == 4
