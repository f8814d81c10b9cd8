"""What visitors and operators meet beyond the flow itself: portrait fill, the face kept clear of the
band, the face light, event branding, the privacy and AI notice, the English set."""

import dataclasses

import numpy as np
import pygame
import pytest

from kiosk.booth.flow import Phase
from kiosk.booth.fonts import find_font
from kiosk.booth.screen import BAND, Look, Renderer, Scene
from kiosk.booth.stability import FaceState
from kiosk.booth.view import Framing, View
from kiosk.chain import Verdict
from kiosk.config import LightConfig
from kiosk.faces import Detection, FaceBox
from kiosk.texts import EN, Texts

from .conftest import booth_config, step_until


def pixels(surface) -> np.ndarray:
    return pygame.surfarray.array3d(surface).transpose(1, 0, 2)  # rows, columns, RGB


def test_fill_covers_a_portrait_canvas_and_the_box_still_lands_on_the_face():
    frame = np.zeros((720, 1280, 3), np.uint8)
    box = FaceBox(700, 200, 160, 160)
    frame[box.y:box.y + box.h, box.x:box.x + box.w] = 255
    fit = View(1280, 720, 1920, 1080, rotation=90, mirror=True)
    assert fit.picture_rect[3] < 700  # letterboxed: a 1080x608 strip of a 1080x1920 canvas
    for mirror in (False, True):
        view = Framing().follow(View(1280, 720, 1920, 1080, rotation=90, mirror=mirror, fill=True), box)
        assert view.picture_rect == (0, 0, 1080, 1920)  # the whole canvas, no black
        picture = view.picture(frame)
        x, y, w, h = view.box(box)
        assert 0 <= x and x + w <= 1080
        inside = picture[y + 5:y + h - 5, x + 5:x + w - 5]
        assert inside.min() == 255 and (picture > 0).all(axis=2).sum() < (w + 12) * (h + 12)


def test_the_fill_crop_ignores_jitter_and_follows_a_face_near_its_edge():
    framing = Framing()
    view = View(1280, 720, 1920, 1080, rotation=90, fill=True)
    first = framing.follow(view, FaceBox(600, 200, 100, 100)).source
    assert framing.follow(view, FaceBox(606, 203, 100, 100)).source == first  # Haar's jitter: no swim
    moved = framing.follow(view, FaceBox(900, 200, 100, 100)).source
    sx, _, sw, _ = moved
    assert sx > first[0] and sx <= 900 and 1000 <= sx + sw  # moved, and the face is inside
    assert framing.follow(view, FaceBox(904, 198, 100, 100)).source == moved
    assert framing.follow(view, None).source == moved  # no face: stays put


def test_portrait_screens_fill_by_default(booth_app, photo_dir):
    cfg = booth_config()
    cfg = dataclasses.replace(cfg, screen=dataclasses.replace(cfg.screen, rotation=90))
    app = booth_app(photo_dir / "astronaut.jpg", cfg)
    step_until(app, lambda: app.face is FaceState.STEADY)
    assert app.renderer.view.fill and app.renderer.view.picture_rect[:2] == (0, 0)
    landscape = booth_app(photo_dir / "astronaut.jpg")
    assert not landscape.view.fill


@pytest.mark.parametrize("size, rotation", [((1920, 1080), 0), ((1920, 1080), 90), ((800, 480), 0)])
def test_the_result_band_never_covers_the_face(size, rotation):
    pygame.display.init()
    display = pygame.Surface(size)
    frame = np.full((720, 1280, 3), 40, np.uint8)
    box = FaceBox(560, 420, 200, 260)  # low in the frame: where the band would sit
    frame[box.y:box.y + box.h, box.x:box.x + box.w] = 255
    view = Framing().follow(View(1280, 720, *size, rotation=rotation, fill=rotation == 90), box)
    renderer = Renderer(display, view, find_font())
    renderer.draw(Scene(Phase.RESULT, frame, verdict=Verdict("woman", 0.9, 3.4, 4, "ㅅㅌㅊ 입니다.."),
                        result_box=box))
    x, y, w, h = renderer.view.box(box)
    canvas_h = view.canvas_size[1]
    assert y >= 0 and y + h <= canvas_h * (1 - BAND)
    drawn = pygame.surfarray.array3d(renderer.canvas).transpose(1, 0, 2)
    face = drawn[y + 8:y + h - 8, x + 8:x + w - 8]
    assert face.min() == 255  # the face itself, unshaded and untouched by text
    renderer.draw(Scene(Phase.LIVE, frame, Detection((box,)), FaceState.STEADY))
    assert renderer.view.lift == 0  # the live picture does not jump


def test_the_face_light_is_on_for_the_countdown_and_capture_only():
    from gpiozero import Device

    from kiosk.booth.light import FaceLight, wanted

    assert [p for p in Phase if wanted(p, FaceState.STEADY, False)] == [Phase.COUNTDOWN, Phase.SCORING,
                                                                      Phase.WAITING]
    assert wanted(Phase.LIVE, FaceState.STEADY, True) and not wanted(Phase.LIVE, FaceState.MOVING, True)
    light = FaceLight(LightConfig(pin=22))
    pin = Device.pin_factory.pin(22)
    try:
        assert not pin.state
        light.follow(Phase.COUNTDOWN, FaceState.STEADY)
        assert pin.state and light.on
        light.follow(Phase.RESULT, FaceState.STEADY)
        assert not pin.state
        light.follow(Phase.SCORING, FaceState.STEADY)
    finally:
        light.close()
    assert not pin.state  # a stopped booth leaves the light off
    low = FaceLight(LightConfig(pin=23, active_high=False))
    try:
        assert Device.pin_factory.pin(23).state  # relay boards that switch on low: high is off
        low.follow(Phase.COUNTDOWN, FaceState.STEADY)
        assert not Device.pin_factory.pin(23).state
    finally:
        low.close()


