"""Photo intake: any path or bytes in, an upright 8-bit BGR image of bounded size out, or one clear line.

Every caller that reads a photo someone hands us (`kiosk score`, photo replay, training, an upload)
comes through `read_photo`. In this process a file is only read and its structure checked
(`formats.parse`: an allow-list of formats, sizes that fit the file); the memory its decoding will
take is estimated from the header and refused above `[photos] memory_mb`. Only then do the bytes go
to the decoder process (`decoder.py`), which alone runs OpenCV's and Pillow's decoders: a crash, a
hang or a memory blow-up there costs one error line and a restart, never this process.
"""

from __future__ import annotations

import atexit
import os
import socket
import stat
import subprocess
import sys
import threading
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

import numpy as np

from .config import PhotosConfig
from .formats import FormatError, Header, parse

# Suffixes looked at inside folders. The refused formats are listed too, so that such a file is
# reported as unsupported instead of silently skipped.
PHOTO_SUFFIXES = {".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".apng", ".webp", ".bmp", ".dib", ".gif", ".tif",
                  ".tiff", ".jp2", ".j2k", ".pgm", ".ppm", ".pbm", ".pnm", ".pam", ".pfm", ".hdr", ".pic",
                  ".exr", ".sr", ".ras", ".heic", ".heif", ".avif"}

_SLACK_BYTES = 64 * 2**20  # the decoder libraries' own buffers, on top of the estimate
_START_TIMEOUT_S = 60  # importing OpenCV on a busy Pi 4 from a slow SD card


class PhotoError(ValueError):
    """A photo that cannot be used, worded as one line for the operator."""


@dataclass(frozen=True)
class Photo:
    image: np.ndarray  # upright 8-bit BGR
    scale: float = 1.0  # original pixels per decoded pixel (large photos are decoded reduced)


def read_photo(source: str | os.PathLike | bytes, limits: PhotosConfig) -> Photo:
    """Read a photo file (or its bytes), check it, and decode it in the decoder process."""
    data = source if isinstance(source, bytes) else read_file(source, limits.max_file_mb * 2**20)
    if not data:
        raise PhotoError("empty file")
    try:
        header = parse(data)
    except FormatError as exc:
        raise PhotoError(str(exc)) from None
    reduce = reduction(header, limits)
    need = memory_needed(header, reduce)
    if need > limits.memory_mb * 2**20:
        raise PhotoError(f"too large to decode safely: {header.width}x{header.height} px needs about "
                         f"{need / 2**20:.0f} MB, over [photos] memory_mb = {limits.memory_mb}; shrink it first")
    payload = header.payload if header.payload is not None else data
    del data
    image, shrunk = _DECODER.decode(header, payload, reduce, limits)
    return Photo(image, reduce * shrunk)


def reduction(header: Header, limits: PhotosConfig) -> int:
    """libjpeg decodes straight to 1/2, 1/4 or 1/8 size: the smallest step under the pixel cap."""
    if header.format != "JPEG":
        return 1
    cap = limits.max_megapixels * 1e6
    return next((f for f in (1, 2, 4) if header.width * header.height / f**2 <= cap), 8)


