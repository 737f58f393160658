"""Cutting a member's sections into credit-card panels, and panels into folded cards.

A back panel holds ``LINES_PER_PANEL`` lines of 7 pt type (fewer when the member's name
above them takes three lines or more). Nothing is shortened: a section title, a group
heading or a row that is too long for one line wraps, and counts the lines it wraps to
(``server.authcards.measure``); a row's note ("expires 2027-09-30") stays beside its
label when both fit, else on a line of its own. A section that does not fit continues
on the next panel under its title marked "(continued)", repeating the group heading.
Panels are printed in pairs — front | back, then back | back for overflow — each pair
folded along the middle line.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from server.authcards.measure import SAFETY, width_mm
from server.authcards.measure import lines as wrapped_lines
from server.plugins.contract import Row, Section

LINES_PER_PANEL = 12
# The back panel in millimetres (see static/css/authcard.css).
CONTENT_WIDTH = 85.6 - 2 * 3  # the panel less its side padding
CONTENT_HEIGHT = 54 - 2 * 2.5
LINE = 3.6  # one line of 7 pt type
ROW_INDENT = 2.5
GROUP_INDENT = 1
NOTE_GAP = 2
HEAD_LINE = 3  # the member's name at the top, 6 pt
HEAD_RULE = 0.5
TEXT_PT = 7
TITLE_PT = 7.5
HEAD_PT = 6


def row_text(row: Row) -> str:
    """The label as printed ("Authorized" goes without saying on an auth card)."""
    if row.value and row.value != "Authorized":
        return f"{row.label}: {row.value}"
    return row.label


def row_lines(row: Row) -> int:
    room = CONTENT_WIDTH - ROW_INDENT
    label = row_text(row)
    if not row.note:
        return wrapped_lines(label, TEXT_PT, room)
    together = width_mm(label, TEXT_PT) + NOTE_GAP + width_mm(row.note, TEXT_PT)
    if together <= room * SAFETY:
        return 1
    return wrapped_lines(label, TEXT_PT, room) + wrapped_lines(row.note, TEXT_PT, room)


def title_lines(title: str, continued: bool = False) -> int:
    text = f"{title} (continued)" if continued else title
    return wrapped_lines(text, TITLE_PT, CONTENT_WIDTH, bold=True)


def group_lines(group: str) -> int:
    return wrapped_lines(group, TEXT_PT, CONTENT_WIDTH - GROUP_INDENT, bold=True)


def empty_lines(text: str) -> int:
    return wrapped_lines(text, TEXT_PT, CONTENT_WIDTH)


def lines_below(name: str) -> int:
    """The lines a back panel holds under the member's name printed at its top."""
    head = wrapped_lines(name, HEAD_PT, CONTENT_WIDTH) * HEAD_LINE + HEAD_RULE
    return min(LINES_PER_PANEL, int((CONTENT_HEIGHT - head) // LINE))


@dataclass
class Block:
    """A section's slice on one panel: its title, then rows under group headings."""

    title: str
    continued: bool = False
    empty_text: str = ""
    groups: list[tuple[str, list[Row]]] = field(default_factory=list)


@dataclass
class BackPanel:
    blocks: list[Block] = field(default_factory=list)
    used: int = 0


def _row_need(row: Row, heading: bool) -> int:
    return (group_lines(row.group) if heading else 0) + row_lines(row)


def back_panels(sections: list[Section], lines: int = LINES_PER_PANEL) -> list[BackPanel]:
    """The back panels for ``sections``; always at least one (it may be empty)."""
    panels = [BackPanel()]

    def fresh() -> BackPanel:
        panels.append(BackPanel())
        return panels[-1]

    for section in sections:
        # A title never ends a panel alone: it needs what comes first under it too.
        opening = title_lines(section.title)
        if section.rows:
            first = section.rows[0]
            needed = opening + _row_need(first, bool(first.group))
        else:
            needed = opening + (empty_lines(section.empty_text) if section.empty_text else 0)
        panel = panels[-1]
        if panel.used and panel.used + needed > lines:
            panel = fresh()
        block = Block(section.title, empty_text="" if section.rows else section.empty_text)
        panel.blocks.append(block)
        panel.used += opening + (empty_lines(block.empty_text) if block.empty_text else 0)
        for row in section.rows:
            heading = bool(row.group) and (not block.groups or block.groups[-1][0] != row.group)
            needed = _row_need(row, heading)
            if panel.used + needed > lines and block.groups:
                panel = fresh()
                block = Block(section.title, continued=True)
                panel.blocks.append(block)
                panel.used = title_lines(section.title, continued=True)
                heading = bool(row.group)
                needed = _row_need(row, heading)
            if heading or not block.groups:
                block.groups.append((row.group, []))
            block.groups[-1][1].append(row)
            panel.used += needed
    return panels


def folded_pairs(back: list[BackPanel]) -> list[tuple[str | BackPanel, BackPanel | None]]:
    """[("front", back[0]), (back[1], back[2]), …]; the last pair may have an empty half."""
    items: list[str | BackPanel] = ["front", *back]
    pairs: list[tuple[str | BackPanel, BackPanel | None]] = []
    for i in range(0, len(items), 2):
        second = items[i + 1] if i + 1 < len(items) else None
        assert second is None or isinstance(second, BackPanel)
        pairs.append((items[i], second))
    return pairs
