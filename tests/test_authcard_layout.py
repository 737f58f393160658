"""Cutting sections into auth-card panels (pure functions, no database)."""

from __future__ import annotations

from server.authcards import measure
from server.authcards.layout import (
    LINES_PER_PANEL,
    BackPanel,
    back_panels,
    folded_pairs,
    lines_below,
    row_lines,
)
from server.plugins.contract import Row, Section


def _lines(panel: BackPanel) -> int:
    count = 0
    for block in panel.blocks:
        count += 1 + (1 if block.empty_text else 0)
        for group, rows in block.groups:
            count += (1 if group else 0) + len(rows)
    return count


def _rows(panels: list[BackPanel]) -> list[str]:
    return [r.label for p in panels for b in p.blocks for _, rows in b.groups for r in rows]


def test_thirty_authorizations_flow_onto_further_panels_without_losing_or_repeating_one():
    rows = tuple(Row(f"Form {i:02d}", group=f"Group {i // 7}") for i in range(30))
    sections = [
        Section("authorizations", "Authorizations", 20, rows),
        Section("may_authorize", "May authorize", 30, (Row("Rapier", group="Rapier"),)),
    ]
    panels = back_panels(sections, lines=11)
    assert _rows(panels) == [r.label for r in rows] + ["Rapier"]
    assert all(_lines(p) == p.used <= 11 for p in panels)
    assert len(panels) == 5  # 36 lines + continued titles and repeated headings
    assert [b.continued for b in panels[1].blocks] == [True]
    first_group_on_next = panels[1].blocks[0].groups[0][0]
    assert first_group_on_next  # the group heading is repeated on the new panel
    pairs = folded_pairs(panels)
    assert pairs[0][0] == "front" and pairs[0][1] is panels[0]
    assert len(pairs) == 3 and pairs[-1] == (panels[3], panels[4])
    assert folded_pairs(panels[:4])[-1] == (panels[3], None)


def test_a_title_is_never_left_alone_at_the_bottom_of_a_panel():
    first = Section("a", "A", 1, tuple(Row(f"r{i}") for i in range(LINES_PER_PANEL - 2)))
    second = Section("b", "B", 2, (Row("x"),))
    panels = back_panels([first, second])
    assert [b.title for b in panels[0].blocks] == ["A"]
    assert [b.title for b in panels[1].blocks] == ["B"]


def test_empty_sections_show_their_empty_text_and_a_card_always_has_a_back():
    panels = back_panels([Section("a", "Authorizations", empty_text="No current authorizations.")])
    assert panels[0].blocks[0].empty_text == "No current authorizations."
    assert len(back_panels([])) == 1


LONG = "Two-Weapon and Great Weapon Combat (Marshal-in-Training) with Parrying Dagger"


def test_long_rows_wrap_and_count_every_line_they_take():
    short = Row("Rapier", "Authorized", "expires 2027-09-30")
    assert row_lines(short) == 1  # label and note side by side
    beside = Row("Spear, Pole-arm and Two-Handed Sword Combat", "Authorized", "expires 2027-09-30")
    assert row_lines(beside) == 2  # the note goes below the label
    assert row_lines(Row(LONG, "Authorized", "expires 2027-09-30")) == 3
    rows = tuple(
        Row(f"{LONG} {i}", "Authorized", "expires 2027-09-30", "Armored") for i in range(9)
    )
    panels = back_panels([Section("authorizations", "Authorizations", 20, rows)])
    assert _rows(panels) == [r.label for r in rows]
    assert all(p.used <= LINES_PER_PANEL for p in panels)
    # Title, group heading and three rows of three lines fill the first panel.
    assert [len(b.groups[0][1]) for p in panels for b in p.blocks] == [3, 3, 3]


def test_widths_are_dejavu_sans_and_words_wrap_as_the_browser_wraps_them():
    assert round(measure.width_mm("Combat Archery and Siege Engines", 7), 1) == 43.7
    assert measure.width_mm("ū", 7) == measure.width_mm("u", 7)
    assert measure.lines("word " * 10, 7, 200) == 1
    assert measure.lines("x" * 200, 7, 20) > 1  # one long word is broken inside


def test_a_name_on_two_lines_or_more_leaves_fewer_lines_below_it():
    assert lines_below("Mistress Genoveva Catalina de la Cruz y Montoya de Castilla") == 12
    two = "Mistress Genoveva Catalina de la Cruz y Montoya de Castilla y Aragón, OL, OP, Pelican"
    assert lines_below(two) == 11
    assert lines_below("Mistress Genoveva " * 8) == 10
