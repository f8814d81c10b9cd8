"""The photo decoder process: the only code that hands a photo's bytes to OpenCV's or Pillow's decoders.

`photo.py` starts it as a child (`python -m kiosk.decoder FD`) and talks to it over a socket, so a
decoder that crashes, hangs or balloons on a hostile file takes down this process only: the caller
reports one line and starts a fresh one. Before each photo the address space is capped to the
memory the caller budgeted for it (RLIMIT_AS), and stderr goes nowhere, which silences OpenCV's,
libpng's and libjpeg's own messages. The bytes it gets have passed `formats.parse`.

Whatever comes in, what goes back is an upright 8-bit BGR image: grey gets three channels, 16-bit
samples are scaled to 8, alpha is laid over white, the EXIF orientation is applied, and an image
above the pixel cap is shrunk.
"""

from __future__ import annotations

import io
import os
import resource
import sys
from multiprocessing.connection import Connection

import cv2
import numpy as np

from .errors import one_line

_REDUCED = {1: cv2.IMREAD_COLOR, 2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4,
            8: cv2.IMREAD_REDUCED_COLOR_8}


class DecodeError(Exception):
    pass


def decode(fmt: str, payload: bytes, reduce: int, orientation: int, max_pixels: int) -> tuple[np.ndarray, float]:
    """The upright 8-bit BGR image, and how many times it was shrunk after decoding."""
    if fmt == "GIF":
        image = _gif(payload)
    else:
        # PNG and WebP keep their alpha (laid over white below) and 16-bit depth. Orientation is ours
        # to apply, the same way for every format, except that OpenCV's TIFF reader applies the TIFF
        # orientation itself, even when told not to (and converts CMYK, palettes and 16 bits).
        flags = cv2.IMREAD_UNCHANGED if fmt in ("PNG", "WEBP") else _REDUCED[reduce] | cv2.IMREAD_IGNORE_ORIENTATION
        image = cv2.imdecode(np.frombuffer(payload, np.uint8), flags)
        if fmt == "TIFF":
            orientation = 1
    if image is None or image.size == 0:
        raise DecodeError(f"cannot decode this {fmt}: broken or truncated")
    return shrink(upright(to_bgr8(image), orientation), max_pixels)


def _gif(payload: bytes) -> np.ndarray:
    """The first frame, through Pillow: OpenCV's wheels have no GIF reader."""
    from PIL import Image

    with Image.open(io.BytesIO(payload)) as im:
        im.seek(0)
        rgba = np.asarray(im.convert("RGBA"))
    return cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA)


def to_bgr8(image: np.ndarray) -> np.ndarray:
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise DecodeError(f"unsupported sample type {image.dtype}")
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    channels = image.shape[2]
    if channels == 1:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if channels == 2:  # grey + alpha
        image = cv2.cvtColor(image[:, :, 0], cv2.COLOR_GRAY2BGR), image[:, :, 1]
        return _over_white(*image)
    if channels == 4:
        return _over_white(image[:, :, :3], image[:, :, 3])
    return image


def _over_white(bgr: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """A transparent background becomes white, as a browser would show it on a white page."""
    a = alpha.astype(np.uint16)[:, :, None]
    return ((bgr.astype(np.uint16) * a + 255 * (255 - a) + 127) // 255).astype(np.uint8)


def upright(image: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (2..8: the mirrorings and quarter turns of the stored picture)."""
    if orientation == 2:
        return cv2.flip(image, 1)
    if orientation == 3:
        return cv2.rotate(image, cv2.ROTATE_180)
    if orientation == 4:
        return cv2.flip(image, 0)
    if orientation == 5:
        return cv2.transpose(image)
    if orientation == 6:
        return cv2.rotate(image, cv2.ROTATE_90_CLOCKWISE)
    if orientation == 7:
        return cv2.flip(cv2.transpose(image), -1)
    if orientation == 8:
        return cv2.rotate(image, cv2.ROTATE_90_COUNTERCLOCKWISE)
    return image


def shrink(image: np.ndarray, max_pixels: int) -> tuple[np.ndarray, float]:
    h, w = image.shape[:2]
    if h * w <= max_pixels:
        return np.ascontiguousarray(image), 1.0
    k = (max_pixels / (h * w)) ** 0.5
    small = cv2.resize(image, (max(1, int(w * k)), max(1, int(h * k))), interpolation=cv2.INTER_AREA)
    return small, w / small.shape[1]


def _address_space() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def serve(conn: Connection) -> None:
    """Answer requests until the caller closes the socket: ("ok", (shape, shrunk by)) + pixels, or
    ("error", reason)."""
    conn.send("ready")
    while True:
        try:
            fmt, reduce, orientation, max_pixels, memory_bytes = conn.recv()
            payload = conn.recv_bytes()
        except (EOFError, OSError):
            return
        # A soft limit over what this process holds now, lifted again after this photo: only the
        # decode is capped.
        resource.setrlimit(resource.RLIMIT_AS, (_address_space() + memory_bytes, resource.RLIM_INFINITY))
        try:
            (image, shrunk), error = decode(fmt, payload, reduce, orientation, max_pixels), None
        except Exception as exc:  # any failure, whatever library raised it, is one line for the caller
            image, error = None, _reason(fmt, exc)
        finally:
            del payload
            resource.setrlimit(resource.RLIMIT_AS, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        if image is None:
            conn.send(("error", error))
        else:
            conn.send(("ok", (image.shape, shrunk)))
            conn.send_bytes(memoryview(image).cast("B"))


def _reason(fmt: str, exc: Exception) -> str:
    text = one_line(exc)
    if isinstance(exc, MemoryError) or "Insufficient memory" in text or "Failed to allocate" in text:
        return f"cannot decode this {fmt} within the memory budget"
    if isinstance(exc, DecodeError):
        return text
    return f"cannot decode this {fmt}: broken or truncated"


def main() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)  # native decoders write warnings straight to fd 2
    cv2.setNumThreads(1)  # no worker threads: their stacks would count against the address-space cap
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = None  # formats.parse and the memory budget bound the size; this process only
    serve(Connection(int(sys.argv[1])))


if __name__ == "__main__":
    main()
