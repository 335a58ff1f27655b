"""Fonts for stamps and certificates, embedded (subset) so every viewer renders the same glyphs.

DejaVu is preferred where the OS has it (it covers Latin, Greek and Cyrillic names); otherwise
the Bitstream Vera fonts that ship inside reportlab, which always exist but cover Western
European scripts only. Characters a font lacks render as empty boxes rather than failing.
The standard 14 PDF fonts are not used: they are not embedded and are limited to WinAnsi.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import reportlab
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

_DEJAVU_DIRS = (
    Path("/usr/share/fonts/truetype/dejavu"),  # Debian, Ubuntu
    Path("/usr/share/fonts/dejavu"),  # Alpine, Arch
    Path("/usr/share/fonts/dejavu-sans-fonts"),  # Fedora (sans)
    Path("/usr/share/fonts/dejavu-serif-fonts"),  # Fedora (serif)
)
_DEJAVU = {
    "regular": "DejaVuSans.ttf",
    "bold": "DejaVuSans-Bold.ttf",
    "script": "DejaVuSerif-Italic.ttf",
}
_VERA = {"regular": "Vera.ttf", "bold": "VeraBd.ttf", "script": "VeraIt.ttf"}


@dataclass(frozen=True)
class Fonts:
    """Registered reportlab font names."""

    regular: str
    bold: str
    #: For typed signatures and initials: an italic face that reads as handwriting.
    script: str


@functools.cache
def fonts() -> Fonts:
    """Register the fonts with reportlab (once per process) and return their names."""
    files = _find(_DEJAVU, _DEJAVU_DIRS) or _find(
        _VERA, (Path(reportlab.__file__).parent / "fonts",)
    )
    if files is None:
        raise RuntimeError("reportlab's bundled Vera fonts are missing")
    names = {}
    for role, path in files.items():
        name = f"Sealwright-{role}"
        pdfmetrics.registerFont(TTFont(name, str(path)))
        names[role] = name
    return Fonts(regular=names["regular"], bold=names["bold"], script=names["script"])


def _find(wanted: dict[str, str], directories: tuple[Path, ...]) -> dict[str, Path] | None:
    found: dict[str, Path] = {}
    for role, filename in wanted.items():
        for directory in directories:
            if (directory / filename).is_file():
                found[role] = directory / filename
                break
        else:
            return None
    return found
