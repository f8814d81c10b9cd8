"""A hostile photo corpus, generated on demand: what a careless or malicious user could hand `kiosk score`.

Each file comes with what `kiosk score` must say of it: "ok" (a valid photo of a face, which must
still score as a woman, as the portrait is of one), "error" (refused or undecodable, one line) or
"not_ok" (random damage: an error or no face, never a score). Used by tests/test_intake.py; to look
at it by hand: `python -m tests.hostile OUT_DIR` then `kiosk score --json OUT_DIR`.
"""

from __future__ import annotations

import io
import struct
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

ORIENTATIONS = range(1, 9)


def stored_for(upright: np.ndarray, orientation: int) -> np.ndarray:
    """The pixels a camera stores so that applying EXIF `orientation` shows `upright` (numpy's own
    flips and turns, independent of the code under test)."""
    return np.ascontiguousarray({
        1: lambda a: a, 2: np.fliplr, 3: lambda a: np.rot90(a, 2), 4: np.flipud,
        5: lambda a: a.swapaxes(0, 1), 6: lambda a: np.rot90(a, 1),
        7: lambda a: np.rot90(a.swapaxes(0, 1), 2), 8: lambda a: np.rot90(a, -1),
    }[orientation](upright))


def exif_bytes(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif.tobytes()


def encode(bgr: np.ndarray, fmt: str, orientation: int | None = None, **options) -> bytes:
    """Encode with Pillow (it writes EXIF for JPEG, PNG, WebP and TIFF)."""
    im = Image.fromarray(np.ascontiguousarray(bgr[:, :, ::-1]) if bgr.ndim == 3 else bgr)
    out = io.BytesIO()
    if orientation is not None:
        if fmt == "TIFF":
            options["tiffinfo"] = {274: orientation}
        else:
            options["exif"] = exif_bytes(orientation)
    im.save(out, fmt, **options)
    return out.getvalue()


def png_chunk(kind: bytes, body: bytes, crc: int | None = None) -> bytes:
    crc = zlib.crc32(kind + body) if crc is None else crc
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)


def png_parts(data: bytes) -> list[bytes]:
    """A PNG file split into its chunks (signature first)."""
    parts, pos = [data[:8]], 8
    while pos < len(data):
        length = struct.unpack_from(">I", data, pos)[0]
        parts.append(data[pos:pos + 12 + length])
        pos += 12 + length
    return parts


def set_jpeg_size(data: bytes, width: int, height: int, precision: int | None = None,
                  marker: int | None = None) -> bytes:
    """The same JPEG with its frame header saying another size (or precision, or process)."""
    b = bytearray(data)
    at = next(i for i in range(2, len(b) - 1) if b[i] == 0xFF and b[i + 1] in (0xC0, 0xC1, 0xC2))
    struct.pack_into(">HH", b, at + 5, height, width)
    if precision is not None:
        b[at + 4] = precision
    if marker is not None:
        b[at + 1] = marker
    return bytes(b)


