"""What the load process is told: where to send what, for how long, over how many
connections per request class. Written as JSON by ``run``, read by ``load``."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

# The request classes, in the order they are printed.
CARD = "card json"
REFRESH = "card refresh"
CHECK = "check"
SCANNER = "check scanner"
LIST = "members list"
SEARCH = "members search"
DETAIL = "member detail"
REGISTER = "registration"
STATUS = "status action"
CLASSES = (CARD, REFRESH, CHECK, SCANNER, LIST, SEARCH, DETAIL, REGISTER, STATUS)
HOT = (CARD, REFRESH, CHECK, SCANNER)  # the card app's and the marshals' requests
OFFICER = (LIST, SEARCH, DETAIL)  # one officer connection asks for each in turn

LABELS = {
    CARD: "card JSON, first fetch (200)",
    REFRESH: "card JSON refresh (ETag: 200/304)",
    CHECK: "marshal check (anonymous, HTML)",
    SCANNER: "check as the scanner calls it",
    LIST: "members list and filters",
    SEARCH: "members search",
    DETAIL: "member detail page",
    REGISTER: "registration (form + post)",
    STATUS: "status action (1 a second)",
}


@dataclass
class Connections:
    hot: int = 16  # split evenly over the four HOT classes
    officer: int = 2
    registration: int = 1
    status: int = 1

    def per_class(self) -> dict[str, int]:
        each = max(1, self.hot // len(HOT))
        counts = dict.fromkeys(HOT, each)
        counts.update(dict.fromkeys(OFFICER, self.officer))
        counts[REGISTER] = self.registration
        counts[STATUS] = self.status
        return counts


@dataclass
class Plan:
    base_url: str
    seconds: float
    connections: Connections
    reference: bool = False  # every class asks the bare route instead (no logins)
    officer_email: str = ""
    officer_password: str = ""
    tokens: list[str] = field(default_factory=list)  # cards never fetched today
    refresh: list[tuple[str, str]] = field(default_factory=list)  # (token, ETag the app has)
    codes: list[str] = field(default_factory=list)  # mobile check codes
    member_ids: list[int] = field(default_factory=list)  # detail pages
    searches: list[str] = field(default_factory=list)
    list_queries: list[str] = field(default_factory=list)
    branch_ids: list[int] = field(default_factory=list)  # for applicants
    status_member_ids: list[int] = field(default_factory=list)

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self)))

    @classmethod
    def read(cls, path: Path) -> Plan:
        data = json.loads(path.read_text())
        data["connections"] = Connections(**data["connections"])
        data["refresh"] = [tuple(pair) for pair in data["refresh"]]
        return cls(**data)
