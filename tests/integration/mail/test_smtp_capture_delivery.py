"""SmtpMailer -> CaptureSmtpServer over a real loopback socket."""

from __future__ import annotations

import re
import socket
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from sealwright.clock import FixedClock
from sealwright.errors import DeliveryFailed, NotFound
from sealwright.mail.capture import CaptureSmtpServer
from sealwright.mail.message import MailMessage
from sealwright.mail.sender import SmtpMailer

START = datetime(2030, 5, 1, 9, 30, tzinfo=UTC)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
def capture(tmp_path: Path, clock: FixedClock) -> Iterator[CaptureSmtpServer]:
    server = CaptureSmtpServer(tmp_path / "mail", clock=clock)
    server.start()
    yield server
    server.stop()


def _mailer(
    server: CaptureSmtpServer, *, starttls: bool = False, clock: FixedClock | None = None
) -> SmtpMailer:
    return SmtpMailer(
        "127.0.0.1", server.port, "noreply@sealwright.test", starttls=starttls, clock=clock
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_sent_message_is_captured_and_readable(
    capture: CaptureSmtpServer, clock: FixedClock, tmp_path: Path
) -> None:
    mailer = _mailer(capture, clock=clock)
    mailer.send(
        MailMessage(
            "alice@example.org",
            "Bitte unterschreiben: Vertrag Nr. 7",
            "Your code is 493817.\nOpen https://sign.example/s/AbC-123_x to sign.\n",
            html='<p>Open <a href="https://sign.example/s/AbC-123_x">the document</a></p>',
        )
    )
    (summary,) = capture.list()
    assert summary.to == ("alice@example.org",)
    assert summary.sender == "noreply@sealwright.test"
    assert summary.subject == "Bitte unterschreiben: Vertrag Nr. 7"
    assert summary.received_at == START
    mail = capture.get(summary.id)
    assert re.search(r"\b(\d{6})\b", mail.text) is not None
    assert "https://sign.example/s/AbC-123_x" in mail.text
    assert "\r" not in mail.text
    assert mail.html is not None
    assert 'href="https://sign.example/s/AbC-123_x"' in mail.html

    directory = tmp_path / "mail"
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    (eml,) = directory.glob("*.eml")
    assert eml.stem == summary.id
    assert stat.S_IMODE(eml.stat().st_mode) == 0o600
    raw = eml.read_bytes()
    assert b"\r\nDate: Wed, 01 May 2030 09:30:00 +0000\r\n" in raw
    assert b"X-Sealwright-Envelope-To: alice@example.org\r\n" in raw


def test_mail_is_listed_oldest_first_and_text_only_has_no_html(
    capture: CaptureSmtpServer, clock: FixedClock
) -> None:
    mailer = _mailer(capture)
    for n in range(3):
        mailer.send(MailMessage(f"r{n}@example.org", f"message {n}", f"body {n}"))
        clock.advance(1)
    mails = capture.list()
    assert [m.subject for m in mails] == ["message 0", "message 1", "message 2"]
    assert [m.to for m in mails] == [("r0@example.org",), ("r1@example.org",), ("r2@example.org",)]
    assert mails[0].text == "body 0\n"
    assert mails[0].html is None


@pytest.mark.parametrize(
    "mail_id", ["missing", "../../etc/passwd", "20300501T093000000000Z-00000000"]
)
def test_unknown_ids_are_not_found(capture: CaptureSmtpServer, mail_id: str) -> None:
    with pytest.raises(NotFound):
        capture.get(mail_id)


def test_nothing_listening_is_delivery_failed() -> None:
    mailer = SmtpMailer("127.0.0.1", _free_port(), "noreply@sealwright.test", timeout=2)
    with pytest.raises(DeliveryFailed, match="cannot reach") as caught:
        mailer.send(MailMessage("alice@example.org", "s", "t"))
    assert not caught.value.permanent


def test_a_silent_server_times_out_as_delivery_failed() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)  # the kernel accepts the connection; nobody ever says hello
        mailer = SmtpMailer(
            "127.0.0.1", silent.getsockname()[1], "noreply@sealwright.test", timeout=0.5
        )
        with pytest.raises(DeliveryFailed):
            mailer.send(MailMessage("alice@example.org", "s", "t"))


def test_starttls_is_never_silently_skipped(capture: CaptureSmtpServer) -> None:
    # The capture server offers no STARTTLS: the mailer must refuse, not send in the clear.
    mailer = _mailer(capture, starttls=True)
    with pytest.raises(DeliveryFailed, match=r"(?i)starttls"):
        mailer.send(MailMessage("alice@example.org", "s", "t"))
    assert capture.list() == []


def test_start_warns_loudly_and_stop_closes_the_port(tmp_path: Path) -> None:
    server = CaptureSmtpServer(tmp_path / "mail")
    with capture_logs() as logs:
        port = server.start()
    try:
        assert port > 0
        assert any(
            entry["log_level"] == "warning" and "DEVELOPMENT MAIL CAPTURE" in entry["event"]
            for entry in logs
        )
        with pytest.raises(RuntimeError):
            server.start()
    finally:
        server.stop()
    with pytest.raises(DeliveryFailed):
        SmtpMailer("127.0.0.1", port, "noreply@sealwright.test", timeout=2).send(
            MailMessage("alice@example.org", "s", "t")
        )


def test_context_manager_and_restart(tmp_path: Path) -> None:
    server = CaptureSmtpServer(tmp_path / "mail")
    with server:
        SmtpMailer("127.0.0.1", server.port, "noreply@sealwright.test").send(
            MailMessage("alice@example.org", "first", "1")
        )
    with server:
        SmtpMailer("127.0.0.1", server.port, "noreply@sealwright.test").send(
            MailMessage("alice@example.org", "second", "2")
        )
    assert sorted(m.subject for m in server.list()) == ["first", "second"]
