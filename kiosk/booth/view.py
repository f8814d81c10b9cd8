"""Where things land on screen: the camera picture mirrored and either letterboxed onto the booth's
canvas (fit) or cropped to fill it (fill, for portrait screens), and the canvas turned onto the
physical display for portrait-mounted screens.

Pure geometry, shared by the preview and the face-box overlay so the box always sits on the face.
KMSDRM ignores the firmware's display rotation, so the booth rotates its own canvas.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from ..faces import FaceBox


@dataclass(frozen=True)
class View:
    frame_w: int
    frame_h: int
    display_w: int
    display_h: int
    rotation: int = 0  # clockwise degrees the canvas is turned onto the display: 0, 90, 180, 270
    mirror: bool = True
    fill: bool = False  # crop the picture to the canvas's shape instead of letterboxing it
    centre_x: float | None = None  # frame x the fill crop centres on (None: the middle)
    lift: int = 0  # canvas pixels the picture is moved up (to keep a face clear of the result band)

    @property
    def canvas_size(self) -> tuple[int, int]:
        """The upright drawing area: the display's size, swapped for portrait mounting."""
        if self.rotation in (90, 270):
            return self.display_h, self.display_w
        return self.display_w, self.display_h

    @property
    def scale(self) -> float:
        cw, ch = self.canvas_size
        pick = max if self.fill else min
        return pick(cw / self.frame_w, ch / self.frame_h)

    @property
    def source(self) -> tuple[int, int, int, int]:
        """The part of the frame on screen, in frame pixels (before mirroring): x, y, w, h."""
        cw, ch = self.canvas_size
        s = self.scale
        sw, sh = min(self.frame_w, round(cw / s)), min(self.frame_h, round(ch / s))
        centre = self.frame_w / 2 if self.centre_x is None else self.centre_x
        sx = min(max(0, round(centre - sw / 2)), self.frame_w - sw)  # mirrored or not: only the drawing flips
        return sx, (self.frame_h - sh) // 2, sw, sh

    @property
    def picture_rect(self) -> tuple[int, int, int, int]:
        """Where the picture sits on the canvas (centred, then lifted): x, y, w, h."""
        cw, ch = self.canvas_size
        _, _, sw, sh = self.source
        pw, ph = round(sw * self.scale), round(sh * self.scale)
        return (cw - pw) // 2, (ch - ph) // 2 - self.lift, pw, ph

    def picture(self, frame: np.ndarray) -> np.ndarray:
        """The frame as drawn on the canvas, at the picture rect's size."""
        sx, sy, sw, sh = self.source
        if (sw, sh) != (frame.shape[1], frame.shape[0]):
            frame = frame[sy:sy + sh, sx:sx + sw]  # a view: cropping before resizing costs nothing
        if self.mirror:
            frame = cv2.flip(frame, 1)
        _, _, pw, ph = self.picture_rect
        if (frame.shape[1], frame.shape[0]) != (pw, ph):
            interpolation = cv2.INTER_AREA if pw < frame.shape[1] else cv2.INTER_LINEAR
            frame = cv2.resize(frame, (pw, ph), interpolation=interpolation)
        return frame

    def box(self, box: FaceBox) -> tuple[int, int, int, int]:
        """A face box in frame pixels as a canvas rectangle x, y, w, h."""
        sx, sy, sw, _ = self.source
        x = box.x - sx
        if self.mirror:
            x = sw - x - box.w
        px, py, _, _ = self.picture_rect
        s = self.scale
        return round(px + x * s), round(py + (box.y - sy) * s), round(box.w * s), round(box.h * s)


class Framing:
    """Where a fill crop centres: on the face, moved only when the face (with a margin) would leave the
    crop, so Haar's few pixels of jitter never make the picture swim."""

    MARGIN = 0.1  # of the crop's width kept free on either side of the face

    def __init__(self):
        self.centre_x: float | None = None

    def follow(self, view: View, face: FaceBox | None) -> View:
        """`view` with its crop centred for `face` (the crop stays where it was without one)."""
        if not view.fill:
            return view
        if face is not None:
            sx, _, sw, _ = replace(view, centre_x=self.centre_x).source
            margin = sw * self.MARGIN
            if face.x - margin < sx or face.x + face.w + margin > sx + sw:
                self.centre_x = face.x + face.w / 2  # re-centred once, not followed pixel by pixel
        return replace(view, centre_x=self.centre_x)
