"""Queueing email: an outbox row in the caller's transaction, rendered from templates."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, FileSystemLoader, TemplateNotFound, select_autoescape
from sqlalchemy.ext.asyncio import AsyncSession

from server.mail.models import OutboxMessage
from server.web.templating import TEMPLATE_DIR

_text_env = Environment(
    loader=FileSystemLoader(str(TEMPLATE_DIR / "mail")),
    autoescape=False,
    keep_trailing_newline=True,
)
_html_env = Environment(
    loader=FileSystemLoader(str(TEMPLATE_DIR / "mail")), autoescape=select_autoescape(["html"])
)


MAX_SUBJECT = 300  # the outbox's subject column


def fit_subject(subject: str) -> str:
    """``subject`` cut to the outbox's column, with an ellipsis: it holds the site title
    (up to 2,000 characters on the settings page) and members' names, and a subject
    longer than the column made every email's request a 500 on PostgreSQL."""
    if len(subject) <= MAX_SUBJECT:
        return subject
    return subject[: MAX_SUBJECT - 1].rstrip() + "…"


def render_email(name: str, context: dict[str, Any]) -> tuple[str, str, str]:
    """(subject, text, html) from ``templates/mail/{name}.subject.txt``, ``.txt``, ``.html``."""
    # One line: a name with a line break in it (a form takes them) must not become a
    # header of its own, nor a message no email can be made of.
    subject = " ".join(_text_env.get_template(f"{name}.subject.txt").render(context).split())
    text = _text_env.get_template(f"{name}.txt").render(context)
    try:
        html = _html_env.get_template(f"{name}.html").render(context)
    except TemplateNotFound:
        html = ""
    return subject, text, html


def queue_email(
    session: AsyncSession,
    *,
    to: str,
    template: str,
    context: dict[str, Any],
    member_id: int | None = None,
    queued_by_id: int | None = None,
) -> OutboxMessage:
    subject, text, html = render_email(template, context)
    message = OutboxMessage(
        kind=template,
        to_addr=to,
        subject=fit_subject(subject),
        body_text=text,
        body_html=html,
        member_id=member_id,
        queued_by_id=queued_by_id,
    )
    session.add(message)
    return message
