"""`kiosk screenshot`: one booth screen rendered headless from the demo scene, with the real models
and fonts, at the configured screen size (the README's pictures come from here)."""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path

from .booth import Phase
from .config import Config
from .stability import FaceState

STATES = ("idle", "live", "countdown", "result")


def screenshot(config: Config, state: str, out: Path, timeout: float = 20.0) -> Path:
    os.environ["SDL_VIDEODRIVER"] = "dummy"
    import pygame

    from .app import App

    booth = config.booth
    if state == "countdown" and booth.countdown_s == 0:
        booth = dataclasses.replace(booth, countdown_s=3)  # a zero countdown has nothing to show
    config = dataclasses.replace(config, booth=booth, button=dataclasses.replace(config.button, gpio=False))
    app = App(config, "demo", windowed=True)
    try:
        _until(app, lambda: app.tracker.state is FaceState.STEADY, timeout, "a steady face")
        if state == "idle":
            # The demo visitor stays too long for the idle timeout: draw that screen without letting
            # the booth notice her (a step would take it straight back to live).
            app.booth.phase = Phase.IDLE
        elif state in ("countdown", "result"):
            pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_SPACE))
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
