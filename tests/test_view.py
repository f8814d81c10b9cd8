"""Mirrored, letterboxed and rotated geometry: the box must land on the face on screen."""

import numpy as np
import pytest

from kiosk.faces import FaceBox
from kiosk.view import View


def test_letterbox_fits_and_centres():
    v = View(640, 480, 1920, 1080, rotation=0, mirror=False)
    assert v.scale == 1080 / 480 and v.picture_rect == (240, 0, 1440, 1080)


def test_mirror_flips_the_box_horizontally():
    box = FaceBox(100, 50, 200, 100)
    plain = View(640, 480, 640, 480, mirror=False)
    mirrored = View(640, 480, 640, 480, mirror=True)
    assert plain.box(box) == (100, 50, 200, 100)
    assert mirrored.box(box) == (640 - 300, 50, 200, 100)


def test_box_follows_the_pixels_it_marks():
    """Paint the box's area in the frame; the drawn picture must have that paint inside the box rect."""
    frame = np.zeros((480, 640, 3), np.uint8)
    box = FaceBox(400, 100, 120, 90)
    frame[box.y:box.y + box.h, box.x:box.x + box.w] = 255
    for mirror in (False, True):
        v = View(640, 480, 1000, 1000, rotation=0, mirror=mirror)
        picture = v.picture(frame)
        px, py, _, _ = v.picture_rect
        x, y, w, h = v.box(box)
        inside = picture[y - py + 3:y - py + h - 3, x - px + 3:x - px + w - 3]
        assert inside.min() == 255 and picture.sum() / 255 / 3 < (w + 6) * (h + 6)


@pytest.mark.parametrize("rotation, canvas", [(0, (1920, 1080)), (90, (1080, 1920)),
                                              (180, (1920, 1080)), (270, (1080, 1920))])
def test_portrait_rotation_swaps_the_canvas(rotation, canvas):
    v = View(1280, 720, 1920, 1080, rotation=rotation, mirror=True)
    assert v.canvas_size == canvas
    x, y, w, h = v.display_rect((0, 0, canvas[0], canvas[1]))
    assert (x, y, w, h) == (0, 0, 1920, 1080)  # the canvas covers the display exactly


@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
def test_rotated_points_land_where_pygame_puts_them(rotation):
    import pygame

    v = View(1280, 720, 192, 108, rotation=rotation)
    canvas = pygame.Surface(v.canvas_size)
    canvas.fill((0, 0, 0))
    canvas.set_at((10, 20), (255, 0, 0))
    display = pygame.transform.rotate(canvas, -rotation)  # what the renderer does
    assert display.get_size() == (192, 108)
    x, y = v.to_display(10.5, 20.5)  # the pixel's centre
    assert display.get_at((int(x), int(y)))[:3] == (255, 0, 0)
