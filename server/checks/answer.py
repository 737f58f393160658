"""The check page as HTML: rendered by its template, the anonymous answer from fragments.

An anonymous visitor sees only the result, the reason, the member's name and branch.
For each *shape* of that answer (result, whether there is a member, a name, a branch)
the template is rendered once with placeholders for its texts (those three, and the
page's own path for the "log in" link that returns here), and split there;
a check then joins the fragments with its own texts, escaped. That is the same page
the template gives (a test compares them for every shape) for a fraction of the cost,
and the anonymous check is the one a busy gate sends most. Pages with more in them
(a logged-in checker, a marshal's details) are rendered by the template.
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, Template
from markupsafe import escape

from server.checks.decide import Verdict
from server.checks.lookup import MemberFacts
from server.web.nobreak import nobreak_dates

log = logging.getLogger("tessera.checks")
TEMPLATE = "checks/check.html"
SLOT = "\x00{}\x00"
SLOTS = ("reason", "name", "branch", "here")
SPLIT = re.compile("\x00(" + "|".join(SLOTS) + ")\x00")

Shape = tuple[str, bool, bool, bool]


def _shape(verdict: Verdict) -> Shape:
    member = verdict.member
    return (
        verdict.result.key,
        member is not None,
        bool(member and member.sca_name),
        bool(member and member.branch_name),
    )


def _placeholders(verdict: Verdict, shape: Shape) -> Verdict:
    """``verdict`` with the varying texts replaced by slot markers."""
    _key, has_member, has_name, has_branch = shape
    member: MemberFacts | None = None
    if has_member:
        member = MemberFacts(
            member_id=0,
            public_id=SLOT.format("public_id"),
            sca_name=SLOT.format("name") if has_name else "",
            branch_name=SLOT.format("branch") if has_branch else "",
            status=SLOT.format("status"),
            membership_expires_on=None,
            deleted=False,
            revoked_before=None,
        )
    return Verdict(verdict.result, SLOT.format("reason"), member=member)


class CheckPage:
    """Renders ``checks/check.html``; one per app."""

    def __init__(self, environment: Environment) -> None:
        self.template: Template = environment.get_template(TEMPLATE)
        self._fragments: dict[Shape, list[str] | None] = {}

    def render(self, verdict: Verdict, extra: dict[str, Any], here: str = "/check/") -> str:
        """The page; ``here`` is its path (``/check/{code}``), where "log in" returns."""
        here = quote(here, safe="/")
        if extra:
            return self._render(verdict, {**extra, "here": here})
        shape = _shape(verdict)
        if shape not in self._fragments:
            self._fragments[shape] = self._prepare(verdict, shape)
        fragments = self._fragments[shape]
        if fragments is None:
            return self._render(verdict, {"here": here})
        member = verdict.member
        texts = {
            "reason": nobreak_dates(verdict.reason),
            "name": escape(member.sca_name) if member else "",
            "branch": escape(member.branch_name) if member else "",
            "here": here,  # quoted: no character left that HTML would need escaped
        }
        parts = fragments.copy()
        for index in range(1, len(parts), 2):  # odd places name a slot
            parts[index] = texts[parts[index]]
        return "".join(parts)

    def _render(self, verdict: Verdict, extra: dict[str, Any]) -> str:
        # A shared context skips merging the environment's globals: the page uses none.
        context = self.template.new_context({"verdict": verdict, **extra}, shared=True)
        return self.template.environment.concat(self.template.root_render_func(context))

    def _prepare(self, verdict: Verdict, shape: Shape) -> list[str] | None:
        """The page split at its slots; None if the template shows more than they hold
        (then every such page is rendered in full)."""
        placeholders = {"here": SLOT.format("here")}
        fragments = SPLIT.split(self._render(_placeholders(verdict, shape), placeholders))
        if any("\x00" in fragment for fragment in fragments[::2]):
            log.warning("%s shows member fields beyond name and branch", TEMPLATE)
            return None
        return fragments
