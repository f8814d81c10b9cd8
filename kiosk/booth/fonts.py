"""Finding a font that really has Hangul, and proving it before the booth starts.

pygame's default font draws Korean as empty boxes without any error, so the booth checks every
character it will ever show and refuses to start with a font that lacks one.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ..errors import KioskError

INSTALL_HINT = "install one: sudo apt install fonts-nanum (or set [screen] font to a .ttf/.ttc with Korean)"
# (path, face index): Noto CJK collections hold Japanese first; index 1 is Korean.
KNOWN_FONTS = (
    ("/usr/share/fonts/truetype/nanum/NanumGothicBold.ttf", 0),
    ("/usr/share/fonts/truetype/nanum/NanumGothic.ttf", 0),
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc", 1),
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 1),
)


class FontError(KioskError):
    """No usable Hangul font; the message says how to install one."""


@dataclass(frozen=True)
class FontFile:
    path: str
    index: int = 0


def find_font(configured: str = "") -> FontFile:
    if configured:
        if not Path(configured).is_file():
            raise FontError(f"[screen] font = {configured!r}: file not found; {INSTALL_HINT}")
        index = 1 if configured.lower().endswith(".ttc") and "cjk" in configured.lower() else 0
        return FontFile(configured, index)
    for path, index in KNOWN_FONTS:
        if Path(path).is_file():
            return FontFile(path, index)
    found = _fontconfig_korean()
    if found:
        return FontFile(found)
    raise FontError(f"no font with Korean (Hangul) glyphs found; {INSTALL_HINT}")


def _fontconfig_korean() -> str | None:
    if not shutil.which("fc-list"):
        return None
    try:
        out = subprocess.run(["fc-list", ":lang=ko", "file"], capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    files = sorted(line.split(":")[0].strip() for line in out.splitlines() if line.strip())
    return files[0] if files else None


def missing_glyphs(font: FontFile, texts: list[str]) -> str:
    """The characters of `texts` the font cannot draw (empty when all are present)."""
    import pygame.freetype

    pygame.freetype.init()
    face = pygame.freetype.Font(font.path, 24, font_index=font.index)
    chars = sorted({c for text in texts for c in text if not c.isspace()})
    metrics = face.get_metrics("".join(chars))
    return "".join(c for c, m in zip(chars, metrics) if m is None)


def checked_font(configured: str, texts: list[str]) -> FontFile:
    """Find a font and make sure it has every character the booth will show."""
    font = find_font(configured)
    missing = missing_glyphs(font, texts)
    if missing:
        raise FontError(f"font {font.path} lacks glyphs for {missing[:20]!r}; {INSTALL_HINT}")
    return font
