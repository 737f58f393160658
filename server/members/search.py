"""Finding members: the admin list's search, filters, sorting and pagination.

Everything comes from the query string and is checked against a whitelist (sort keys,
filter values); anything else is ignored rather than refused, so an old or hand-edited
address still shows a list. The same criteria drive the CSV export.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Boolean, ColumnElement, Select, and_, case, exists, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import selectinload
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.sql.operators import OperatorType

from server.cards.models import CardLink
from server.db import lowered
from server.members.branches import subtree_ids
from server.members.models import Branch, Member
from server.members.status import BY_KEY
from server.web.forms import parse_id

PAGE_SIZE = 50
MAX_QUERY = 200
EXPIRING_DAYS = 30

# Sort key -> its column header (``ordered`` says what each orders by; names break ties).
SORTS: dict[str, str] = {
    "name": "SCA name",
    "branch": "Branch",
    "status": "Status",
    "expiry": "Membership",
    "changed": "Last change",
}
MEMBERSHIP_FILTERS: dict[str, str] = {
    "current": "Current (unexpired)",
    "expiring": f"Expiring within {EXPIRING_DAYS} days",
    "expired": "Expired",
    "none": "No expiry date recorded",
}
CARD_FILTERS: dict[str, str] = {
    "none": "No live card link",
    "live": "Live card link",
}


@dataclass(frozen=True)
class MemberSearch:
    q: str = ""
    branch_id: int | None = None
    status: str = ""
    membership: str = ""
    card: str = ""
    sort: str = "name"
    descending: bool = False
    page: int = 1

    @classmethod
    def from_query(cls, params: dict[str, str]) -> MemberSearch:
        """Read the query string; anything malformed is ignored rather than refused."""
        page = parse_id(params.get("page")) or 1
        status = params.get("status", "")
        membership = params.get("membership", "")
        card = params.get("card", "")
        sort = params.get("sort", "")
        return cls(
            q=params.get("q", "").strip()[:MAX_QUERY].replace("\x00", ""),
            branch_id=parse_id(params.get("branch")),
            status=status if status in BY_KEY else "",
            membership=membership if membership in MEMBERSHIP_FILTERS else "",
            card=card if card in CARD_FILTERS else "",
            sort=sort if sort in SORTS else "name",
            descending=params.get("dir") == "desc",
            page=min(page, 100_000),
        )

    @property
    def filtering(self) -> bool:
        return bool(self.q or self.branch_id or self.status or self.membership or self.card)

    def params(self) -> dict[str, Any]:
        """The filters and the order as query parameters (defaults left out), no page."""
        values: dict[str, Any] = {
            "q": self.q,
            "branch": self.branch_id or "",
            "status": self.status,
            "membership": self.membership,
            "card": self.card,
        }
        if self.sort != "name":
            values["sort"] = self.sort
        if self.descending:
            values["dir"] = "desc"
        return {k: v for k, v in values.items() if v}

    def query_string(self, page: int | None = None) -> str:
        """This list (filters and order kept) at ``page``."""
        extra = {} if page is None else {"page": page}
        return urlencode(self.params() | extra)

    def sorted_by(self, key: str) -> str:
        """The query string that sorts by ``key``: the other way round if it already is."""
        descending = not self.descending if key == self.sort else key == "changed"
        return replace(self, sort=key, descending=descending, page=1).query_string()

    def aria_sort(self, key: str) -> str:
        if key != self.sort:
            return "none"
        return "descending" if self.descending else "ascending"

    def describe(self) -> dict[str, Any]:
        """The criteria as plain data (for the export's audit row)."""
        return self.params() | {"sort": self.sort, "dir": "desc" if self.descending else "asc"}


# The columns a word of the search is looked for in.
SEARCHED = (
    Member.sca_name,
    Member.first_name,
    Member.last_name,
    Member.email,
    Member.membership_number,
)


# SQLite's trigram full-text table of the searched columns (migration 0020).
SEARCH_TABLE = "member_search_text"


class word_found(FunctionElement[bool]):
    """A word of the search found in any ``SEARCHED`` column, ignoring case:
    ``word_found(exact, loose)``, the LIKE patterns of the word escaped with ``\\`` and
    as typed.

    On PostgreSQL: one ``LIKE`` (``exact``) over the columns' lower-cased concatenation,
    which one ``pg_trgm`` GIN index on that same expression serves (migration 0019; a word
    holds no space, so it cannot match across the spaces between columns). Five ``ILIKE``
    — one index each — cost the planner more than a parallel scan of the register: it
    scanned (200–250 ms at 100,000 members, three processes) where the one index takes
    0.1–6 ms. On SQLite: the members whose row in the FTS5 trigram table of the same
    text (migration 0020) is ``LIKE`` both patterns. FTS5 answers a ``LIKE`` from its
    index only without ``ESCAPE``: ``loose`` (a ``%`` or ``_`` the user typed is a
    wildcard there) finds the candidates, ``exact`` keeps the true matches — 1–2 ms where
    a ``LIKE`` per column scanned the register (about 230 ms for a page and its count).
    Both ignore the case of ASCII letters only, as SQLite's ``LIKE`` does: a word with
    other letters is a ``word_found_folded``.
    """

    type = Boolean()
    inherit_cache = True
    name = "word_found"

    def self_group(self, against: OperatorType | None = None) -> word_found:
        """The condition as it stands, never ``(…) = 1`` on SQLite: that form hides the
        ``IN`` from the planner, which then walks an index of the whole register."""
        return self


def _searched_text(compiler: SQLCompiler, **kw: Any) -> str:
    parts = (f"coalesce({compiler.process(column.expression, **kw)}, '')" for column in SEARCHED)
    return " || ' ' || ".join(parts)


@compiles(word_found)
def _words_like(element: word_found, compiler: SQLCompiler, **kw: Any) -> str:
    exact = compiler.process(element.clauses.clauses[0], **kw)  # ``loose`` serves SQLite only
    return f"lower({_searched_text(compiler, **kw)}) LIKE lower({exact}) ESCAPE '\\'"


@compiles(word_found, "sqlite")
def _search_table_like(element: word_found, compiler: SQLCompiler, **kw: Any) -> str:
    return _in_search_table(element, compiler, "words LIKE {exact}", **kw)


def _in_search_table(element: word_found, compiler: SQLCompiler, exact_test: str, **kw: Any) -> str:
    """The members whose row in the trigram table is among the candidates ``loose``
    finds and passes ``exact_test`` (SQL with ``{exact}`` for the exact pattern)."""
    exact, loose = (compiler.process(c, **kw) for c in element.clauses)
    member_id = compiler.process(Member.id.expression, **kw)
    return (
        f"({member_id} IN (SELECT rowid FROM {SEARCH_TABLE} WHERE words LIKE {loose} "
        f"AND {exact_test.format(exact=exact)} ESCAPE '\\'))"
    )


class word_found_folded(word_found):  # noqa: N801 - named like SQL's functions
    """``word_found`` for a word with letters beyond ASCII ("ælfric"), on SQLite: its
    ``LIKE`` (the trigram table's included) folds only ASCII letters, so "ælfric" never
    found "Ælfric" there while PostgreSQL's ``lower`` did. ``loose`` is then a part of
    the word that is ASCII (``_loose``) and finds the candidates; ``exact`` is compared
    with both sides lowered by Python's rules (``server.db.lowered``). PostgreSQL: as
    ``word_found``."""

    inherit_cache = True
    name = "word_found_folded"


@compiles(word_found_folded)
def _words_like_folded(element: word_found_folded, compiler: SQLCompiler, **kw: Any) -> str:
    return _words_like(element, compiler, **kw)


@compiles(word_found_folded, "sqlite")
def _search_table_like_folded(element: word_found_folded, compiler: SQLCompiler, **kw: Any) -> str:
    folded = lowered.SQLITE_NAME
    return _in_search_table(element, compiler, f"{folded}(words) LIKE {folded}({{exact}})", **kw)


def _loose(word: str) -> str:
    """What finds the candidates for ``word`` in the trigram table: the word as typed
    or, beyond ASCII, its longest ASCII run of three or more characters (none: every
    row is a candidate)."""
    if word.isascii():
        return word
    runs = re.findall(r"[\x00-\x7f]{3,}", word)
    return max(runs, key=len) if runs else ""


def word_condition(word: str) -> word_found:
    """The members in whose searched columns ``word`` appears, ignoring case."""
    exact = f"%{_escape_like(word)}%"
    if word.isascii():
        return word_found(exact, f"%{word}%")
    return word_found_folded(exact, f"%{_loose(word)}%")


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def has_live_link() -> ColumnElement[bool]:
    return exists().where(CardLink.live_member_id == Member.id)


def _membership_clause(kind: str, today: dt.date) -> ColumnElement[bool]:
    expires = Member.membership_expires_on
    if kind == "current":
        return expires >= today
    if kind == "expiring":
        return and_(
            expires >= today,
            expires <= today + dt.timedelta(days=EXPIRING_DAYS),
            Member.deactivated_at.is_(None),
        )
    if kind == "expired":
        return expires < today
    return expires.is_(None)


def filtered(criteria: MemberSearch, branches: list[Branch], today: dt.date) -> Select[Any]:
    query = select(Member).where(Member.deleted_at.is_(None))
    if criteria.q:
        for word in criteria.q.split()[:6]:
            query = query.where(word_condition(word))
    if criteria.branch_id is not None:
        query = query.where(Member.branch_id.in_(subtree_ids(branches, criteria.branch_id)))
    if criteria.status:
        query = query.where(Member.status == criteria.status)
    if criteria.membership:
        query = query.where(_membership_clause(criteria.membership, today))
    if criteria.card == "live":
        query = query.where(has_live_link())
    elif criteria.card == "none":
        query = query.where(~has_live_link(), Member.deactivated_at.is_(None))
    return query


def status_by_label() -> ColumnElement[int]:
    """The status's place in the alphabetical order of the labels the list shows, so that
    "Verified" comes before "Verified < 18" (their keys sort the other way round)."""
    keys = sorted(BY_KEY, key=lambda key: BY_KEY[key].label.casefold())
    return case({key: rank for rank, key in enumerate(keys)}, value=Member.status, else_=len(keys))


def ordered(query: Select[Any], criteria: MemberSearch) -> Select[Any]:
    """``query`` in the chosen order (whitelisted keys only), names breaking ties."""
    name = [func.lower(Member.sca_name), Member.last_name, Member.id]
    if criteria.sort == "name":
        keys = name
    else:
        if criteria.sort == "branch":
            query = query.outerjoin(Branch, Branch.id == Member.branch_id)
        column: Any = {
            "branch": Branch.name,
            "status": status_by_label(),
            "expiry": Member.membership_expires_on,
            "changed": Member.modified_at,
        }[criteria.sort]
        # Last change: the id breaks ties, so the index on modified_at serves the order.
        keys = [column, Member.id] if criteria.sort == "changed" else [column, *name]
    if criteria.descending:
        # The tie-breaking id turns with "changed", so one index scan serves the order.
        turned = 2 if criteria.sort == "changed" else 1
        keys = [key.desc() for key in keys[:turned]] + keys[turned:]
    if criteria.sort in ("branch", "expiry"):
        keys = [keys[0].nulls_last(), *keys[1:]]  # members without one last, either way
    return query.order_by(*keys)


async def search(
    db: AsyncSession, criteria: MemberSearch, branches: list[Branch], today: dt.date
) -> tuple[list[Member], int]:
    """One page of matching members in the chosen order, and the total count.

    A text search scans the register once: the count is a window over the matches (few),
    and a page past the end counts apart. Without one, the count reads an index and the
    page an index range (or a top-50 sort) — a window would materialise every row first.
    """
    query = filtered(criteria, branches, today)
    counted = bool(criteria.q)
    if counted and db.get_bind().dialect.name == "postgresql":
        # A prepared statement's generic plan cannot see that the words are rare: it walks
        # the name-order index (LIMIT 50) through all 100,000 rows (220 ms) instead of the
        # trigram indexes (4 ms). Plan this search for its own words.
        await db.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
    page = (
        ordered(query.add_columns(func.count().over()) if counted else query, criteria)
        .options(selectinload(Member.branch))
        .limit(PAGE_SIZE)
        .offset((criteria.page - 1) * PAGE_SIZE)
    )
    rows = (await db.execute(page)).all()
    if counted and rows:
        return [member for member, _ in rows], rows[0][1]
    total = await db.scalar(select(func.count()).select_from(query.subquery())) or 0
    return [row[0] for row in rows], total
