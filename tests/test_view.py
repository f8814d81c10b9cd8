"""Mirrored, letterboxed and rotated geometry: the box must land on the face on screen."""

import numpy as np
import pytest

from kiosk.faces import FaceBox
from kiosk.booth.view import View


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
    assert View(1280, 720, 1920, 1080, rotation=rotation, mirror=True).canvas_size == canvas


@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
def test_drawn_box_lands_on_the_face_on_a_rotated_screen(rotation):
    """Render a live scene: on the physical display the green box must surround the (rotated) white
    patch that stands for the face, whatever the mounting."""
    import pygame

    from kiosk.booth.flow import Phase
    from kiosk.faces import Detection
    from kiosk.booth.fonts import find_font
    from kiosk.booth.screen import BOX_COLOURS, Renderer, Scene
    from kiosk.booth.stability import FaceState

    pygame.display.init()
    display = pygame.Surface((480, 270))
    frame = np.zeros((270, 480, 3), np.uint8)
    box = FaceBox(60, 40, 80, 60)  # off-centre, so every rotation and the mirror move it
    frame[box.y + 10:box.y + box.h - 10, box.x + 10:box.x + box.w - 10] = 255
    view = View(480, 270, 480, 270, rotation=rotation, mirror=True)
    Renderer(display, view, find_font()).draw(
        Scene(Phase.LIVE, frame, Detection((box,)), FaceState.STEADY))
    pixels = pygame.surfarray.array3d(display).transpose(1, 0, 2)  # rows, columns, RGB
    green = np.argwhere((pixels == BOX_COLOURS[FaceState.STEADY]).all(axis=2))
    white = np.argwhere((pixels > 200).all(axis=2))
    white = white[white[:, 0] < pixels.shape[0] * 0.8]  # leave out the hint text at the bottom
    assert len(green) and len(white)
    (gy0, gx0), (gy1, gx1) = green.min(axis=0), green.max(axis=0)
    (wy0, wx0), (wy1, wx1) = white.min(axis=0), white.max(axis=0)
    assert gy0 < wy0 and wy1 < gy1 and gx0 < wx0 and wx1 < gx1


@pytest.mark.parametrize("size", [(480, 800), (800, 480), (1080, 1920)])
def test_a_long_verdict_wraps_and_shrinks_inside_the_screen(size):
    import pygame

    from kiosk.booth.flow import Phase
    from kiosk.booth.fonts import find_font
    from kiosk.booth.screen import RESULT_COLOUR, Renderer, Scene
    from kiosk.chain import Verdict
    from kiosk.config import MAX_TEXT

    pygame.display.init()
    display = pygame.Surface(size)
    text = "가나다라마바사아자차 " * (MAX_TEXT // 11) + "끝" * (MAX_TEXT % 11)
    assert len(text) == MAX_TEXT
    frame = np.zeros((480, 640, 3), np.uint8)
    Renderer(display, View(640, 480, *size), find_font()).draw(
        Scene(Phase.RESULT, frame, verdict=Verdict("woman", 0.9, 3.4, 4, text)))
    pixels = pygame.surfarray.array3d(display).transpose(1, 0, 2)
    verdict = np.argwhere((pixels == RESULT_COLOUR).all(axis=2))  # the verdict line's colour
    assert len(verdict)
    columns, rows = verdict[:, 1], verdict[:, 0]
    margin = size[0] * 0.02
    assert columns.min() > margin and columns.max() < size[0] - margin  # nothing cut off at either side
    line_px = rows.max() - rows.min()
    assert line_px > size[1] * 0.03  # two lines, not one shrunk to nothing


def test_wrap_breaks_at_spaces_and_inside_words_too_wide_alone():
    from kiosk.booth.screen import wrap

    def fits(line):
        return len(line) <= 5

    assert wrap("ab cd efghijkl m", fits) == ["ab cd", "efghi", "jkl m"]
    assert wrap("", fits) == [""]


@pytest.mark.parametrize("size", [(1920, 1080), (480, 800)])
def test_the_band_keeps_its_place_across_states_and_the_result_has_its_own_colour(size):
    import pygame

    from kiosk.booth.flow import Phase
    from kiosk.booth.fonts import find_font
    from kiosk.booth.screen import BOX_COLOURS, RESULT_COLOUR, Renderer, Scene
    from kiosk.booth.stability import FaceState
    from kiosk.chain import Verdict

    pygame.display.init()
    display = pygame.Surface(size)
    renderer = Renderer(display, View(640, 480, *size), find_font())
    frame = np.full((480, 640, 3), 255, np.uint8)  # white: the band's shade shows as the first grey row
    verdict = Verdict("woman", 0.9, 3.4, 4, "ㅅㅌㅊ 입니다..")
    tops = {}
    for phase in (Phase.LIVE, Phase.WAITING, Phase.COUNTDOWN, Phase.SCORING, Phase.RESULT, Phase.MESSAGE):
        renderer.draw(Scene(phase, frame, face=FaceState.MOVING, countdown=2, message="앗", verdict=verdict))
        left = View(640, 480, *size).picture_rect[0] + 2  # the picture's left edge: shade, no text
        column = pygame.surfarray.array3d(display).transpose(1, 0, 2)[:, left]
        picture = np.argwhere((column == 255).all(axis=1))[:, 0]
        tops[phase] = int(picture.max())  # last white row above the band
    assert len(set(tops.values())) == 1, tops  # "분석 중..." and the result do not make the band jump
    for colour in BOX_COLOURS.values():
        assert sum(abs(a - b) for a, b in zip(colour, RESULT_COLOUR)) > 150  # not the "moving" yellow


def test_analysing_appears_only_when_scoring_takes_long_enough_to_notice():
    import pygame

    from kiosk.booth.flow import Phase
    from kiosk.booth.fonts import find_font
    from kiosk.booth.screen import Renderer, Scene

    pygame.display.init()
    display = pygame.Surface((640, 480))
    renderer = Renderer(display, View(640, 480, 640, 480), find_font())
    frame = np.zeros((480, 640, 3), np.uint8)
    shown = []
    for elapsed in (0.05, 1.0):
        renderer.draw(Scene(Phase.SCORING, frame, elapsed=elapsed))
        shown.append(int((pygame.surfarray.array3d(display) > 200).all(axis=2).sum()))  # white text pixels
    assert shown[0] == 0 and shown[1] > 0  # no 50 ms flash of "분석 중..."


def test_the_pause_screen_darkens_the_live_picture_or_shows_on_black():
    import pygame

    from kiosk.booth.flow import Phase
    from kiosk.booth.fonts import find_font
    from kiosk.booth.screen import Renderer, Scene

    pygame.display.init()
    display = pygame.Surface((640, 480))
    renderer = Renderer(display, View(640, 480, 640, 480), find_font())
    frame = np.full((480, 640, 3), 200, np.uint8)
    renderer.draw(Scene(Phase.LIVE, frame))
    live = pygame.surfarray.array3d(display)
    renderer.draw(Scene(Phase.PAUSED, frame))
    paused = pygame.surfarray.array3d(display)
    corner = paused[:40, :40]
    assert (live[:40, :40] == 200).all() and 0 < corner.mean() < 100  # the picture, darkened
    text = (paused > 240).all(axis=2)
    assert text.sum() > 200 and 100 < np.argwhere(text)[:, 1].mean() < 380  # white words, mid-screen
    renderer.draw(Scene(Phase.PAUSED, None))  # no camera: the words on black
    black = pygame.surfarray.array3d(display)
    assert (black[:40, :40] == 0).all() and (black > 240).all(axis=2).sum() > 200
