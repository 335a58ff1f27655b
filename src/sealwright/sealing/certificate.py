"""The Certificate of Completion: the human-readable summary appended before sealing.

It restates, for someone holding only the PDF, what the evidence bundle proves: which
documents (by original SHA-256), who was asked to sign in which order, how each was
identified and when they signed, and every audit event with the start of its ledger leaf
hash, so a reader can find each one in the transparency log. The seal then covers it together
with the documents.

Each signer who has a signed QR code (``CertificateRecipient.qr``: the CWT/COSE/base45 text
of docs/assertions.md §5, made by the sealing job) gets it drawn under their block, as
vector shapes, with a caption saying what it binds and how to check it. The code is drawn
before sealing, so the seal covers it too.

Inputs are frozen dataclasses filled by the caller from the domain and the ledger; nothing
here reads storage. Times must be timezone-aware and are printed in UTC.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from io import BytesIO
from typing import Any
from xml.sax.saxutils import escape

from pypdf import PdfReader, PdfWriter
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table
from reportlab.platypus import TableStyle as _TableStyle

from sealwright.errors import ValidationError
from sealwright.sealing._fonts import Fonts, fonts
from sealwright.sealing.qr_flowable import QrFlowable

TITLE = "Certificate of Completion"
#: Leaf hashes are shown shortened; 16 hex digits (64 bits) find an event unambiguously.
LEAF_HASH_DIGITS = 16
#: Printed size of a signer's QR code: about 0.6 mm per module for the usual ~370
#: characters (version 11-12), which phone cameras and 150 dpi scans read reliably.
QR_SIZE = 42 * mm


@dataclass(frozen=True)
class CertificateDocument:
    name: str
    sha256: str  # of the original upload, lowercase hex
    page_count: int | None = None


@dataclass(frozen=True)
class IdentityCheck:
    method: str  # e.g. "email link", "SMS one-time code"
    passed_at: datetime


@dataclass(frozen=True)
class CertificateQr:
    """A signer's signed QR code: its text (``SW1:...``) and when it stops verifying."""

    text: str
    expires_at: datetime


@dataclass(frozen=True)
class CertificateRecipient:
    name: str
    email: str
    role: str  # e.g. "signer", "approver", "carbon copy"
    routing_order: int
    status: str  # e.g. "signed", "declined"
    identity_checks: tuple[IdentityCheck, ...] = ()
    signed_at: datetime | None = None
    meaning: str | None = None  # e.g. "Signer — approval"
    #: The IP address as the caller chooses to disclose it (clear or hashed).
    ip: str | None = None
    user_agent_hash: str | None = None
    qr: CertificateQr | None = None


@dataclass(frozen=True)
class CertificateEvent:
    time: datetime
    tag: str  # "<source>:<subject>:<action>"
    actor: str
    leaf_hash: str  # hex SHA-256 of the ledger leaf


@dataclass(frozen=True)
class CompletionCertificate:
    envelope_id: str
    title: str
    status: str
    generated_at: datetime
    documents: tuple[CertificateDocument, ...]
    recipients: tuple[CertificateRecipient, ...]
    events: tuple[CertificateEvent, ...]
    completed_at: datetime | None = None
    sender: str | None = None


def render_certificate(cert: CompletionCertificate) -> bytes:
    """Render ``cert`` as an A4 PDF of one or more pages (numbered "page i of n")."""
    names = fonts()
    styles = _Styles(names)
    buffer = BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=18 * mm,
        bottomMargin=20 * mm,
        title=f"{TITLE} — {cert.title}",
        author="Sealwright",
        subject=f"Envelope {cert.envelope_id}",
        invariant=True,  # no creation-time or random ID: same input, same bytes
    )
    width = document.width
    story: list[Any] = [
        Paragraph(TITLE, styles.title),
        _pairs(
            styles,
            width,
            [
                ("Envelope", cert.envelope_id),
                ("Title", cert.title),
                ("Status", cert.status),
                ("Sender", cert.sender or "—"),
                ("Completed (UTC)", _time(cert.completed_at)),
                ("Generated (UTC)", _time(cert.generated_at)),
            ],
        ),
        Paragraph(f"Documents ({len(cert.documents)})", styles.heading),
        _documents(styles, width, cert.documents),
        Paragraph(f"Recipients ({len(cert.recipients)})", styles.heading),
    ]
    for recipient in sorted(cert.recipients, key=lambda r: r.routing_order):
        block: list[Any] = [_recipient(styles, width, recipient)]
        if recipient.qr is not None:
            block.append(_qr_block(styles, width, recipient.qr))
        story.append(KeepTogether([*block, Spacer(1, 3 * mm)]))
    story.append(Paragraph(f"Audit trail ({len(cert.events)} events)", styles.heading))
    story.append(_events(styles, width, cert.events))
    footer = f"{TITLE} · envelope {cert.envelope_id}"
    document.build(story, canvasmaker=_numbered_canvas(footer, names.regular))
    return buffer.getvalue()


def append_pages(pdf: bytes, extra: bytes) -> bytes:
    """Return a new PDF: every page of ``pdf``, then every page of ``extra``."""
    base, addition = PdfReader(BytesIO(pdf)), PdfReader(BytesIO(extra))
    if base.is_encrypted or addition.is_encrypted:
        raise ValidationError("cannot append pages to or from an encrypted PDF")
    writer = PdfWriter(clone_from=base)
    writer.append(addition)
    output = BytesIO()
    writer.write(output)
    return output.getvalue()


# -- layout ----------------------------------------------------------------------------------


