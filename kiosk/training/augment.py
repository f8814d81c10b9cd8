"""Training versions of a face: what the booth's camera and Haar give for the same face.

Two kinds of change, applied to each random version:
- framing: the Haar box moves and resizes by a few percent between frames, so versions are cut
  again from the photo around a jittered box (real pixels, the booth's own crop code), then
  turned and sheared a little as the seed did;
- camera: exposure x0.5..x1.5, gamma, white balance, sensor noise, blur, JPEG re-encoding, and
  greyscale for 35% (old black-and-white portraits, measured by `kiosk eval --grey`).
"""

from __future__ import annotations

import cv2
import numpy as np

from ..faces import FaceBox

BOX_SHIFT = 0.05  # of the box side, each axis (Haar's frame-to-frame jitter is a few percent)
BOX_SCALE = 0.08


def jitter_box(box: FaceBox, rng: np.random.Generator) -> FaceBox:
    """The box a later frame's Haar might have given for the same face."""
    side = max(box.w, box.h)
    scale = np.exp(rng.uniform(-BOX_SCALE, BOX_SCALE))
    dx, dy = rng.uniform(-BOX_SHIFT, BOX_SHIFT, size=2) * side
    w, h = box.w * scale, box.h * scale
    cx, cy = box.x + box.w / 2 + dx, box.y + box.h / 2 + dy
    return FaceBox(round(cx - w / 2), round(cy - h / 2), round(w), round(h))


def warp(crop: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A small rotation and shear (head tilt); the jittered box already moved and scaled it."""
    size = crop.shape[0]
    matrix = cv2.getRotationMatrix2D((size / 2, size / 2), rng.uniform(-10, 10), 1.0)
    shear = rng.uniform(-0.08, 0.08)
    matrix[0, 1] += shear
    matrix[0, 2] -= shear * size / 2
    out = cv2.warpAffine(crop, matrix, (size, size), borderMode=cv2.BORDER_REPLICATE)
    return out[:, ::-1] if rng.random() < 0.5 else out


def camera(crop: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Exposure, gamma, white balance, noise, blur and JPEG as a cheap camera would vary them."""
    x = crop.astype(np.float32) / 255.0
    x = x * np.exp(rng.uniform(np.log(0.5), np.log(1.5)))  # exposure: x0.5 (backlit) .. x1.5
    x = np.clip(x, 0, 1) ** np.exp(rng.uniform(np.log(0.7), np.log(1.8)))  # gamma: bright .. low light
    x = x * rng.uniform(0.92, 1.08, size=3).astype(np.float32)  # white balance
    x = x * 255.0
    if rng.random() < 0.6:  # sensor noise, stronger in the shadows as on a real sensor
        sigma = rng.uniform(1, 8)
        x = x + rng.normal(0, 1, x.shape).astype(np.float32) * sigma * (1.5 - x / 255.0)
    out = np.clip(x, 0, 255).astype(np.uint8)
    if rng.random() < 0.3:
        out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.4, 1.3))
    if rng.random() < 0.4:
        _, jpeg = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(40, 95))])
        out = cv2.imdecode(jpeg, cv2.IMREAD_UNCHANGED)
    if rng.random() < 0.35:
        out = np.repeat(cv2.cvtColor(out, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)
    return out


def augment(crop: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One random version of a face crop (already cut around a jittered box)."""
    return camera(warp(crop, rng), rng)
