"""Render, then send: jinja2 templates (autoescaped HTML, StrictUndefined) into typed messages."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from credflow.mail.base import Message, PermanentMailError, header_text, usable_address


@cache
def mail_environment() -> Environment:
    """The mail templates' environment: HTML is autoescaped; a missing variable is an error."""
    return Environment(
        loader=PackageLoader("credflow", "templates/mail"),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render_message(
    template: str,
    *,
    idempotency_key: str,
    to_email: str,
    to_name: str,
    context: Mapping[str, Any],
    reply_to: str | None = None,
) -> Message:
    """Render ``<template>.subject``/``.txt``/``.html`` into a :class:`Message`.

    Header values (subject, recipient name) are made one clean line here, whatever users typed,
    so no mailer ever builds a header from raw user text. The templates see ``reply_to`` (the
    address or None) and invite a reply only when there is somewhere for it to go.

    Raises:
        PermanentMailError: the recipient or Reply-To address cannot be put in a header.
    """
    if not usable_address(to_email):
        raise PermanentMailError("the recipient address contains spaces or control characters")
    if reply_to is not None and not usable_address(reply_to):
        raise PermanentMailError("the Reply-To address contains spaces or control characters")
    context = {**context, "reply_to": reply_to}
    env = mail_environment()
    subject = env.get_template(f"{template}.subject").render(context)
    return Message(
        idempotency_key=idempotency_key,
        kind=template,
        to_email=to_email,
        to_name=header_text(to_name),
        subject=header_text(subject, limit=998),
        text=env.get_template(f"{template}.txt").render(context),
        html=env.get_template(f"{template}.html").render(context),
        reply_to=reply_to,
    )
