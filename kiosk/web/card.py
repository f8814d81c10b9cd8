"""The take-home card as a picture: the captured frame with the face box, and beneath it the verdict,
gender, score and the "just for fun" line, in the booth's Hangul font. Made in memory, as JPEG bytes."""

from __future__ import annotations

import io

import cv2
from PIL import Image, ImageDraw, ImageFont

from ..booth.fonts import FontFile
from ..booth.screen import wrap
from ..texts import Texts

CARD_WIDTH = 1080  # a phone screen's width; a bigger camera frame is shrunk to it
BACKGROUND = (20, 24, 31)  # the web pages' dark background
VERDICT_COLOUR = (110, 205, 255)  # the result screen's colour, RGB
BOX_BGR = (255, 205, 110)  # the same colour on the BGR frame
QUALITY = 88


def card_jpeg(image_bgr, box, verdict, font: FontFile, words: Texts) -> bytes:
    """The card for `verdict` with `box` (frame pixels) drawn on `image_bgr`, in the booth's `words`;
    the frame is not changed."""
    k = min(1.0, CARD_WIDTH / image_bgr.shape[1])
    picture = cv2.resize(image_bgr, None, fx=k, fy=k, interpolation=cv2.INTER_AREA) if k < 1 else image_bgr.copy()
    x, y, w, h = (round(v * k) for v in (box.x, box.y, box.w, box.h))
    cv2.rectangle(picture, (x, y), (x + w, y + h), BOX_BGR, max(3, picture.shape[1] // 240))
    width = picture.shape[1]
    sizes = {"big": round(width * 0.06), "mid": round(width * 0.04), "small": round(width * 0.026)}
    faces = {name: ImageFont.truetype(font.path, px, index=font.index) for name, px in sizes.items()}
    line = words.score_line(verdict.gender, verdict.score, verdict.rank)
    fits = lambda part: faces["big"].getlength(part) <= width * 0.92  # noqa: E731
    lines = ([(part, "big", VERDICT_COLOUR) for part in wrap(verdict.text, fits)[:2]]
             + [(line, "mid", (255, 255, 255)), (words["just_for_fun"], "small", (190, 190, 190))])
    heights = [round(sizes[size] * 1.35) for _, size, _ in lines]
    band = sum(heights) + sizes["mid"]
    card = Image.new("RGB", (width, picture.shape[0] + band), BACKGROUND)
    card.paste(Image.fromarray(cv2.cvtColor(picture, cv2.COLOR_BGR2RGB)), (0, 0))
    draw = ImageDraw.Draw(card)
    top = picture.shape[0] + sizes["mid"] // 2
    for (text, size, colour), height in zip(lines, heights):
        draw.text((width // 2, top + height // 2), text, font=faces[size], fill=colour, anchor="mm")
        top += height
    out = io.BytesIO()
    card.save(out, "JPEG", quality=QUALITY)
    return out.getvalue()
