"""Cutting a member's sections into credit-card panels, and panels into folded cards.

A panel holds ``LINES_PER_PANEL`` lines; a section title, a group heading and a row each
take one line (long text is shortened by the stylesheet, never wrapped, so the count is
exact). A section that does not fit continues on the next panel under its title marked
"(continued)", repeating the group heading. Panels are printed in pairs — front | back,
then back | back for overflow — each pair folded along the middle line.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from server.plugins.contract import Row, Section

LINES_PER_PANEL = 11


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


def back_panels(sections: list[Section], lines: int = LINES_PER_PANEL) -> list[BackPanel]:
    """The back panels for ``sections``; always at least one (it may be empty)."""
    panels = [BackPanel()]

    def room(needed: int) -> BackPanel:
        if panels[-1].used + needed > lines:
            panels.append(BackPanel())
        return panels[-1]

    for section in sections:
        # A title never ends a panel alone: it needs one more line below it.
        panel = room(2)
        block = Block(section.title, empty_text="" if section.rows else section.empty_text)
        panel.blocks.append(block)
        panel.used += 2 if block.empty_text else 1
        for row in section.rows:
            heading = bool(row.group) and (not block.groups or block.groups[-1][0] != row.group)
            needed = 2 if heading else 1
            if panel.used + needed > lines:
                panel = room(lines)  # a fresh panel
                block = Block(section.title, continued=True)
                panel.blocks.append(block)
                panel.used = 1
                heading = bool(row.group)
                needed = 2 if heading else 1
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
