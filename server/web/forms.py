"""Reading and validating form fields: every problem becomes a message, never a 500."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable

from starlette.datastructures import FormData, UploadFile

from server.web.text import visible_text

EMAIL_RE = re.compile(r"^[^@\s<>\"']+@[^@\s<>\"']+\.[^@\s<>\"']+$")
MAX_FIELD = 10_000
MAX_EMAIL = 254  # the email columns, and members' lowered login key
MAX_ID = 2**31 - 1  # INTEGER columns (primary keys among them) on PostgreSQL
MIN_INT = -(2**31)


class FormReader:
    """Pulls typed values out of a form, collecting errors by field name."""

    def __init__(self, form: FormData) -> None:
        self.form = form
        self.errors: dict[str, str] = {}

    def raw(self, name: str) -> str:
        value = self.form.get(name)
        if value is None or isinstance(value, UploadFile):
            return ""
        return value

    def text(
        self,
        name: str,
        label: str,
        *,
        required: bool = False,
        max_length: int = 200,
        keyed: bool = False,
    ) -> str:
        """Trimmed, without invisible format characters (``server.web.text``).

        ``keyed``: the value is stored lowered too (a case-insensitive key, a column of
        the same length), and lowering can grow it: "İ" lowers to two characters."""
        value = visible_text(self.raw(name)).strip()
        if "\x00" in value:
            self.errors[name] = f"{label} contains characters that are not allowed."
            return ""
        if required and not value:
            self.errors[name] = f"{label} is required."
        elif len(value) > max_length or (keyed and len(value.lower()) > max_length):
            self.errors[name] = f"{label} must be at most {max_length} characters."
            return value[:max_length]
        return value

    def email(self, name: str, label: str = "Email", *, required: bool = True) -> str:
        value = self.text(name, label, required=required, max_length=MAX_EMAIL, keyed=True)
        if value and name not in self.errors and not EMAIL_RE.match(value):
            self.errors[name] = f"{label} is not a valid email address."
        return value

    def integer(
        self,
        name: str,
        label: str,
        *,
        required: bool = False,
        minimum: int | None = None,
        maximum: int | None = None,
    ) -> int | None:
        value = self.raw(name).strip()
        if not value:
            if required:
                self.errors[name] = f"{label} is required."
            return None
        if not re.fullmatch(r"-?\d{1,12}", value):
            self.errors[name] = f"{label} must be a whole number."
            return None
        number = int(value)
        # Every integer column is an INTEGER: PostgreSQL refuses a larger value outright.
        low = MIN_INT if minimum is None else max(minimum, MIN_INT)
        high = MAX_ID if maximum is None else min(maximum, MAX_ID)
        if not low <= number <= high:
            self.errors[name] = f"{label} must be between {low} and {high}."
            return None
        return number

    def date(self, name: str, label: str, *, required: bool = False) -> dt.date | None:
        value = self.raw(name).strip()
        if not value:
            if required:
                self.errors[name] = f"{label} is required."
            return None
        try:
            parsed = dt.date.fromisoformat(value)
        except ValueError:
            self.errors[name] = f"{label} must be a date (YYYY-MM-DD)."
            return None
        if not 1900 <= parsed.year <= 2200:
            self.errors[name] = f"{label} is out of range."
            return None
        return parsed

    def choice(
        self, name: str, label: str, choices: Iterable[str], *, required: bool = False
    ) -> str:
        value = self.raw(name).strip()
        allowed = set(choices)
        if not value:
            if required:
                self.errors[name] = f"{label} is required."
            return ""
        if value not in allowed:
            self.errors[name] = f"{label}: choose one of the listed options."
            return ""
        return value

    def multi_choice(self, name: str, label: str, choices: Iterable[str]) -> list[str]:
        allowed = set(choices)
        values = [v for v in self.form.getlist(name) if isinstance(v, str)]
        bad = [v for v in values if v not in allowed]
        if bad:
            self.errors[name] = f"{label}: unknown option."
            return []
        return sorted(set(values))

    def boolean(self, name: str) -> bool:
        return self.raw(name) in {"on", "true", "1", "yes"}

    @property
    def ok(self) -> bool:
        return not self.errors


def parse_id(value: str | None) -> int | None:
    """An id from a path or query string, or None when it is not one a row could have."""
    if value is None or not re.fullmatch(r"\d{1,10}", value) or not 0 < int(value) <= MAX_ID:
        return None
    return int(value)
