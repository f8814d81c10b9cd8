"""Reading photo files safely: any format OpenCV reads, EXIF orientation, bounded memory.

Every failure becomes a `PhotoError` with a one-line reason, so a batch run can report it and go on.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif", ".jp2", ".pgm",
                  ".ppm", ".pbm", ".pnm"}

# A file this size could only be a photo far above any pixel cap; refusing it before reading keeps
# memory bounded even for hostile input.
MAX_FILE_BYTES = 200 * 1024 * 1024


class PhotoError(ValueError):
    """A photo that cannot be used, worded as one line for the operator."""


@dataclass(frozen=True)
class Photo:
    image: np.ndarray  # upright 8-bit BGR
    scale: int = 1  # original pixels per decoded pixel (large JPEGs are decoded reduced)


def read_photo(path: Path | str, max_megapixels: float) -> Photo:
    """Decode a photo as upright 8-bit BGR, shrinking or refusing it above the pixel cap.

    The size comes from the header first, so an oversized file is refused before it is read.
    OpenCV then decodes from the file's bytes in memory: `imdecode` rejects a truncated JPEG,
    where `imread` would quietly fill the missing part with grey."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise PhotoError(f"cannot read file: {exc.strerror or exc}") from None
    if path.is_dir():
        raise PhotoError("is a directory, not a photo")
    if size == 0:
        raise PhotoError("empty file")
    if size > MAX_FILE_BYTES:
        raise PhotoError(f"file too large ({size // 2**20} MiB); photos up to {MAX_FILE_BYTES // 2**20} MiB")
    width, height, is_jpeg = _header(path)
    cap = max_megapixels * 1e6
    flags = cv2.IMREAD_COLOR  # also applies EXIF orientation, converts grey/16-bit/alpha to 8-bit BGR
    scale = 1
    if width * height > cap:
        if not is_jpeg:
            raise PhotoError(f"image too large ({width}x{height} px, over {max_megapixels:g} megapixels); "
                             "shrink it first")
        # libjpeg decodes straight to 1/2, 1/4 or 1/8 size, so the full image never sits in memory.
        for factor, reduced in ((2, cv2.IMREAD_REDUCED_COLOR_2), (4, cv2.IMREAD_REDUCED_COLOR_4),
                                (8, cv2.IMREAD_REDUCED_COLOR_8)):
            flags, scale = reduced, factor
            if width * height / factor**2 <= cap:
                break
        else:
            raise PhotoError(f"image too large ({width}x{height} px); shrink it below "
                             f"{max_megapixels * 64:g} megapixels")
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise PhotoError(f"cannot read file: {exc.strerror or exc}") from None
    try:
        image = cv2.imdecode(data, flags)
    except cv2.error as exc:
        raise PhotoError(f"cannot decode image ({_one_line(exc)})") from None
    del data
    if image is None:
        image = _decode_with_pillow(path)
    if image is None or image.size == 0:
        raise PhotoError("not an image OpenCV can decode (broken, truncated or unsupported format)")
    if image.dtype != np.uint8:  # Pillow fallback may give other depths
        image = cv2.convertScaleAbs(image)
    return Photo(image, scale)


def _header(path: Path) -> tuple[int, int, bool]:
    """Width, height and whether it is a JPEG, from the header alone (Pillow opens lazily)."""
    from PIL import Image, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = None  # we apply our own cap, with our own message
    try:
        with Image.open(path) as im:
            return im.size[0], im.size[1], im.format == "JPEG"
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        # Unknown to Pillow: OpenCV may still read it; its own pixel limit guards the decode.
        return 0, 0, False


def _decode_with_pillow(path: Path) -> np.ndarray | None:
    """Formats OpenCV lacks (e.g. GIF in some builds): first frame, upright, as BGR."""
    from PIL import Image, ImageOps

    try:
        with Image.open(path) as im:
            im.seek(0)
            rgb = ImageOps.exif_transpose(im).convert("RGB")
            return cv2.cvtColor(np.asarray(rgb), cv2.COLOR_RGB2BGR)
    except Exception:  # Pillow raises many types for broken files; all mean "cannot decode".
        return None


def list_photos(paths: list[str]) -> list[str]:
    """Expand directories to their image files (sorted); keep files as given, even odd ones, so that
    a wrongly named or broken file is reported rather than silently skipped."""
    expanded: list[str] = []
    for given in paths:
        if os.path.isdir(given):
            entries = sorted(e for e in os.listdir(given) if Path(e).suffix.lower() in IMAGE_SUFFIXES)
            expanded.extend(os.path.join(given, e) for e in entries)
        else:
            expanded.append(given)
    return expanded


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())[:200]