def build(folder: Path, face: np.ndarray) -> dict[str, str]:
    """Write the corpus into `folder`; return {file name: expected outcome}: "ok" (scored, and the
    portrait's gender, woman), "grey" (scored exactly as valid-grey.png: the same grey pixels however
    stored; whether the models call the greyscale portrait a woman is theirs to measure, not the
    decoder's), "scored" (any verdict: lossy greyscale), "error", "not_ok"."""
    folder.mkdir(parents=True, exist_ok=True)
    expected: dict[str, str] = {}

    def put(name: str, data: bytes, outcome: str) -> None:
        (folder / name).write_bytes(data)
        expected[name] = outcome

    rng = np.random.default_rng(0)
    portrait = np.ascontiguousarray(face[32:480, 64:448])  # 384x448, not square: a wrong turn shows
    jpg = cv2.imencode(".jpg", portrait)[1].tobytes()
    png = cv2.imencode(".png", portrait)[1].tobytes()
    webp = cv2.imencode(".webp", portrait, [cv2.IMWRITE_WEBP_QUALITY, 90])[1].tobytes()
    bmp = cv2.imencode(".bmp", portrait)[1].tobytes()
    gif = encode(portrait, "GIF")
    tif = encode(portrait, "TIFF", compression="tiff_lzw")
    valid = {"jpg": jpg, "png": png, "webp": webp, "bmp": bmp, "gif": gif, "tif": tif}

    # Valid photos, usual and unusual: each must still score.
    for ext, data in valid.items():
        put(f"valid.{ext}", data, "ok")
    grey = cv2.cvtColor(portrait, cv2.COLOR_BGR2GRAY)
    put("valid-progressive.jpg", cv2.imencode(".jpg", portrait, [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])[1].tobytes(), "ok")
    put("valid-grey.jpg", cv2.imencode(".jpg", grey)[1].tobytes(), "scored")
    put("valid-cmyk.jpg", _pil(Image.fromarray(portrait[:, :, ::-1]).convert("CMYK"), "JPEG"), "ok")
    put("valid-16bit.png", cv2.imencode(".png", portrait.astype(np.uint16) * 257)[1].tobytes(), "ok")
    put("valid-grey16.png", cv2.imencode(".png", grey.astype(np.uint16) * 257)[1].tobytes(), "grey")
    put("valid-grey.png", cv2.imencode(".png", grey)[1].tobytes(), "grey")
    put("valid-rgba.png", cv2.imencode(".png", cv2.cvtColor(portrait, cv2.COLOR_BGR2BGRA))[1].tobytes(), "ok")
    put("valid-grey-alpha.png", _pil(Image.fromarray(grey).convert("LA"), "PNG"), "grey")
    palette = Image.fromarray(portrait[:, :, ::-1]).quantize(256)
    put("valid-palette.png", _pil(palette, "PNG"), "ok")
    put("valid-palette-trns.png", _pil(palette, "PNG", transparency=0), "ok")
    put("valid-interlaced.png", _interlaced_png(portrait), "ok")
    put("valid-lossless.webp", cv2.imencode(".webp", portrait, [cv2.IMWRITE_WEBP_QUALITY, 101])[1].tobytes(), "ok")
    put("valid-alpha.webp", _pil(Image.fromarray(portrait[:, :, ::-1]).convert("RGBA"), "WEBP"), "ok")
    put("valid-8bit.bmp", _pil(palette.convert("P"), "BMP"), "ok")
    put("valid-32bit.bmp", cv2.imencode(".bmp", cv2.cvtColor(portrait, cv2.COLOR_BGR2BGRA))[1].tobytes(), "ok")
    put("valid-topdown.bmp", _top_down_bmp(portrait), "ok")
    put("valid-transparent.gif", _pil(palette, "GIF", transparency=0), "ok")
    put("valid-animated.gif", _animated_gif(portrait), "ok")
    put("valid-16bit-grey.tif", encode(grey.astype(np.uint16) * 257, "TIFF"), "grey")
    put("valid-deflate.tif", encode(portrait, "TIFF", compression="tiff_adobe_deflate"), "ok")
    put("valid-big.jpg", cv2.imencode(".jpg", cv2.resize(portrait, (6912, 8064)), [cv2.IMWRITE_JPEG_QUALITY, 50])[1]
        .tobytes(), "ok")
    parts = png_parts(png)
    put("valid-bad-text-crc.png", b"".join(parts[:2] + [png_chunk(b"tEXt", b"Comment\x00hi", crc=1)] + parts[2:]),
        "ok")
    put("valid-ztxt-bomb.png", b"".join(parts[:2] + [png_chunk(b"zTXt", b"Comment\x00\x00" +
                                                           zlib.compress(bytes(200 * 2**20), 9))] + parts[2:]), "ok")

    # EXIF orientation 1..8 in every format that carries it.
    for o in ORIENTATIONS:
        stored = stored_for(portrait, o)
        for fmt, ext in (("JPEG", "jpg"), ("PNG", "png"), ("WEBP", "webp"), ("TIFF", "tif")):
            put(f"exif-{o}.{ext}", encode(stored, fmt, o), "ok")

    # Chunk- and segment-length bombs: a length far beyond the bytes that follow.
    put("bomb-png-signature-random.png", b"\x89PNG\r\n\x1a\n" + rng.bytes(5000), "error")
    put("bomb-png-chunk-length.png", parts[0] + parts[1] + struct.pack(">I", 0xFFFFFFF0) + b"IDAT" + rng.bytes(100),
        "error")
    actl = png_chunk(b"acTL", struct.pack(">II", 2, 0))
    fctl = png_chunk(b"fcTL", struct.pack(">IIIIIHHBB", 1, 384, 448, 0, 0, 1, 10, 0, 0))
    put("bomb-apng-fdat.png", b"".join(parts[:2] + [actl] + parts[2:-1]) + fctl +
        struct.pack(">I", 0xFFFFFF00) + b"fdAT" + rng.bytes(64) + parts[-1], "error")
    put("bomb-jpeg-segment.jpg", jpg[:2] + b"\xff\xe1\xff\xff" + rng.bytes(300), "error")
    put("bomb-webp-riff.webp", webp[:4] + struct.pack("<I", 0x7FFFFFF0) + webp[8:], "error")
    put("bomb-webp-chunk.webp", webp[:16] + struct.pack("<I", 0x7FFFFFF0) + webp[20:], "error")
    put("bomb-gif-extension.gif", gif[:13] + b"\x21\xf9\xff" + rng.bytes(40), "error")
    put("bomb-tiff-strip.tif", _tiff_with(tif, {273: 0x7FFFFFF0}), "error")
    put("bomb-tiff-ifd.tif", tif[:4] + struct.pack("<I", 0x7FFFFFF0) + tif[8:], "error")
    put("bomb-bmp-offset.bmp", bmp[:10] + struct.pack("<I", 0x7FFFFFF0) + bmp[14:], "error")

    # Declared-size bombs: a header claiming a huge picture over a few bytes of data.
    put("size-jpeg-65000.jpg", set_jpeg_size(jpg, 65000, 65000), "error")
    put("size-progressive-20000.jpg", set_jpeg_size(
        cv2.imencode(".jpg", portrait, [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])[1].tobytes(), 20000, 20000), "error")
    put("size-jpeg-5000.jpg", set_jpeg_size(jpg, 5000, 5000), "not_ok")
    ihdr = lambda w, h: png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))  # noqa: E731
    idat = png_chunk(b"IDAT", zlib.compress(bytes(1000)))
    iend = png_chunk(b"IEND", b"")
    put("size-png-100000.png", parts[0] + ihdr(100000, 100000) + idat + iend, "error")
    put("size-png-20000-bad-text-crc.png", parts[0] + ihdr(20000, 20000) + png_chunk(b"tEXt", b"a\x00b", crc=7) +
        idat + iend, "error")
    put("size-png-4000.png", parts[0] + ihdr(4000, 4000) + idat + iend, "error")
    put("size-gif-65535.gif", b"GIF89a" + struct.pack("<HHBBB", 65535, 65535, 0, 0, 0) +
        b"\x2c" + struct.pack("<HHHHB", 0, 0, 65535, 65535, 0) + b"\x08" + rng.bytes(50) + b"\x3b", "error")
    put("size-bmp-rle-30000.bmp", _bmp_header(30000, 30000, 8, 1) + bytes(1024) + b"\x00\x01", "error")
    put("size-bmp-rle-3000.bmp", _bmp_header(3000, 3000, 8, 1) + bytes(1024) + b"\x00\x01", "not_ok")
    put("size-bmp-truncated.bmp", _bmp_header(30000, 30000, 24, 0) + rng.bytes(100), "error")
    put("size-tiff-100000.tif", _tiff_with(tif, {256: 100000, 257: 100000}), "error")
    vp8x = b"VP8X" + struct.pack("<I", 10) + bytes([0, 0, 0, 0]) + (16383).to_bytes(3, "little") * 2
    put("size-webp-canvas.webp", _riff(vp8x + webp[12:]), "error")

    # Header / codestream disagreements.
    vp8x_small = b"VP8X" + struct.pack("<I", 10) + bytes([0, 0, 0, 0]) + (63).to_bytes(3, "little") * 2
    put("mismatch-webp-canvas.webp", _riff(vp8x_small + webp[12:]), "error")
    put("mismatch-tiff-size.tif", _tiff_with(tif, {256: 3000, 257: 3000}), "not_ok")
    jp2 = cv2.imencode(".jp2", portrait)[1].tobytes()
    at = jp2.find(b"ihdr")
    put("mismatch-jp2-ihdr.jp2", jp2[:at + 4] + struct.pack(">II", 64, 64) + jp2[at + 12:], "error")
    at = jp2.find(b"\xff\x51")  # the codestream's SIZ marker
    put("mismatch-jp2-siz.jp2", jp2[:at + 6] + struct.pack(">II", 20000, 20000) + jp2[at + 14:], "error")

    # Formats we refuse, valid or not.
    put("refused.jp2", jp2, "error")
    put("refused-grey.pfm", cv2.imencode(".pfm", grey.astype(np.float32) / 255)[1].tobytes(), "error")
    put("refused-colour.pfm", cv2.imencode(".pfm", portrait.astype(np.float32) / 255)[1].tobytes(), "error")
    put("refused.ppm", cv2.imencode(".ppm", portrait)[1].tobytes(), "error")
    put("refused.pgm", cv2.imencode(".pgm", grey)[1].tobytes(), "error")
    put("refused.pam", b"P7\nWIDTH 20000\nHEIGHT 20000\nDEPTH 3\nMAXVAL 255\nTUPLTYPE RGB\nENDHDR\n", "error")
    put("refused.hdr", cv2.imencode(".hdr", portrait.astype(np.float32) / 255)[1].tobytes(), "error")
    put("refused.ras", cv2.imencode(".ras", portrait)[1].tobytes(), "error")
    put("refused.exr", b"v/1\x01" + rng.bytes(200), "error")
    put("refused.heic", b"\x00\x00\x00\x18ftypheic" + rng.bytes(200), "error")
    put("refused-12bit.jpg", set_jpeg_size(jpg, 384, 448, precision=12), "error")
    put("refused-lossless.jpg", set_jpeg_size(jpg, 384, 448, marker=0xC3), "error")
    put("refused-dnl.jpg", set_jpeg_size(jpg, 384, 0), "error")
    put("refused-float.tif", encode(grey.astype(np.float32) / 255, "TIFF"), "error")
    animated = _pil(Image.fromarray(portrait[:, :, ::-1]), "WEBP", save_all=True, append_images=[
        Image.fromarray(portrait)])
    put("valid-animated.webp", animated, "ok")
    at = animated.find(b"ANMF") + 8
    put("size-webp-animation-frame.webp", animated[:at + 6] + (16000).to_bytes(3, "little") * 2 + animated[at + 12:],
        "error")

    # Truncated at many offsets, and random bytes after every signature.
    for ext, data in valid.items():
        for k, cut in enumerate(np.linspace(0.02, 0.98, 9)):
            put(f"truncated-{k}.{ext}", data[:int(len(data) * cut)], "error")
    signatures = {"jpg": b"\xff\xd8\xff", "png": b"\x89PNG\r\n\x1a\n", "webp": b"RIFF\x00\x10\x00\x00WEBPVP8 ",
                  "bmp": b"BM", "gif": b"GIF89a", "tif": b"II*\x00", "tiff": b"MM\x00*", "jp2": jp2[:12],
                  "pfm": b"PF\n", "ppm": b"P6\n", "hdr": b"#?RADIANCE\n", "exr": b"v/1\x01"}
    for ext, signature in signatures.items():
        for seed in range(6):
            put(f"random-{seed}.{ext}", signature + np.random.default_rng(seed).bytes(3000 + 500 * seed), "not_ok")
    put("empty.jpg", b"", "error")
    put("text.png", b"hello, not a photo\n", "error")
    return expected


