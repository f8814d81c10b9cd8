"""Where things land on screen: the camera picture mirrored and letterboxed onto the booth's
canvas, and the canvas turned onto the physical display for portrait-mounted screens.

Pure geometry, shared by the preview and the face-box overlay so the box always sits on the face.
KMSDRM ignores the firmware's display rotation, so the booth rotates its own canvas.
"""

from __future__ import annotations

from dataclasses import dataclass

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

    @property
    def canvas_size(self) -> tuple[int, int]:
        """The upright drawing area: the display's size, swapped for portrait mounting."""
        if self.rotation in (90, 270):
            return self.display_h, self.display_w
        return self.display_w, self.display_h

    @property
    def scale(self) -> float:
        cw, ch = self.canvas_size
        return min(cw / self.frame_w, ch / self.frame_h)

    @property
    def picture_rect(self) -> tuple[int, int, int, int]:
        """Where the picture sits on the canvas (letterboxed, centred): x, y, w, h."""
        cw, ch = self.canvas_size
        pw, ph = round(self.frame_w * self.scale), round(self.frame_h * self.scale)
        return (cw - pw) // 2, (ch - ph) // 2, pw, ph

    def picture(self, frame: np.ndarray) -> np.ndarray:
        """The frame as drawn on the canvas, at the picture rect's size."""
        if self.mirror:
            frame = cv2.flip(frame, 1)
        _, _, pw, ph = self.picture_rect
        if (frame.shape[1], frame.shape[0]) != (pw, ph):
            interpolation = cv2.INTER_AREA if pw < frame.shape[1] else cv2.INTER_LINEAR
            frame = cv2.resize(frame, (pw, ph), interpolation=interpolation)
        return frame

    def box(self, box: FaceBox) -> tuple[int, int, int, int]:
        """A face box in frame pixels as a canvas rectangle x, y, w, h."""
        x = self.frame_w - box.x - box.w if self.mirror else box.x
        px, py, _, _ = self.picture_rect
        s = self.scale
        return round(px + x * s), round(py + box.y * s), round(box.w * s), round(box.h * s)
