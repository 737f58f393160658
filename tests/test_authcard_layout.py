"""Cutting sections into auth-card panels (pure functions, no database)."""

from __future__ import annotations

from server.authcards.layout import LINES_PER_PANEL, BackPanel, back_panels, folded_pairs
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
    panels = back_panels(sections)
    assert _rows(panels) == [r.label for r in rows] + ["Rapier"]
    assert all(_lines(p) == p.used <= LINES_PER_PANEL for p in panels)
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