def _pil(im: Image.Image, fmt: str, **options) -> bytes:
    out = io.BytesIO()
    im.save(out, fmt, **options)
    return out.getvalue()


def _interlaced_png(bgr: np.ndarray) -> bytes:
    """Adam7-interlaced PNG (neither OpenCV nor Pillow write one), written by hand."""
    rgb = bgr[:, :, ::-1]
    h, w = rgb.shape[:2]
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
    raw = b""
    for x0, y0, dx, dy in passes:
        sub = rgb[y0::dy, x0::dx]
        if sub.size:
            raw += b"".join(b"\x00" + row.tobytes() for row in sub)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 1)) +
            png_chunk(b"IDAT", zlib.compress(raw)) + png_chunk(b"IEND", b""))


def _top_down_bmp(bgr: np.ndarray) -> bytes:
    h, w = bgr.shape[:2]
    row = (w * 3 + 3) // 4 * 4
    pixels = b"".join(r.tobytes() + bytes(row - w * 3) for r in bgr)
    return _bmp_header(w, -h, 24, 0, len(pixels)) + pixels


def _bmp_header(width: int, height: int, bpp: int, compression: int, size: int = 0) -> bytes:
    palette = 1024 if bpp == 8 else 0
    offset = 54 + palette
    return (b"BM" + struct.pack("<IHHI", offset + size, 0, 0, offset) +
            struct.pack("<IiiHHIIiiII", 40, width, height, 1, bpp, compression, size, 2835, 2835, 0, 0))


