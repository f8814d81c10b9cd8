"""`kiosk check`: each check passes or fails with a helpful line; exit 0 only if all pass."""

import json
import shutil

import pytest

from kiosk.cli import main
from kiosk.config import Config

from .conftest import REPO


def run_check(capsys, *args):
    code = main([*args, "check", "--json", "--headless"])
    checks = {c["name"]: c for c in json.loads(capsys.readouterr().out)["checks"]}
    return code, checks


def test_all_pass_with_a_replay_camera_and_mock_gpio(capsys, photo_dir):
    code = main(["check", "--headless", "--camera", str(photo_dir / "astronaut.jpg")])
    out = capsys.readouterr().out
    assert code == 0, out
    assert [line.split()[1].rstrip(":") for line in out.splitlines()] == [
        "config", "runtime", "models", "font", "camera", "display", "gpio", "versions"]
    assert all(line.startswith("✓") for line in out.splitlines())
    assert "ai-edge-litert" in out and "built-in portrait: woman" in out


def test_no_camera_fails_that_check_only(capsys, tmp_path):
    code = main(["check", "--json", "--headless", "--camera", str(tmp_path / "missing")])
    checks = {c["name"]: c for c in json.loads(capsys.readouterr().out)["checks"]}
    assert code == 1 and not checks["camera"]["ok"] and "neither auto" in checks["camera"]["detail"]
    assert checks["models"]["ok"] and checks["font"]["ok"]


def test_broken_model_file_fails_the_models_check(capsys, tmp_path, photo_dir):
    models = tmp_path / "models"
    shutil.copytree(REPO / "models", models, ignore=shutil.ignore_patterns("README.md", "float", "checkpoint.pt"))
    name = next(iter(json.loads((models / "manifest.json").read_text())["models"].values()))["file"]
    (models / name).write_bytes(b"garbage")
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[models]\ndir = "{models}"\n')
    code, checks = run_check(capsys, "--config", str(cfg))
    assert code == 1 and not checks["models"]["ok"]
    assert f"{name}: content does not match manifest" in checks["models"]["detail"]


def test_missing_font_fails_the_font_check(capsys, tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[screen]\nfont = "/nonexistent/NanumGothic.ttf"\n')
    code, checks = run_check(capsys, "--config", str(cfg))
    assert code == 1 and not checks["font"]["ok"] and "fonts-nanum" in checks["font"]["detail"]


def test_gpio_pin_claimed_or_busy(capsys):
    from gpiozero import Button, Device

    code, checks = run_check(capsys)
    assert checks["gpio"]["ok"] and "GPIO17 claimed" in checks["gpio"]["detail"]
    holder = Button(17)
    try:
        _, checks = run_check(capsys)
        assert not checks["gpio"]["ok"] and "GPIO17" in checks["gpio"]["detail"]
    finally:
        holder.close()
        Device.pin_factory.reset()


def test_broken_config_is_reported_as_a_check(capsys, tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[booth]\ntriger = \"auto\"\n")
    code, checks = run_check(capsys, "--config", str(cfg))
    assert code == 1 and not checks["config"]["ok"] and "did you mean 'trigger'" in checks["config"]["detail"]
    assert checks["models"]["ok"]  # the other checks still ran, on defaults


def test_bad_version_combinations_are_flagged(monkeypatch):
    import importlib.machinery

    import cv2
    import numpy

    from kiosk.tools.check import check_combinations

    monkeypatch.setattr(cv2, "__version__", "5.0.0")
    ok, detail = check_combinations(None)
    assert not ok and "no Haar cascades" in detail
    monkeypatch.setattr(cv2, "__version__", "4.11.0")
    monkeypatch.setattr(numpy, "__version__", "2.1.0")
    spec = importlib.machinery.ModuleSpec("picamera2", None, origin="/usr/lib/python3/dist-packages/picamera2/__init__.py")
    monkeypatch.setattr("importlib.util.find_spec", lambda name: spec if name == "picamera2" else None)
    ok, detail = check_combinations(None)
    assert not ok and "numpy 2.1.0 beside apt's picamera2" in detail


def test_a_camera_that_hangs_fails_within_the_timeout(monkeypatch):
    import threading
    import time

    from kiosk import cameras
    from kiosk.tools.check import check_camera
    from kiosk.config import Config

    class Hanging(cameras.Camera):
        name = "hanging"
        release = threading.Event()

        def read(self):
            self.release.wait(10)
            raise cameras.CameraUnavailable("gave up")

    monkeypatch.setattr(cameras, "open_camera", lambda *a, **k: Hanging())
    started = time.monotonic()
    ok, detail = check_camera(Config(), "x", timeout_s=0.3)
    Hanging.release.set()
    assert not ok and "no frame within 0.3 s" in detail and time.monotonic() - started < 2


def test_display_fails_when_sdl_would_draw_where_nobody_sees(capsys, photo_dir):
    code, checks = run_check(capsys, "--config", str(REPO / "config.toml"))  # with --headless: fine
    assert checks["display"]["ok"]
    code = main(["check", "--json", "--camera", str(photo_dir / "astronaut.jpg")])  # SDL_VIDEODRIVER=dummy here
    checks = {c["name"]: c for c in json.loads(capsys.readouterr().out)["checks"]}
    assert code == 1 and not checks["display"]["ok"] and "'dummy'" in checks["display"]["detail"]


def test_inside_a_running_booth_the_devices_it_holds_are_not_checked_again(monkeypatch):
    from kiosk.tools import check

    monkeypatch.setattr(check, "check_camera", lambda *a: pytest.fail("the booth holds the camera"))
    monkeypatch.setattr(check, "check_gpio", lambda *a: pytest.fail("the booth holds the pin"))
    results = check.run_checks(Config(), skip=check.HELD_BY_THE_BOOTH)
    assert [r.name for r in results] == ["config", "runtime", "models", "font", "versions"]
    assert all(r.ok for r in results), results