def memory_needed(header: Header, reduce: int) -> int:
    """Peak bytes of decoding: the decoder's output, its own buffers, and our 8-bit, upright copies."""
    pixels = -(-header.width // reduce) * -(-header.height // reduce)
    decoded = pixels * header.channels * header.sample_bytes
    converted = pixels * 3 * (4 if header.channels == 4 else 2)  # alpha is laid over white in 16 bits
    return decoded + header.extra_bytes + converted


def read_file(path: str | os.PathLike, max_bytes: int) -> bytes:
    """The whole file, refusing folders, FIFOs and devices before opening them (a FIFO would block)."""
    try:
        info = os.stat(path)  # ValueError: a NUL in the name
    except (OSError, ValueError) as exc:
        raise PhotoError(f"cannot read file: {getattr(exc, 'strerror', None) or exc}") from None
    if stat.S_ISDIR(info.st_mode):
        raise PhotoError("is a folder, not a photo")
    if not stat.S_ISREG(info.st_mode):
        raise PhotoError(f"not a regular file ({_file_kind(info.st_mode)}); give a photo file")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as exc:
        raise PhotoError(f"cannot read file: {exc.strerror or exc}") from None
    with open(fd, "rb") as file:
        opened = os.fstat(fd)
        if not stat.S_ISREG(opened.st_mode):  # swapped for something else since the check
            raise PhotoError("not a regular file; give a photo file")
        if opened.st_size > max_bytes:
            raise PhotoError(f"file too large ({opened.st_size / 2**20:.0f} MiB); photos up to {max_bytes // 2**20} MiB "
                             "([photos] max_file_mb)")
        try:
            data = file.read(max_bytes + 1)
        except OSError as exc:
            raise PhotoError(f"cannot read file: {exc.strerror or exc}") from None
    if len(data) > max_bytes:
        raise PhotoError(f"file too large; photos up to {max_bytes // 2**20} MiB ([photos] max_file_mb)")
    return data


def _file_kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a plain file"


class Decoder:
    """The decoder child process, started on first use and again after it dies; one photo at a time."""

    def __init__(self):
        self._lock = threading.Lock()
        self._conn: Connection | None = None
        self._process: subprocess.Popen | None = None
        self._pid = 0  # the process that started the child: a forked copy of us must start its own

    def decode(self, header: Header, payload: bytes, reduce: int, limits: PhotosConfig) -> tuple[np.ndarray, float]:
        """The decoded image and how many times the decoder shrank it to the pixel cap."""
        request = (header.format, reduce, header.orientation, int(limits.max_megapixels * 1e6),
                   limits.memory_mb * 2**20 + _SLACK_BYTES)
        with self._lock:
            conn = self._connection()
            try:
                conn.send(request)
                conn.send_bytes(payload)
                if not conn.poll(limits.timeout_s):
                    self._stop()
                    raise PhotoError(f"decoding took over {limits.timeout_s:g} s ([photos] timeout_s); "
                                     "the file is broken or far too complex")
                answer, detail = conn.recv()
                if answer == "error":
                    raise PhotoError(detail)
                shape, shrunk = detail
                image = np.empty(shape, np.uint8)
                conn.recv_bytes_into(memoryview(image).cast("B"))
                return image, shrunk
            except (EOFError, OSError):
                self._stop()
                raise PhotoError(f"the {header.format} decoder crashed on this file; it is broken or hostile") from None

    def _connection(self) -> Connection:
        if self._conn is not None and self._pid == os.getpid() and self._process.poll() is None:
            return self._conn
        if self._pid == os.getpid():
            self._stop()
        ours, theirs = socket.socketpair()
        env = dict(os.environ, OPENCV_LOG_LEVEL="SILENT", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
        # Started from the folder holding this copy of `kiosk`, so `-m` imports this very copy.
        self._process = subprocess.Popen([sys.executable, "-m", "kiosk.decoder", str(theirs.fileno())],
                                         pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                                         cwd=Path(__file__).resolve().parent.parent)
        theirs.close()
        self._conn = Connection(ours.detach())
        self._pid = os.getpid()
        try:
            ready = self._conn.poll(_START_TIMEOUT_S) and self._conn.recv() == "ready"
        except (EOFError, OSError):
            ready = False
        if not ready:
            self._stop()
            raise PhotoError("the photo decoder process (python -m kiosk.decoder) did not start; "
                             "check the installation with `kiosk check`")
        return self._conn

    def _stop(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None

    def close(self) -> None:
        with self._lock:
            if self._pid == os.getpid():
                self._stop()


_DECODER = Decoder()
atexit.register(_DECODER.close)


def find_photos(paths: list[str]) -> list[tuple[str, str | None]]:
    """Each photo to score as (path, None), or (path, problem) for a path that yields none.

    Files are kept as given, whatever their name, so a broken or misnamed file is reported rather
    than skipped. Folders are searched with their sub-folders, in sorted order (like `find | sort`),
    for files with a photo suffix; a folder without any is reported as such."""
    found: list[tuple[str, str | None]] = []
    for given in paths:
        if not os.path.isdir(given):
            found.append((given, None))
            continue
        unreadable: list[OSError] = []
        inside = photos_in(given, unreadable.append)
        found.extend((path, None) for path in inside)
        found.extend((exc.filename, f"cannot open folder: {exc.strerror}") for exc in unreadable)
        if not inside and not unreadable:
            found.append((given, f"no photos found in {printable(given)}"))
    return found


def photos_in(folder: str, onerror=None) -> list[str]:
    """Photo files under `folder`, sub-folders included, sorted by path."""
    photos = []
    for root, _, files in os.walk(folder, onerror=onerror):
        photos.extend(os.path.join(root, f) for f in files if Path(f).suffix.lower() in PHOTO_SUFFIXES)
    return sorted(photos)


def printable(path: str | os.PathLike) -> str:
    """A file name safe to print on one line whatever its bytes: undecodable bytes as \\xNN, control
    characters escaped."""
    text = os.fsencode(path).decode("utf-8", "backslashreplace")
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)