def test_the_booth_lights_the_face_through_a_visit(booth_app, photo_dir):
    from gpiozero import Device

    cfg = booth_config(countdown_s=1)
    app = booth_app(photo_dir / "astronaut.jpg", dataclasses.replace(cfg, light=LightConfig(pin=22)))
    states = []
    app.on_visit(lambda visit: states.append(("visit", Device.pin_factory.pin(22).state)))
    step_until(app, lambda: app.face is FaceState.STEADY)
    assert not Device.pin_factory.pin(22).state
    app.press()
    step_until(app, lambda: app.phase is Phase.COUNTDOWN)
    assert Device.pin_factory.pin(22).state
    step_until(app, lambda: app.phase is Phase.RESULT)
    app.step()
    assert not Device.pin_factory.pin(22).state


def test_branding_shows_the_logo_and_title_on_idle_and_result(tmp_path):
    logo = tmp_path / "logo.png"
    square = pygame.Surface((60, 40))
    square.fill((255, 0, 255))
    pygame.image.save(square, str(logo))
    pygame.display.init()
    display = pygame.display.set_mode((960, 540))  # convert_alpha needs a display mode
    from kiosk.booth.app import load_logo

    look = Look(Texts.of(), title="Seoul Maker Faire 2026", logo=load_logo(str(logo)))
    renderer = Renderer(display, View(640, 480, 960, 540), find_font(), look)
    frame = np.zeros((480, 640, 3), np.uint8)
    verdict = Verdict("man", 0.1, 3.0, 3, "ㅍㅌㅊ 입니다..")
    for phase in (Phase.IDLE, Phase.RESULT, Phase.LIVE):
        renderer.draw(Scene(phase, frame, verdict=verdict))
        drawn = pixels(display)
        magenta = np.argwhere((drawn == (255, 0, 255)).all(axis=2))
        white_top = (drawn[:54] > 200).all(axis=2).sum()
        if phase is Phase.LIVE:  # the live picture is the visitor's: no bar over it
            assert not len(magenta)
        else:
            assert len(magenta) and magenta[:, 0].max() < 54 and white_top > 100  # logo and title, top bar


def test_a_logo_pygame_cannot_read_is_one_line(tmp_path):
    from kiosk.booth.app import load_logo
    from kiosk.errors import KioskError

    bad = tmp_path / "logo.png"
    bad.write_bytes(b"not an image")
    pygame.display.init()
    pygame.display.set_mode((64, 64))
    with pytest.raises(KioskError, match=r"\[brand\] logo = .*cannot read the image"):
        load_logo(str(bad))


def test_the_notice_is_on_the_idle_and_live_screens():
    pygame.display.init()
    display = pygame.Surface((960, 540))
    frame = np.zeros((480, 640, 3), np.uint8)
    words = Texts.of("en")
    with_notice = Renderer(display, View(640, 480, 960, 540), find_font(), Look(words, words.notice(False, False)))
    without = Renderer(pygame.Surface((960, 540)), View(640, 480, 960, 540), find_font(), Look(words))
    for phase in (Phase.IDLE, Phase.LIVE):
        with_notice.draw(Scene(phase, frame))
        without.draw(Scene(phase, frame))
        extra = (pixels(display) != pixels(without.display)).any(axis=2)
        assert extra.sum() > 500  # a line of text more
        if phase is Phase.LIVE:
            assert np.argwhere(extra)[:, 0].min() > 540 * (1 - BAND)  # in the band, not over the face


def test_the_booth_speaks_english_when_asked(booth_app, photo_dir):
    cfg = booth_config()
    cfg = dataclasses.replace(cfg, texts=dataclasses.replace(cfg.texts, language="en"))
    app = booth_app(photo_dir / "astronaut.jpg", cfg)
    step_until(app, lambda: app.face is FaceState.STEADY)
    assert app.booth.hint(app.face) == EN["hint_steady"]
    assert "A camera and an AI" in app.look.notice
    app.press()
    step_until(app, lambda: app.phase is Phase.RESULT)
    assert app.verdict.text == EN[f"rank_{app.verdict.rank}"]


def test_long_english_overrides_are_wrapped_not_cut(tmp_path):
    pygame.display.init()
    display = pygame.Surface((480, 800))
    long_hint = "Please stand right in front of the camera and look at it"
    words = Texts.of("en", {"hint_none": long_hint})
    renderer = Renderer(display, View(640, 480, 480, 800), find_font(), Look(words))
    renderer.draw(Scene(Phase.LIVE, np.zeros((480, 640, 3), np.uint8)))
    text = np.argwhere((pixels(display) == (255, 255, 255)).all(axis=2))
    assert len(text) and text[:, 1].min() > 480 * 0.02 and text[:, 1].max() < 480 * 0.98


def test_english_and_korean_sets_fit_the_configured_limits():
    from kiosk.texts import KO, MAX_LENGTH, MAX_VERDICT, RANK_KEYS, problem

    for words in (KO, EN):
        for key, text in words.items():
            assert not problem(key, text), (key, text)
            assert len(text) <= (MAX_VERDICT if key in RANK_KEYS else MAX_LENGTH)


def test_check_claims_the_face_light_pin():
    from kiosk.tools.check import check_gpio

    cfg = booth_config()
    ok, detail = check_gpio(dataclasses.replace(cfg, light=LightConfig(pin=22)))
    assert ok and "face light on GPIO22 claimed" in detail and "button on GPIO17" in detail