class _Styles:
    def __init__(self, names: Fonts) -> None:
        self.title = ParagraphStyle(
            "title", fontName=names.bold, fontSize=18, leading=22, spaceAfter=4 * mm
        )
        self.heading = ParagraphStyle(
            "heading",
            fontName=names.bold,
            fontSize=12,
            leading=15,
            spaceBefore=5 * mm,
            spaceAfter=2 * mm,
        )
        self.label = ParagraphStyle("label", fontName=names.bold, fontSize=8, leading=10)
        self.cell = ParagraphStyle("cell", fontName=names.regular, fontSize=8, leading=10)
        # Hashes, e-mail addresses and tags have no spaces to break at: break anywhere.
        self.code = ParagraphStyle(
            "code", fontName=names.regular, fontSize=7, leading=9, wordWrap="CJK"
        )


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    # Every string here may come from a user; Paragraph parses markup, so escape it.
    return Paragraph(escape(text), style)


def _pairs(styles: _Styles, width: float, rows: Sequence[tuple[str, str]]) -> Table:
    table = Table(
        [[_p(k, styles.label), _p(v, styles.cell)] for k, v in rows],
        colWidths=[0.25 * width, 0.75 * width],
    )
    table.setStyle(_GRID)
    return table


def _documents(styles: _Styles, width: float, documents: Sequence[CertificateDocument]) -> Table:
    rows: list[list[Any]] = [
        [_p(h, styles.label) for h in ("#", "Name", "Pages", "Original SHA-256")]
    ]
    for number, doc in enumerate(documents, start=1):
        pages = "—" if doc.page_count is None else str(doc.page_count)
        rows.append(
            [
                _p(str(number), styles.cell),
                _p(doc.name, styles.cell),
                _p(pages, styles.cell),
                _p(doc.sha256, styles.code),
            ]
        )
    table = Table(rows, colWidths=[0.05 * width, 0.4 * width, 0.08 * width, 0.47 * width])
    table.setStyle(_HEADED_GRID)
    return table


def _recipient(styles: _Styles, width: float, r: CertificateRecipient) -> Table:
    checks = "; ".join(f"{c.method} ({_time(c.passed_at)})" for c in r.identity_checks)
    rows = [
        ("Name", r.name),
        ("E-mail", r.email),
        ("Role", r.role),
        ("Routing order", str(r.routing_order)),
        ("Status", r.status),
        ("Identity checks passed", checks or "—"),
        ("Signed (UTC)", _time(r.signed_at)),
        ("Meaning of signature", r.meaning or "—"),
    ]
    if r.ip is not None:
        rows.append(("IP address", r.ip))
    if r.user_agent_hash is not None:
        rows.append(("User agent (SHA-256)", r.user_agent_hash))
    return _pairs(styles, width, rows)


def _qr_block(styles: _Styles, width: float, qr: CertificateQr) -> Table:
    caption = (
        "Signed QR code (COSE_Sign1, Ed25519): it binds the original SHA-256 of this "
        "document to this signer's pseudonymous id. Check it offline with "
        "<i>sealwright qr verify</i> and the service's public QR key (trust file), or "
        f"online at the service. Valid until {escape(_time(qr.expires_at))}."
    )
    table = Table(
        [[QrFlowable(qr.text, QR_SIZE), Paragraph(caption, styles.cell)]],
        colWidths=[QR_SIZE + 4 * mm, width - QR_SIZE - 4 * mm],
    )
    table.setStyle(
        _TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("BOX", (0, 0), (-1, -1), 0.25, colors.grey),
            ]
        )
    )
    return table


def _events(styles: _Styles, width: float, events: Sequence[CertificateEvent]) -> Table:
    rows: list[list[Any]] = [
        [_p(h, styles.label) for h in ("Time (UTC)", "Event", "Actor", "Leaf hash")]
    ]
    for event in events:
        rows.append(
            [
                _p(_time(event.time), styles.code),
                _p(event.tag, styles.code),
                _p(event.actor, styles.code),
                _p(event.leaf_hash[:LEAF_HASH_DIGITS], styles.code),
            ]
        )
    # repeatRows: the header comes back on every page the table continues on.
    table = Table(
        rows,
        # Sized so that a time, a usual tag, "recipient:<32 hex>" and the hash prefix each
        # fit on one line at 7 pt: one line per event keeps hundreds of them readable.
        colWidths=[106, 110, width - 106 - 110 - 90, 90],
        repeatRows=1,
    )
    table.setStyle(_HEADED_GRID)
    return table


_GRID = _TableStyle(
    [
        ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("BACKGROUND", (0, 0), (0, -1), colors.Color(0.94, 0.94, 0.94)),
    ]
)
_HEADED_GRID = _TableStyle(
    [
        ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("BACKGROUND", (0, 0), (-1, 0), colors.Color(0.94, 0.94, 0.94)),
    ]
)


def _time(moment: datetime | None) -> str:
    if moment is None:
        return "—"
    if moment.tzinfo is None:
        raise ValidationError("certificate times must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _numbered_canvas(footer: str, font: str) -> type[Canvas]:
    """A canvas that holds pages back until the end, to print "page i of n" on each."""

    class NumberedCanvas(Canvas):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._held: list[dict[str, Any]] = []

        def showPage(self) -> None:
            self._held.append(dict(self.__dict__))
            self._startPage()  # type: ignore[attr-defined]  # reportlab recipe

        def save(self) -> None:
            total = len(self._held)
            for number, state in enumerate(self._held, start=1):
                self.__dict__.update(state)
                self.setFont(font, 7)
                self.setFillColor(colors.grey)
                self.drawString(18 * mm, 10 * mm, footer)
                self.drawRightString(A4[0] - 18 * mm, 10 * mm, f"Page {number} of {total}")
                super().showPage()
            super().save()

    return NumberedCanvas
