"""`kiosk screenshot`: one booth screen rendered headless from the demo scene, with the real models
and fonts, at the configured screen size (the README's pictures come from here)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import cv2

from ..booth.flow import Phase
from ..cameras.demo import LOOP_S, DemoCamera
from ..config import Config
from ..errors import KioskError
from ..booth.stability import FaceState


def screenshot(config: Config, state: str, out: Path, timeout: float = 120.0) -> Path:
    from ..booth.app import headless_app

    with tempfile.TemporaryDirectory() as scratch:
        source = "demo"
        if state == "idle":
            # The attract screen appears when nobody has been there for a while: the demo's backdrop
            # after its visitor has left, replayed as the camera.
            source = str(Path(scratch) / "empty.png")
            cv2.imwrite(source, DemoCamera(config.camera, realtime=False).render(LOOP_S - 1.0))
        # A zero countdown has nothing to show.
        countdown = 3 if state == "countdown" and config.booth.countdown_s == 0 else config.booth.countdown_s
        app = headless_app(config, source, countdown_s=countdown, idle_after_s=1.0)
        if state == "takeaway":
            _offer_takeaway(config, app)
        try:
            if state == "idle":
                _until(app, lambda: app.phase is Phase.IDLE, timeout, "the idle screen")
            else:
                _until(app, lambda: app.face is FaceState.STEADY, timeout, "a steady face")
            if state in ("countdown", "result", "takeaway"):
                app.press()
                target = Phase.COUNTDOWN if state == "countdown" else Phase.RESULT
                _until(app, lambda: app.phase is target, timeout, f"the {state} screen")
            return app.save_screen(out)
        finally:
            app.close()


def _offer_takeaway(config: Config, app) -> None:
    """The result with its take-home QR code: cards as the booth's web pages keep them, with the
    address from [web] (no port is opened for a screenshot)."""
    import dataclasses

    from ..web.server import make_app

    make_app(dataclasses.replace(config, web=dataclasses.replace(config.web, takeaway=True, upload=False)), booth=app)


def _until(app, condition, timeout: float, what: str) -> None:
    if not app.run_until(condition, timeout):
        raise KioskError(f"screenshot: the demo did not reach {what} within {timeout:.0f} s")
