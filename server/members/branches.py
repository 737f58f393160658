"""The branch tree: ordered options for forms and the subtree of a branch for filters."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.members.models import Branch


async def all_branches(db: AsyncSession) -> list[Branch]:
    return list((await db.execute(select(Branch).order_by(Branch.name))).scalars())


def tree_order(branches: list[Branch]) -> list[tuple[Branch, int]]:
    """Branches depth-first (parents before children), each with its depth."""
    children: dict[int | None, list[Branch]] = {}
    ids = {b.id for b in branches}
    for branch in branches:
        parent = branch.parent_id if branch.parent_id in ids else None
        children.setdefault(parent, []).append(branch)
    ordered: list[tuple[Branch, int]] = []
    stack = [(b, 0) for b in reversed(children.get(None, []))]
    seen: set[int] = set()
    while stack:
        branch, depth = stack.pop()
        if branch.id in seen:  # a cycle typed by hand: show each branch once
            continue
        seen.add(branch.id)
        ordered.append((branch, depth))
        stack.extend((c, depth + 1) for c in reversed(children.get(branch.id, [])))
    return ordered


def branch_options(branches: list[Branch]) -> list[tuple[str, str]]:
    return [(str(b.id), "\u2003" * depth + b.name) for b, depth in tree_order(branches)]


def subtree_ids(branches: list[Branch], root_id: int) -> set[int]:
    """``root_id`` and every branch below it."""
    found = {root_id}
    changed = True
    while changed:
        changed = False
        for branch in branches:
            if branch.parent_id in found and branch.id not in found:
                found.add(branch.id)
                changed = True
    return found
