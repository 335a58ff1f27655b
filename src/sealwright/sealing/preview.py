"""Page images for the signer's review screen, rendered with PDFium (pypdfium2).

The signer sees the exact pages that will be sealed, with the fields drawn over them,
without depending on a browser's PDF viewer."""

from __future__ import annotations

import io

import pypdfium2 as pdfium

from sealwright.errors import NotFound, PdfRejected

MAX_WIDTH_PX = 1600


def render_page_png(pdf: bytes, page_number: int, *, width_px: int = 1000) -> bytes:
    """PNG of page ``page_number`` (1-based), ``width_px`` wide."""
    if not 100 <= width_px <= MAX_WIDTH_PX:
        raise ValueError("width out of range")
    try:
        document = pdfium.PdfDocument(pdf)
    except pdfium.PdfiumError as exc:
        raise PdfRejected("malformed", "the document cannot be rendered") from exc
    try:
        if not 1 <= page_number <= len(document):
            raise NotFound(f"page {page_number} does not exist")
        page = document[page_number - 1]
        try:
            bitmap = page.render(scale=width_px / page.get_width())
            image = bitmap.to_pil()
            out = io.BytesIO()
            image.save(out, format="PNG", optimize=False)
            return out.getvalue()
        finally:
            page.close()
    finally:
        document.close()
