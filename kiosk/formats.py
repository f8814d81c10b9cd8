"""What a photo file says about itself, read from its bytes before any pixel is decoded.

Image decoders trust the sizes written inside a file (docs/platform.md): OpenCV's PNG reader
allocates whatever a chunk length claims, its JPEG 2000 reader crashes on a header that disagrees
with its codestream. So every file is identified by its signature, only formats on an allow-list go
on, and their structure is walked here, in plain Python, refusing anything that claims more than the
file holds. What comes out is a `Header`: the format, the declared pixel size and what decoding
will cost, so `photo.py` can refuse or reduce a photo before a decoder sees it.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

ALLOWED = "JPEG, PNG, WebP, BMP, GIF or TIFF"

# Formats people do hand us but that we refuse: their decoders trust declared sizes in ways we
# cannot check cheaply (JPEG 2000 segfaults OpenCV, HDR/PFM/EXR decode to floats of unknown range).
_REFUSED = [
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", "JPEG 2000"), (b"\xff\x4f\xff\x51", "JPEG 2000"),
    (b"#?RADIANCE", "Radiance HDR"), (b"#?RGBE", "Radiance HDR"), (b"v/1\x01", "OpenEXR"),
    (b"PF\n", "PFM"), (b"Pf\n", "PFM"), (b"PF\r", "PFM"), (b"Pf\r", "PFM"), (b"P7", "PAM"),
    (b"\x59\xa6\x6a\x95", "Sun raster"), (b"8BPS", "Photoshop"), (b"II+\x00", "BigTIFF"),
    (b"MM\x00+", "BigTIFF"), (b"\x00\x00\x01\x00", "Windows icon"), (b"%PDF", "PDF"),
]
_PNM = {b"P1", b"P2", b"P3", b"P4", b"P5", b"P6"}
_ISO_BRANDS = {b"heic": "HEIC", b"heix": "HEIC", b"mif1": "HEIF", b"avif": "AVIF", b"avis": "AVIF"}


# More chunks, segments or blocks than any real photo has: walking them would take seconds in Python.
MAX_PARTS = 200_000


class FormatError(ValueError):
    """The file is not a photo we accept, or its structure is broken; one line for the operator."""


@dataclass(frozen=True)
class Header:
    format: str  # "JPEG" | "PNG" | "WEBP" | "BMP" | "GIF" | "TIFF"
    width: int
    height: int
    channels: int = 3  # samples per pixel the decoder hands back before our conversion (alpha included)
    sample_bytes: int = 1
    orientation: int = 1  # EXIF orientation, 1 = upright .. 8
    extra_bytes: int = 0  # decoder memory beyond the output image (progressive JPEG coefficients)
    payload: bytes | None = None  # the bytes to decode, when they differ from the file (a cleaned PNG)


def parse(data: bytes) -> Header:
    """Identify `data` by its signature and check its structure; raise FormatError otherwise."""
    if data[:3] == b"\xff\xd8\xff":
        return _jpeg(data)
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return _png(data)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _webp(data)
    if data[:2] == b"BM":
        return _bmp(data)
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return _gif(data)
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return _tiff(data)
    for signature, name in _REFUSED:
        if data.startswith(signature):
            raise FormatError(f"unsupported format: {name} (use {ALLOWED})")
    if data[:2] in _PNM:
        raise FormatError(f"unsupported format: PNM/PPM (use {ALLOWED})")
    if data[4:8] == b"ftyp" and data[8:12] in _ISO_BRANDS:
        raise FormatError(f"unsupported format: {_ISO_BRANDS[data[8:12]]} (use {ALLOWED})")
    raise FormatError(f"not an image in a supported format (use {ALLOWED})")


def _need(ok: bool, message: str) -> None:
    if not ok:
        raise FormatError(message)


def _size_ok(fmt: str, width: int, height: int) -> None:
    _need(width > 0 and height > 0, f"broken {fmt}: the image is {width}x{height} pixels")


# --- JPEG -------------------------------------------------------------------------------------------

_SOF_PROGRESSIVE = {0xC2, 0xCA}
_SOF_UNSUPPORTED = {0xC3: "lossless", 0xC5: "hierarchical", 0xC6: "hierarchical", 0xC7: "hierarchical",
                    0xCB: "lossless", 0xCD: "hierarchical", 0xCE: "hierarchical", 0xCF: "hierarchical"}


def _jpeg(data: bytes) -> Header:
    pos, n = 2, len(data)
    frame = None
    orientation = 1
    for _ in range(MAX_PARTS):
        while pos < n and data[pos] == 0xFF and pos + 1 < n and data[pos + 1] == 0xFF:
            pos += 1  # fill bytes
        _need(pos + 4 <= n, "truncated JPEG: it ends before the image data")
        _need(data[pos] == 0xFF, "broken JPEG: a segment does not start with a marker")
        marker = data[pos + 1]
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        _need(marker != 0xD9, "broken JPEG: it ends before the image data")
        length = struct.unpack_from(">H", data, pos + 2)[0]
        _need(length >= 2 and pos + 2 + length <= n,
              f"broken JPEG: a segment claims {length} bytes but {n - pos - 2} are left")
        body = data[pos + 4:pos + 2 + length]
        if marker == 0xE1 and body[:6] == b"Exif\x00\x00" and orientation == 1:
            orientation = exif_orientation(body[6:])
        elif marker in _SOF_UNSUPPORTED:
            raise FormatError(f"unsupported format: {_SOF_UNSUPPORTED[marker]} JPEG (use an ordinary JPEG)")
        elif 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            _need(frame is None, "broken JPEG: two frame headers")
            frame = _jpeg_frame(marker, body)
        elif marker == 0xDA:
            _need(frame is not None, "broken JPEG: image data before the frame header")
            _need(len(body) >= 1, "broken JPEG: empty scan header")
            width, height, components, progressive = frame
            # Progressive and multi-scan JPEGs keep every DCT coefficient (2 bytes per sample) in
            # memory at full size, even when decoded reduced (docs/platform.md).
            buffered = progressive or body[0] < len(components)
            extra = sum(2 * _ceil8(-(-width * h // hmax)) * _ceil8(-(-height * v // vmax))
                        for h, v, hmax, vmax in components) if buffered else 0
            return Header("JPEG", width, height, 3, 1, orientation, extra)
        pos += 2 + length
    raise FormatError("broken JPEG: too many segments")


def _ceil8(x: int) -> int:
    return -(-x // 8) * 8


def _jpeg_frame(marker: int, body: bytes):
    _need(len(body) >= 6, "broken JPEG: short frame header")
    precision, height, width, count = struct.unpack_from(">BHHB", body)
    _need(precision == 8, f"unsupported format: {precision}-bit JPEG (use an ordinary 8-bit JPEG)")
    _need(height > 0, "unsupported JPEG: height defined after the image data (DNL)")
    _size_ok("JPEG", width, height)
    _need(count in (1, 3, 4) and len(body) >= 6 + 3 * count, f"broken JPEG: {count} colour components")
    factors = [(body[7 + 3 * i] >> 4, body[7 + 3 * i] & 15) for i in range(count)]
    _need(all(1 <= h <= 4 and 1 <= v <= 4 for h, v in factors), "broken JPEG: bad sampling factors")
    hmax, vmax = max(h for h, _ in factors), max(v for _, v in factors)
    components = [(h, v, hmax, vmax) for h, v in factors]
    return width, height, components, marker in _SOF_PROGRESSIVE


# --- PNG --------------------------------------------------------------------------------------------

_PNG_KEEP = {b"IHDR", b"PLTE", b"tRNS", b"IDAT"}
_PNG_DEPTHS = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}


def _png(data: bytes) -> Header:
    """Walk every chunk, then hand the decoder a PNG rebuilt from the chunks it needs only: a
    chunk length beyond the file, a bad checksum in an image chunk, an APNG frame or a compressed
    text bomb never reach it."""
    pos, n = 8, len(data)
    view = memoryview(data)  # slices of it are not copies: a PNG is copied once, when joined
    kept = [view[:8]]
    ihdr = None
    orientation = 1
    seen_idat = has_plte = False
    for _ in range(MAX_PARTS):
        _need(pos + 8 <= n, "truncated PNG: it ends before its last chunk")
        length, ctype = struct.unpack_from(">I4s", data, pos)
        _need(length <= n - pos - 12,
              f"broken PNG: a chunk claims {length} bytes but {max(n - pos - 12, 0)} are left")
        end = pos + 12 + length
        body = data[pos + 8:pos + 8 + length]
        crc_ok = zlib.crc32(data[pos + 4:pos + 8 + length]) == struct.unpack_from(">I", data, end - 4)[0]
        if ihdr is None:
            _need(ctype == b"IHDR" and length == 13, "broken PNG: it does not start with a header chunk")
        if ctype == b"IEND":
            break
        if ctype in _PNG_KEEP:
            _need(crc_ok, f"broken PNG: checksum error in its {ctype.decode()} chunk")
            if ctype == b"IHDR":
                _need(ihdr is None, "broken PNG: two header chunks")
                ihdr = struct.unpack(">IIBBBBB", body)
            _need(ctype != b"IDAT" or not seen_idat or kept[-1][4:8] == b"IDAT",
                  "broken PNG: its image data is split by other chunks")
            seen_idat |= ctype == b"IDAT"
            has_plte |= ctype == b"PLTE"
            kept.append(view[pos:end])
        elif ctype == b"eXIf" and crc_ok:
            orientation = exif_orientation(body)
        elif ctype[0] & 0x20 == 0:  # an unknown critical chunk: a decoder must not guess
            raise FormatError(f"unsupported PNG: unknown critical chunk {ctype!r}")
        pos = end
    else:
        raise FormatError("broken PNG: too many chunks")
    width, height, depth, colour, compression, filter_method, interlace = ihdr
    _size_ok("PNG", width, height)
    _need(colour in _PNG_DEPTHS and depth in _PNG_DEPTHS[colour], f"broken PNG: colour type {colour}, depth {depth}")
    _need(compression == 0 and filter_method == 0 and interlace in (0, 1), "broken PNG: unknown compression")
    _need(width < 2**31 and height < 2**31, "broken PNG: size out of range")
    _need(seen_idat, "broken PNG: no image data")
    _need(colour != 3 or has_plte, "broken PNG: a palette image without a palette")
    kept.append(b"\x00\x00\x00\x00IEND\xaeB`\x82")
    alpha = colour in (4, 6) or any(chunk[4:8] == b"tRNS" for chunk in kept[1:])
    return Header("PNG", width, height, 4 if alpha else 3, 2 if depth == 16 else 1, orientation,
                  payload=b"".join(kept))


# --- WebP -------------------------------------------------------------------------------------------

def _webp(data: bytes) -> Header:
    riff_size = struct.unpack_from("<I", data, 4)[0]
    _need(len(data) >= 20 and riff_size + 8 <= len(data) and riff_size >= 12,
          f"broken WebP: it claims {riff_size + 8} bytes but the file has {len(data)}")
    if riff_size + 8 < len(data):
        data = data[:riff_size + 8]  # bytes after the RIFF container are not the decoder's business
    pos, n = 12, len(data)
    canvas = image = None
    alpha = animated = False
    frames = []
    orientation = 1
    for _ in range(MAX_PARTS):
        if pos + 8 > n:
            break
        fourcc, size = struct.unpack_from("<4sI", data, pos)
        _need(size <= n - pos - 8, f"broken WebP: a chunk claims {size} bytes but {n - pos - 8} are left")
        body = data[pos + 8:pos + 8 + size]
        if fourcc == b"VP8X":
            _need(pos == 12 and size >= 10, "broken WebP: misplaced extended header")
            alpha, animated = bool(body[0] & 0x10), bool(body[0] & 0x02)
            canvas = (1 + int.from_bytes(body[4:7], "little"), 1 + int.from_bytes(body[7:10], "little"))
        elif fourcc == b"VP8 " and image is None:
            _need(size >= 10 and body[3:6] == b"\x9d\x01\x2a", "broken WebP: bad lossy image header")
            w, h = struct.unpack_from("<HH", body, 6)
            image = (w & 0x3FFF, h & 0x3FFF)
        elif fourcc == b"VP8L" and image is None:
            _need(size >= 5 and body[0] == 0x2F, "broken WebP: bad lossless image header")
            bits = int.from_bytes(body[1:5], "little")
            image = (1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF))
            alpha |= bool(bits >> 28 & 1)
        elif fourcc == b"EXIF":
            orientation = exif_orientation(body[6:] if body[:6] == b"Exif\x00\x00" else body)
        elif fourcc == b"ANMF":
            _need(size >= 16, "broken WebP: short animation frame")
            x, y, w, h = (int.from_bytes(body[i:i + 3], "little") for i in (0, 3, 6, 9))
            frames.append((2 * x + w + 1, 2 * y + h + 1))  # its right and bottom edges
        pos += 8 + size + (size & 1)
    else:
        raise FormatError("broken WebP: too many chunks")
    _need(canvas is not None or image is not None, "broken WebP: no image in it")
    if animated:  # OpenCV shows the first frame; libwebp keeps the canvas and the previous frame
        _need(canvas is not None and frames, "broken WebP: an animation without frames")
        _need(all(r <= canvas[0] and b <= canvas[1] for r, b in frames),
              "broken WebP: an animation frame sticks out of the canvas")
        width, height = canvas
        extra = 2 * width * height * 4
    else:
        if canvas is not None:
            _need(image is not None, "broken WebP: no image in it")
            _need(image == canvas, f"broken WebP: canvas {canvas[0]}x{canvas[1]} but image {image[0]}x{image[1]}")
        width, height = image
        extra = width * height * 4  # libwebp decodes into its own buffer as well as OpenCV's
    _size_ok("WebP", width, height)
    return Header("WEBP", width, height, 4 if alpha or animated else 3, 1, orientation, extra_bytes=extra,
                  payload=data)


# --- BMP --------------------------------------------------------------------------------------------

def _bmp(data: bytes) -> Header:
    n = len(data)
    _need(n >= 26, "truncated BMP: no header")
    offset, dib = struct.unpack_from("<II", data, 10)
    if dib == 12:
        width, height, planes, bpp = struct.unpack_from("<HHHH", data, 18)
        compression = 0
    else:
        _need(dib in (40, 52, 56, 108, 124) and n >= 14 + dib, f"unsupported BMP: header of {dib} bytes")
        width, height, planes, bpp, compression = struct.unpack_from("<iiHHI", data, 18)
    height = abs(height)  # negative: stored top-down
    _size_ok("BMP", width, height)
    _need(planes == 1 and bpp in (1, 4, 8, 16, 24, 32), f"unsupported BMP: {bpp} bits per pixel")
    _need(compression in (0, 3) or (compression, bpp) in ((1, 8), (2, 4)),
          f"unsupported BMP: compression {compression}")
    _need(14 + dib <= offset < n, "broken BMP: pixel data outside the file")
    if compression in (0, 3):
        row = (width * bpp + 31) // 32 * 4
        _need(offset + row * height <= n, f"truncated BMP: {width}x{height} needs {row * height} bytes of pixels")
    return Header("BMP", width, height)


# --- GIF --------------------------------------------------------------------------------------------

def _gif(data: bytes) -> Header:
    """The logical screen and the first frame (the one shown), which may stick out of the screen."""
    n = len(data)
    _need(n >= 13, "truncated GIF: no header")
    width, height, flags = struct.unpack_from("<HHB", data, 6)
    _size_ok("GIF", width, height)
    pos = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
    in_extension = False
    for _ in range(MAX_PARTS):
        _need(pos < n, "truncated GIF: it ends before the first frame")
        if in_extension:  # sub-blocks, each a size byte and its data, up to an empty one
            size = data[pos]
            pos += 1 + size
            in_extension = size != 0
        elif data[pos] == 0x2C:  # the first frame's descriptor
            _need(pos + 10 <= n, "truncated GIF: short frame header")
            left, top, w, h = struct.unpack_from("<HHHH", data, pos + 1)
            _need(w > 0 and h > 0, "broken GIF: empty first frame")
            # Pillow grows the canvas to fit a frame that sticks out; count that size.
            return Header("GIF", max(width, left + w), max(height, top + h), 4)
        else:
            _need(data[pos] == 0x21, "broken GIF: unknown block before the first frame")
            pos += 2
            in_extension = True
    raise FormatError("broken GIF: too many blocks before the first frame")


# --- TIFF -------------------------------------------------------------------------------------------

_TIFF_TYPES = {1: ("B", 1), 3: ("H", 2), 4: ("I", 4), 16: ("Q", 8)}
_TIFF_COMPRESSION = {1, 5, 7, 8, 32773, 32946}  # none, LZW, JPEG, Deflate, PackBits, old Deflate
_TIFF_PHOTOMETRIC = {0, 1, 2, 3, 5, 6}  # grey (both ways), RGB, palette, CMYK, YCbCr


def _tiff(data: bytes) -> Header:
    """The first page's tags; every strip or tile it points at must lie inside the file."""
    n = len(data)
    order = "<" if data[:2] == b"II" else ">"
    _need(n >= 8, "truncated TIFF: no header")
    ifd = struct.unpack_from(order + "I", data, 4)[0]
    _need(8 <= ifd and ifd + 2 <= n, "broken TIFF: its first page lies outside the file")
    count = struct.unpack_from(order + "H", data, ifd)[0]
    _need(ifd + 2 + 12 * count <= n, "truncated TIFF: page header beyond the end of the file")
    tags: dict[int, tuple[int, ...]] = {}
    for i in range(count):
        tag, kind, number, value = struct.unpack_from(order + "HHI4s", data, ifd + 2 + 12 * i)
        if kind not in _TIFF_TYPES or number == 0:
            continue  # tags we do not read (rationals, strings, ...)
        code, size = _TIFF_TYPES[kind]
        if size * number <= 4:
            raw = value[:size * number]
        else:
            start = struct.unpack(order + "I", value)[0]
            _need(start + size * number <= n, f"broken TIFF: tag {tag} points beyond the end of the file")
            raw = data[start:start + size * number]
        tags[tag] = struct.unpack(f"{order}{number}{code}", raw)
    first = lambda tag, default=None: tags.get(tag, (default,))[0]  # noqa: E731 - a one-line lookup
    width, height = first(256, 0), first(257, 0)
    _size_ok("TIFF", width, height)
    samples = first(277, 1)
    depth = set(tags.get(258, (1,)))
    _need(1 <= samples <= 5 and len(depth) == 1 and depth <= {1, 8, 16}, "unsupported TIFF: sample layout")
    _need(first(339, 1) == 1, "unsupported TIFF: floating-point or signed samples (use an 8- or 16-bit photo)")
    _need(first(259, 1) in _TIFF_COMPRESSION, f"unsupported TIFF: compression {first(259, 1)}")
    _need(first(262, 2) in _TIFF_PHOTOMETRIC, f"unsupported TIFF: colour model {first(262, 2)}")
    offsets = tags.get(273) or tags.get(324)
    counts = tags.get(279) or tags.get(325)
    _need(offsets is not None and counts is not None and len(offsets) == len(counts),
          "broken TIFF: no image data in its first page")
    _need(all(o + c <= n for o, c in zip(offsets, counts)), "truncated TIFF: image data beyond the end of the file")
    orientation = first(274, 1)
    # OpenCV's TIFF reader holds the raw page (extra) beside its 8-bit BGR output.
    return Header("TIFF", width, height, 3, 1, orientation if 1 <= orientation <= 8 else 1,
                  extra_bytes=width * height * samples * (2 if depth == {16} else 1))


# --- EXIF -------------------------------------------------------------------------------------------

def exif_orientation(tiff: bytes) -> int:
    """The orientation tag (0x0112) of an EXIF block's first directory; 1 when absent or broken."""
    if tiff[:4] not in (b"II*\x00", b"MM\x00*") or len(tiff) < 8:
        return 1
    order = "<" if tiff[:2] == b"II" else ">"
    ifd = struct.unpack_from(order + "I", tiff, 4)[0]
    if ifd + 2 > len(tiff):
        return 1
    count = struct.unpack_from(order + "H", tiff, ifd)[0]
    for i in range(count):
        at = ifd + 2 + 12 * i
        if at + 12 > len(tiff):
            break
        tag, kind, number, value = struct.unpack_from(order + "HHIH", tiff, at)
        if tag == 0x0112 and kind == 3 and number == 1:
            return value if 1 <= value <= 8 else 1
    return 1
