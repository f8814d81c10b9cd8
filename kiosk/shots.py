"""`kiosk screenshot`: one booth screen rendered headless from the demo scene, with the real models
and fonts, at the configured screen size (the README's pictures come from here)."""

from __future__ import annotations

import time
from pathlib import Path

from .booth import Phase
from .config import Config
from .stability import FaceState

def screenshot(config: Config, state: str, out: Path, timeout: float = 20.0) -> Path:
    import pygame

    from .app import headless_app, press

    # A zero countdown has nothing to show.
    countdown = 3 if state == "countdown" and config.booth.countdown_s == 0 else config.booth.countdown_s
    app = headless_app(config, countdown_s=countdown)
    try:
        _until(app, lambda: app.tracker.state is FaceState.STEADY, timeout, "a steady face")
        if state == "idle":
            # The demo visitor stays too long for the idle timeout: draw that screen without letting
            # the booth notice her (a step would take it straight back to live).
            app.booth.phase = Phase.IDLE
        elif state in ("countdown", "result"):
            press()
            target = Phase.COUNTDOWN if state == "countdown" else Phase.RESULT
            _until(app, lambda: app.booth.phase is target, timeout, f"the {state} screen")
        app.render(time.monotonic())
        out.parent.mkdir(parents=True, exist_ok=True)
        pygame.image.save(app.display, str(out))
        return out
    finally:
        app.close()


def _until(app, condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"screenshot: the demo did not reach {what} within {timeout:.0f} s")
        app.step()
        time.sleep(0.01)
