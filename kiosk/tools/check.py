"""`kiosk check`: the preflight an operator runs before the doors open. One line per check."""

from __future__ import annotations

import importlib.util
import json
import threading
from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

from ..config import Config
from ..errors import one_line


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str


def check_config(config: Config | None, error: str) -> tuple[bool, str]:
    return (False, error) if config is None else (True, "valid")


def check_runtime(_: Config) -> tuple[bool, str]:
    from ..runtime import load_runtime

    return True, str(load_runtime())


def check_models(config: Config) -> tuple[bool, str]:
    """Each model loads, its hash matches the manifest, and the built-in portrait scores sanely."""
    from ..cameras.demo import PORTRAIT
    from ..scoring import PhotoScorer

    scorer = PhotoScorer(config)  # ModelError names the broken file
    result = scorer.score_file(str(PORTRAIT))
    if result.status != "ok" or result.gender != "woman" or not 1 <= result.score <= 5:
        return False, (f"self-test on the built-in portrait gave {result.status}, {result.gender}, "
                       f"score {result.score}; expected a woman with a score in 1-5; retrain or restore models/")
    files = len(scorer.chain.manifest.files)
    return True, (f"{files} model file{'s' * (files > 1)} in {config.models_dir}, hashes match; built-in portrait: {result.gender} "
                  f"(p {result.p_woman:.2f}), score {result.score:.2f}, rank {result.rank}")


def check_font(config: Config) -> tuple[bool, str]:
    from ..booth.fonts import checked_font

    font = checked_font(config.screen.font, config.wording.all() + [config.brand.title])
    return True, f"{font.path} has every Hangul glyph the booth shows"


def check_camera(config: Config, source: str | None = None, timeout_s: float = 5.0) -> tuple[bool, str]:
    """The camera opens and delivers a frame within `timeout_s` (a hung read counts as a failure)."""
    from ..cameras import open_camera

    source = source or config.camera.source
    camera = open_camera(source, config.camera)
    got: dict = {}

    def read():
        try:
            got["frame"] = camera.read()
        except Exception as exc:  # reported as this check's detail
            got["error"] = exc

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout_s)
    try:
        if "frame" in got:
            h, w = got["frame"].image.shape[:2]
            detail = f"{camera.name} ({source}) delivers {w}x{h} frames"
            if config.camera.face_exposure_ev > 0:
                detail += ("; face-priority exposure on" if camera.steers_exposure else
                           "; no face-priority exposure (the camera meters by itself)")
            return True, detail
        if "error" in got:
            return False, f"{camera.name} ({source}) opened but failed: {got['error']}"
        return False, f"{camera.name} ({source}) opened but gave no frame within {timeout_s:g} s"
    finally:
        if not reader.is_alive():
            camera.close()


def check_display(_: Config, headless: bool = False) -> tuple[bool, str]:
    import pygame

    from ..booth.app import no_screen_problem

    try:
        pygame.display.init()
        driver = pygame.display.get_driver()
        problem = "" if headless else no_screen_problem(driver)
        return (False, problem) if problem else (True, f"SDL video driver {driver} initialised")
    finally:
        pygame.display.quit()


def check_gpio(config: Config) -> tuple[bool, str]:
    b, pin = config.button, config.light.pin
    light = _check_light(config) if pin >= 0 else (True, "")
    if not b.gpio:
        button = True, "GPIO button off in config; keyboard and touch only"
    else:
        button = _check_button(config)
    return button[0] and light[0], "; ".join(detail for _, detail in (button, light) if detail)


def _check_button(config: Config) -> tuple[bool, str]:
    from ..booth.button import GpioButton

    b = config.button
    button = GpioButton(b)
    try:
        if button.button is None:
            return False, button.problem
        return True, f"button on GPIO{b.pin} claimed ({'pull-up' if b.pull_up else 'pull-down'})"
    finally:
        button.close()


def _check_light(config: Config) -> tuple[bool, str]:
    from ..booth.light import FaceLight

    light = FaceLight(config.light)
    try:
        if light.device is None:
            return False, f"face light: {light.problem}"
        return True, f"face light on GPIO{config.light.pin} claimed"
    finally:
        light.close()


def check_combinations(_: Config) -> tuple[bool, str]:
    """Known-bad version combinations that break silently (docs/platform.md)."""
    problems = []
    if int(cv2.__version__.split(".")[0]) >= 5:
        problems.append(f"OpenCV {cv2.__version__} has no Haar cascades; pip install 'opencv-python-headless<5'")
    spec = importlib.util.find_spec("picamera2")
    if spec and spec.origin and "dist-packages" in spec.origin and int(np.__version__.split(".")[0]) >= 2:
        problems.append(f"numpy {np.__version__} beside apt's picamera2 (built on numpy 1.x); pip install 'numpy<2'")
    if problems:
        return False, "; ".join(problems)
    return True, f"OpenCV {cv2.__version__}, numpy {np.__version__}"


# What a running booth holds itself: checking them from inside it would fight it for the device.
HELD_BY_THE_BOOTH = ("camera", "display", "gpio")


def run_checks(config: Config | None, config_error: str = "", camera: str | None = None,
               headless: bool = False, skip: tuple[str, ...] = ()) -> list[CheckResult]:
    checks: list[tuple[str, Callable]] = [
        ("config", lambda c: check_config(config, config_error)),
        ("runtime", check_runtime), ("models", check_models), ("font", check_font),
        ("camera", lambda c: check_camera(c, camera)), ("display", lambda c: check_display(c, headless)),
        ("gpio", check_gpio),
        ("versions", check_combinations)]
    effective = config or Config()  # a broken config still lets the other checks run on defaults
    results = []
    for name, fn in checks:
        if name in skip:
            continue
        try:
            ok, detail = fn(effective)
        except Exception as exc:  # each failure becomes that check's one-line detail
            ok, detail = False, one_line(exc) or type(exc).__name__
        results.append(CheckResult(name, ok, detail))
    return results


def report(results: list[CheckResult], as_json: bool) -> str:
    if as_json:
        return json.dumps({"checks": [r.__dict__ for r in results]}, ensure_ascii=False)
    return "\n".join(f"{'✓' if r.ok else '✗'} {r.name}: {r.detail}" for r in results)