def _animated_gif(bgr: np.ndarray) -> bytes:
    first = Image.fromarray(bgr[:, :, ::-1])
    return _pil(first, "GIF", save_all=True, append_images=[first.rotate(180)])


def _riff(body: bytes) -> bytes:
    return b"RIFF" + struct.pack("<I", len(body) + 4) + b"WEBP" + body


def _tiff_with(data: bytes, values: dict[int, int]) -> bytes:
    """A little-endian TIFF with some one-value LONG/SHORT tags of its first page overwritten."""
    b = bytearray(data)
    ifd = struct.unpack_from("<I", b, 4)[0]
    for i in range(struct.unpack_from("<H", b, ifd)[0]):
        at = ifd + 2 + 12 * i
        tag, kind, count = struct.unpack_from("<HHI", b, at)
        if tag in values:
            if kind == 3:
                struct.pack_into("<HHIHH", b, at, tag, 4, 1, 0, 0)  # widen SHORT to LONG
            struct.pack_into("<I", b, at + 8, values[tag])
            struct.pack_into("<I", b, at + 4, 1)
    return bytes(b)


if __name__ == "__main__":
    from skimage import data as samples

    counts = build(Path(sys.argv[1]), np.ascontiguousarray(samples.astronaut()[:, :, ::-1]))
    print(f"{len(counts)} files written to {sys.argv[1]}")
