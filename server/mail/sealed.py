"""Secrets inside queued mail (card links) are stored encrypted, never in plain text.

A message body holds ``[[sealed:<Fernet token>]]`` where the secret belongs; the
delivery loop and the admin outbox viewer open it with a key derived from SECRET_KEY.
So the database (and its backups) never hold a usable card token.
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from jinja2 import pass_context
from markupsafe import Markup

SEALED_RE = re.compile(r"\[\[sealed:([A-Za-z0-9_=-]+)\]\]")


class UnreadableSeal(ValueError):
    """The seal was made with another SECRET_KEY."""


def _fernet(secret_key: str) -> Fernet:
    digest = hashlib.sha256(b"tessera.sealed-mail:" + secret_key.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def seal(value: str, secret_key: str) -> str:
    return "[[sealed:" + _fernet(secret_key).encrypt(value.encode()).decode() + "]]"


def unseal(text: str, secret_key: str) -> str:
    """``text`` with every seal replaced by its secret; UnreadableSeal if one cannot be opened."""
    fernet = _fernet(secret_key)

    def opened(match: re.Match[str]) -> str:
        try:
            return fernet.decrypt(match.group(1).encode()).decode()
        except InvalidToken:
            raise UnreadableSeal(
                "a sealed link in this message was made with another SECRET_KEY"
            ) from None

    return SEALED_RE.sub(opened, text)


@pass_context
def unseal_filter(context: Any, text: str) -> str:
    """Jinja filter for the outbox viewer: ``{{ message.body_html|unseal }}``.

    Keeps ``Markup`` input as ``Markup``; an unreadable seal is shown as a note.
    """
    request = context.get("request")
    key = str(request.app.state.settings.secret_key)
    try:
        opened = unseal(str(text), key)
    except UnreadableSeal as exc:
        opened = SEALED_RE.sub(f"[{exc}]", str(text))
    return Markup(opened) if isinstance(text, Markup) else opened
