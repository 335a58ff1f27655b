"""MailMessage: one recipient, no header injection, bodies kept out of reprs."""

from __future__ import annotations

import dataclasses

import pytest

from sealwright.errors import ValidationError
from sealwright.mail.message import MailMessage


def test_a_plain_message() -> None:
    message = MailMessage("alice@example.org", "Please sign", "text", html="<p>html</p>")
    assert (message.to, message.subject, message.text, message.html) == (
        "alice@example.org",
        "Please sign",
        "text",
        "<p>html</p>",
    )
    assert MailMessage("bob@example.org", "s", "t").html is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        message.to = "mallory@example.org"  # type: ignore[misc]


@pytest.mark.parametrize(
    "to",
    [
        "",
        "alice",
        "alice@example.org, mallory@example.org",
        "alice@example.org\r\nBcc: mallory@example.org",
        "Alice <alice@example.org>",
        "alice@@example.org",
        "alice @example.org",
        "@example.org",
        "alice@",
    ],
)
def test_rejects_anything_but_one_bare_address(to: str) -> None:
    with pytest.raises(ValidationError):
        MailMessage(to, "subject", "text")


@pytest.mark.parametrize("subject", ["a\r\nBcc: mallory@example.org", "a\nb", "a\x00b"])
def test_rejects_line_breaks_in_the_subject(subject: str) -> None:
    with pytest.raises(ValidationError):
        MailMessage("alice@example.org", subject, "text")


def test_accepts_international_addresses() -> None:
    assert MailMessage("jürgen@bücher.example", "Grüße", "text").to == "jürgen@bücher.example"


def test_repr_hides_the_body() -> None:
    message = MailMessage("alice@example.org", "Your code", "code 123456", html="<b>123456</b>")
    assert "123456" not in repr(message)
