"""Signed QR codes (C4): ``sealwright qr verify`` (offline) and ``sealwright qr make``.

``verify`` takes the QR code's text (``SW1:...``), as any phone scanner app shows it, or
a file holding that text. Reading the *image* needs a QR decoder library: when the
optional ``zxing-cpp`` package is installed (the ``qr-images`` extra), an image file
(PNG, JPEG: a scan, a photo, a rendering of a certificate page) is decoded with it; without
it the command says so and asks for the text. No decoder is a dependency,
because the verification itself never needs one.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from sealwright.errors import SealwrightError

_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp"}


@click.group("qr")
def qr() -> None:
    """Signed QR codes."""


@qr.command("verify")
@click.argument("code")
@click.option(
    "--trust",
    "trust_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The trust file: its qr_keys (own and partner keys) are the keys accepted.",
)
@click.option("--doc-hash", default=None, help="Also require this document SHA-256 (hex).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def qr_verify(code: str, trust_file: Path, doc_hash: str | None, as_json: bool) -> None:
    """Verify CODE offline: the QR text (SW1:...), or a file holding the text or image.

    Exit status 0 only if the code verifies."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from sealwright.channels.qr import decode_qr
    from sealwright.evidence.trust import TrustStore

    try:
        trust = TrustStore.from_json(trust_file.read_bytes())
    except (SealwrightError, ValueError) as exc:
        raise click.ClickException(f"cannot use trust file {trust_file}: {exc}") from exc
    if not trust.qr_keys:
        raise click.ClickException(f"trust file {trust_file} pins no qr_keys")
    expected = None
    if doc_hash is not None:
        try:
            expected = bytes.fromhex(doc_hash)
        except ValueError as exc:
            raise click.ClickException("--doc-hash must be hex") from exc
    text = _read_code(code)
    keys = [Ed25519PublicKey.from_public_bytes(k.public_key) for k in trust.qr_keys]
    try:
        found = decode_qr(text, keys, now=datetime.now(UTC), doc_hash=expected)
    except SealwrightError as exc:
        if as_json:
            click.echo(json.dumps({"ok": False, "error": str(exc)}, sort_keys=True))
        else:
            click.echo(f"QR NOT VERIFIED: {exc}")
        sys.exit(1)
    c = found.claims
    result = {
        "ok": True,
        "kid": found.kid.hex(),
        "issuer": c.issuer,
        "docHash": c.doc_hash.hex(),
        "signerIdHash": c.signer_id_hash.hex(),
        "iat": c.iat,
        "exp": c.exp,
    }
    if as_json:
        click.echo(json.dumps(result, indent=2, sort_keys=True))
    else:
        click.echo(
            f"QR VERIFIED: issued by {c.issuer} (key {found.kid.hex()}) for document "
            f"{c.doc_hash.hex()}, valid until {datetime.fromtimestamp(c.exp, UTC).isoformat()}"
        )


def _read_code(code: str) -> str:
    if code.startswith("SW") and ":" in code[:6]:
        return code
    path = Path(code)
    if not path.is_file():
        raise click.ClickException("CODE is neither QR text (SW1:...) nor a readable file")
    if path.suffix.lower() in _IMAGE_SUFFIXES:
        return _decode_image(path)
    try:
        return path.read_text("ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"cannot read {path} as QR text") from exc


def _decode_image(path: Path) -> str:
    try:
        import zxingcpp  # type: ignore[import-not-found, unused-ignore]
        from PIL import Image
    except ImportError as exc:
        raise click.ClickException(
            "reading QR images needs the optional zxing-cpp package (the extra "
            "sealwright[qr-images]); pass the code's text (SW1:...) instead"
        ) from exc
    with Image.open(path) as image:
        results = zxingcpp.read_barcodes(image)
    texts = [r.text for r in results if str(r.text).startswith("SW")]
    if len(texts) != 1:
        raise click.ClickException(f"found {len(texts)} Sealwright QR codes in {path}, not one")
    return str(texts[0])


@qr.command("make")
@click.option("--doc-hash", required=True, help="SHA-256 (hex) of the document.")
@click.option("--signer-id-hash", required=True, help="The signer's pseudonymous id (hex).")
@click.option(
    "--ttl",
    type=click.IntRange(60, 36500 * 86400),
    default=86400,
    show_default=True,
    help="Seconds the code stays valid (certificate codes use years: qr_certificate_ttl_days).",
)
@click.option("--svg", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--png", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.pass_context
def qr_make(
    ctx: click.Context,
    doc_hash: str,
    signer_id_hash: str,
    ttl: int,
    svg: Path | None,
    png: Path | None,
) -> None:
    """Sign a QR code with the service's QR key; print its text, optionally render it."""
    from sealwright.channels.keys import ChannelKeys
    from sealwright.channels.qr import QrClaims, encode_qr, render_png, render_svg
    from sealwright.clock import SystemRandom

    settings = ctx.obj["settings"]
    keys = ChannelKeys.open(settings.keys_dir, SystemRandom())
    now = int(datetime.now(UTC).timestamp())
    try:
        claims = QrClaims(
            issuer=settings.log_origin,
            doc_hash=bytes.fromhex(doc_hash),
            signer_id_hash=bytes.fromhex(signer_id_hash),
            iat=now,
            exp=now + ttl,
            nonce=SystemRandom().token_bytes(16),
        )
    except (SealwrightError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    text = encode_qr(claims, keys.qr.private_key_for_current())
    if svg is not None:
        svg.write_bytes(render_svg(text))
    if png is not None:
        png.write_bytes(render_png(text))
    click.echo(text)


COMMANDS = [qr]
