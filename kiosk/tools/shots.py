"""`kiosk screenshot`: one booth screen rendered headless from the demo scene, with the real models
and fonts, at the configured screen size, upright as a visitor sees it (the README's pictures come
from here)."""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

import cv2
import pygame

from ..booth.flow import Phase
from ..cameras.demo import LOOP_S, DemoCamera
from ..config import Config
from ..errors import KioskError
from ..booth.stability import FaceState
from ..texts import MAX_VERDICT

# A verdict as long as config allows, to see it wrap and shrink.
LONG_VERDICTS = {"ko": "오늘의 얼굴 상을 드려요! 한 장 더 찍고 가세요, 축하합니다!!",
                 "en": "A face to remember: well done, come back!"}


def screenshot(config: Config, state: str, out: Path, timeout: float = 120.0) -> Path:
    from ..booth.app import headless_app

    if state == "result-long-text":
        long = LONG_VERDICTS[config.texts.language][:MAX_VERDICT]
        config = dataclasses.replace(config, verdict=dataclasses.replace(config.verdict, rank_texts=(long,) * 5))
    with tempfile.TemporaryDirectory() as scratch:
        source = "demo"
        if state == "idle":
            # The attract screen appears when nobody has been there for a while: the demo's backdrop
            # after its visitor has left, replayed as the camera.
            source = str(Path(scratch) / "empty.png")
            cv2.imwrite(source, DemoCamera(config.camera, realtime=False).render(LOOP_S - 1.0))
        # A zero countdown has nothing to show.
        countdown = 3 if state == "countdown" and config.booth.countdown_s == 0 else config.booth.countdown_s
        # The hint: a press while the visitor is still stepping in waits for a steady face, and says so.
        steady_s = 5.0 if state == "hint" else config.booth.steady_s
        app = headless_app(config, source, countdown_s=countdown, idle_after_s=1.0, steady_s=steady_s)
        if state == "takeaway":
            _offer_takeaway(config, app)
        try:
            if state == "idle":
                _until(app, lambda: app.phase is Phase.IDLE, timeout, "the idle screen")
            elif state == "hint":
                _until(app, lambda: app.face is FaceState.MOVING, timeout, "a face stepping in")
                app.press()
                _until(app, lambda: app.phase is Phase.WAITING, timeout, "a press waiting for a steady face")
            else:
                _until(app, lambda: app.face is FaceState.STEADY, timeout, "a steady face")
            if state in ("countdown", "result", "result-long-text", "takeaway"):
                app.press()
                target = Phase.COUNTDOWN if state == "countdown" else Phase.RESULT
                _until(app, lambda: app.phase is target, timeout, f"the {state} screen")
            if state == "paused":
                app.pause()
                _until(app, lambda: app.phase is Phase.PAUSED, timeout, "the pause screen")
            app.render_now()
            out.parent.mkdir(parents=True, exist_ok=True)
            pygame.image.save(app.renderer.canvas, str(out))  # upright, also for a portrait screen
            return out
        finally:
            app.close()


def _offer_takeaway(config: Config, app) -> None:
    """The result with its take-home QR code: cards as the booth's web pages keep them, with the
    address from [web] (no port is opened for a screenshot)."""
    from ..web.server import make_app

    make_app(dataclasses.replace(config, web=dataclasses.replace(config.web, takeaway=True, upload=False)), booth=app)


def _until(app, condition, timeout: float, what: str) -> None:
    if not app.run_until(condition, timeout):
        raise KioskError(f"screenshot: the demo did not reach {what} within {timeout:.0f} s")
