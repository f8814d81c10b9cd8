"""The seed's augmentation (rotation, flips, brightness, shear), plus a little zoom, shift and
greyscale so that old black-and-white portraits are not out of distribution."""

from __future__ import annotations

import cv2
import numpy as np


def augment(crop: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    size = crop.shape[0]
    angle = rng.uniform(-12, 12)
    zoom = rng.uniform(0.93, 1.07)
    shear = rng.uniform(-0.1, 0.1)
    shift = rng.uniform(-0.04, 0.04, size=2) * size
    matrix = cv2.getRotationMatrix2D((size / 2, size / 2), angle, zoom)
    matrix[0, 1] += shear
    matrix[:, 2] += shift - np.array([shear * size / 2, 0])
    out = cv2.warpAffine(crop, matrix, (size, size), borderMode=cv2.BORDER_REPLICATE)
    if rng.random() < 0.5:
        out = out[:, ::-1]
    gain, bias = rng.uniform(0.75, 1.25), rng.uniform(-20, 20)
    out = np.clip(out.astype(np.float32) * gain + bias, 0, 255)
    if rng.random() < 0.35:  # old black-and-white portraits: measured by `kiosk eval --grey`
        grey = out @ np.array([0.299, 0.587, 0.114], np.float32)
        out = np.repeat(grey[..., None], 3, axis=2)
    return out.astype(np.uint8)
