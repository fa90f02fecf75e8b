"""Turning an outbox job into an email: Jinja2 text + HTML templates and attachments."""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

TEMPLATES = Path(__file__).resolve().parent / "templates"
KINDS = ("key", "file", "activation_code")
TEMPLATE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")

_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    content: bytes

    def to_json(self) -> dict[str, str]:
        return {
            "filename": self.filename,
            "content_type": self.content_type,
            "content_b64": base64.b64encode(self.content).decode(),
        }

    @classmethod
    def from_json(cls, data: dict[str, str]) -> Attachment:
        return cls(data["filename"], data["content_type"], base64.b64decode(data["content_b64"]))


@dataclass(frozen=True)
class Sender:
    name: str
    email: str
    reply_to: str | None = None
    footer: str | None = None
    business_name: str = ""


@dataclass(frozen=True)
class Letter:
    """Everything one message needs, decrypted: what the worker renders and sends."""

    job_id: str
    message_id: str
    template: str
    recipient: str
    context: dict[str, Any]
    attachments: list[Attachment] = field(default_factory=list)


def template_exists(name: str) -> bool:
    if not TEMPLATE_NAME.match(name):
        return False
    return all((TEMPLATES / f"{name}.{part}").is_file() for part in ("subject.txt", "txt", "html"))


def render_parts(template: str, context: dict[str, Any]) -> tuple[str, str, str]:
    """Subject (one line), plain text and HTML of a template."""
    context = {"business_name": "", "footer": None, "reply_to": None, **context}
    subject = _env.get_template(f"{template}.subject.txt").render(context)
    subject = " ".join(subject.split())[:250]
    text = _env.get_template(f"{template}.txt").render(context)
    html = _env.get_template(f"{template}.html").render(context)
    return subject, text, html


def _leaf_texts(msg: EmailMessage) -> list[str]:
    return [str(part.get_payload()) for part in msg.walk() if not part.is_multipart()]


def fix_boundaries(msg: EmailMessage, seed: str) -> None:
    """MIME boundaries derived from the Message-ID instead of random ones, so that every
    attempt at one job sends the same bytes; one that occurs in the content is skipped."""
    texts = _leaf_texts(msg)
    for index, part in enumerate(msg.walk()):
        if not part.is_multipart():
            continue
        for salt in range(1000):
            digest = hashlib.sha256(f"{seed}:{index}:{salt}".encode()).hexdigest()[:32]
            boundary = f"===============licensor{digest}=="
            if not any(boundary in text for text in texts):
                break
        part.set_boundary(boundary)


def build_message(letter: Letter, sender: Sender, sent_at: Any) -> EmailMessage:
    """The MIME message. It depends only on the job (and the sender's settings), so every
    retry sends the same bytes: Message-ID from the job id, Date from the job's creation,
    MIME boundaries from the Message-ID."""
    context = {
        **letter.context,
        "business_name": sender.business_name,
        "footer": sender.footer,
        "reply_to": sender.reply_to,
    }
    subject, text, html = render_parts(letter.template, context)
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = formataddr((sender.name, sender.email))
    msg["To"] = letter.recipient
    if sender.reply_to:
        msg["Reply-To"] = sender.reply_to
    msg["Message-ID"] = letter.message_id
    msg["Date"] = format_datetime(sent_at)
    msg["X-Licensor-Delivery"] = letter.job_id
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    for item in letter.attachments:
        maintype, _, subtype = item.content_type.partition("/")
        msg.add_attachment(
            item.content,
            maintype=maintype,
            subtype=subtype or "octet-stream",
            filename=item.filename,
        )
    fix_boundaries(msg, letter.message_id)
    return msg
