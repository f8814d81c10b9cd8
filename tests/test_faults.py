"""Faults the booth must survive, each injected: inference errors, start-up failures, signals,
hostile photos under a memory cap, and a short soak of the whole loop."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest
from PIL import Image

from kiosk import texts
from kiosk.booth import Phase
from kiosk.chain import ModelError
from kiosk.stability import FaceState

from .conftest import REPO
from .conftest import step_until

ENV = dict(os.environ, SDL_VIDEODRIVER="dummy", GPIOZERO_PIN_FACTORY="mock")


def kiosk(*args, env=ENV, timeout=90):
    return subprocess.run([sys.executable, "-m", "kiosk", *args], capture_output=True, text=True,
                          env=env, timeout=timeout, cwd=REPO)


def one_clear_line(run):
    lines = [line for line in run.stderr.splitlines() if line.startswith("kiosk:")]
    return run.returncode != 0 and len(lines) == 1 and "Traceback" not in run.stderr


@pytest.mark.parametrize("failure", [RuntimeError("XNNPACK delegate failed"), ModelError("the man model returned nan")])
def test_inference_failure_gives_a_message_and_returns_to_live(booth_app, photo_dir, monkeypatch, failure):
    app = booth_app(photo_dir / "astronaut.jpg")

    def broken(*crops):
        raise failure

    monkeypatch.setattr(app.chain, "score", broken)
    step_until(app, lambda: app.tracker.state is FaceState.STEADY)
    import pygame

    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_SPACE))
    step_until(app, lambda: app.booth.phase is Phase.MESSAGE)
    assert app.booth.message == texts.SCORING_FAILED
    step_until(app, lambda: app.booth.phase is Phase.LIVE)


def test_corrupt_model_at_start_up(tmp_path):
    models = tmp_path / "models"
    shutil.copytree(REPO / "models", models, ignore=shutil.ignore_patterns("float", "checkpoint.pt"))
    name = next(iter(json.loads((models / "manifest.json").read_text())["models"].values()))["file"]
    (models / name).write_bytes(b"\x00" * 100)
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[models]\ndir = "{models}"\n')
    run = kiosk("--config", str(cfg), "run", "--demo", "--windowed")
    assert one_clear_line(run) and name in run.stderr


def test_missing_models_and_unreadable_config_at_start_up(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[models]\ndir = "{tmp_path / "none"}"\n')
    run = kiosk("--config", str(cfg), "run", "--demo", "--windowed")
    assert one_clear_line(run) and "manifest.json not found" in run.stderr
    cfg.write_bytes(b"\xff\xfe not utf-8 [[[")
    run = kiosk("--config", str(cfg), "run", "--demo")
    assert one_clear_line(run) and str(cfg) in run.stderr


def test_no_display_at_start_up():
    run = kiosk("run", "--demo", env=dict(ENV, SDL_VIDEODRIVER="no-such-driver"))
    assert one_clear_line(run) and run.returncode == 1


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signals_end_the_booth_within_two_seconds_in_any_state(sig, tmp_path):
    # trigger "auto" with no countdown: the demo visitor keeps the booth cycling through its states.
    cfg = tmp_path / "c.toml"
    cfg.write_text('[booth]\ntrigger = "auto"\ncountdown_s = 1\nsteady_s = 0.2\nresult_s = 1.0\n')
    proc = subprocess.Popen([sys.executable, "-m", "kiosk", "--config", str(cfg), "run", "--demo", "--windowed"],
                            cwd=REPO, stderr=subprocess.PIPE, text=True, env=ENV)
    try:
        for line in proc.stderr:
            if "visit: result" in line:  # mid-flow: a result was just shown
                break
        sent = time.monotonic()
        proc.send_signal(sig)
        assert proc.wait(timeout=10) == 0 and time.monotonic() - sent < 2.0
    finally:
        proc.kill()


def test_hostile_photos_one_line_each_under_800_mb(tmp_path, astronaut_bgr):
    d = tmp_path / "hostile"
    d.mkdir()
    (d / "01-empty.jpg").write_bytes(b"")
    ok, jpg = cv2.imencode(".jpg", astronaut_bgr)
    (d / "02-truncated.jpg").write_bytes(jpg.tobytes()[:3000])
    (d / "03-random.png").write_bytes(np.random.default_rng(3).bytes(10000))
    (d / "04-text.jpg").write_text("hello")
    cv2.imwrite(str(d / "05-one-pixel.png"), np.zeros((1, 1, 3), np.uint8))
    huge = cv2.resize(astronaut_bgr, (12000, 12000))  # her face at about x 4150, 2200 px wide
    cv2.imwrite(str(d / "06-huge.jpg"), huge, [cv2.IMWRITE_JPEG_QUALITY, 60])
    cv2.imwrite(str(d / "07-huge.png"), huge[:, :, 0], [cv2.IMWRITE_PNG_COMPRESSION, 1])
    del huge
    rgb = Image.fromarray(astronaut_bgr[:, :, ::-1])
    rgb.save(d / "08-animated.gif", save_all=True, append_images=[rgb.rotate(180)])
    cv2.imwrite(str(d / "09-16bit.png"), astronaut_bgr.astype(np.uint16) * 257)
    cv2.imwrite(str(d / "10-grey.png"), cv2.cvtColor(astronaut_bgr, cv2.COLOR_BGR2GRAY))
    cv2.imwrite(str(d / "11-rgba.png"), cv2.cvtColor(astronaut_bgr, cv2.COLOR_BGR2BGRA))
    exif = Image.Exif()
    exif[0x0112] = 8  # stored rotated: needs a 90-degree turn
    Image.fromarray(np.ascontiguousarray(np.rot90(astronaut_bgr[:, :, ::-1], -1))).save(d / "12-exif.jpg", exif=exif)

    # The scorer reports its own peak as it exits: VmHWM belongs to this process image alone, while
    # getrusage's ru_maxrss carries the parent's (pytest's) peak across fork and exec.
    probe = ("import re, sys; from kiosk.cli import main; code = main(sys.argv[1:]); "
             "hwm = re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1); "
             "print('peak_kb', hwm, file=sys.stderr); sys.exit(code)")
    run = subprocess.run([sys.executable, "-c", probe, "score", "--json", str(d)], capture_output=True, text=True,
                         env=ENV, timeout=300, cwd=REPO)
    peak_mb = int(run.stderr.split("peak_kb")[-1].split()[0]) / 1024
    records = {os.path.basename(r["path"]): r for r in map(json.loads, run.stdout.splitlines())}
    assert len(records) == 12 and run.returncode == 1
    for name in ("01-empty.jpg", "02-truncated.jpg", "03-random.png", "04-text.jpg", "07-huge.png"):
        assert records[name]["status"] == "error" and records[name]["error"], name
    assert records["05-one-pixel.png"]["status"] == "no_face"
    for name in ("06-huge.jpg", "08-animated.gif", "09-16bit.png", "10-grey.png", "11-rgba.png", "12-exif.jpg"):
        assert records[name]["status"] == "ok" and records[name]["gender"] == "woman", name
    # The box is in the original's pixels: the reduced decode's box, scaled back up.
    from kiosk.config import Config
    from kiosk.faces import FaceDetector, largest_face_crop
    from kiosk.photo import read_photo

    photo = read_photo(d / "06-huge.jpg", Config().scoring.max_megapixels)
    detection, _ = largest_face_crop(photo.image, FaceDetector(Config().detection), 0.25, 32)
    k = photo.scale
    assert k > 1 and records["06-huge.jpg"]["box"] == [v * k for v in detection.chosen.as_list()]
    assert records["12-exif.jpg"]["box"][0] < 300  # the face found upright, where it is after the turn
    assert peak_mb < 800, f"peak {peak_mb:.0f} MB"


def test_short_soak_of_the_whole_loop():
    run = kiosk("soak", "--frames", "300", "--cycles", "5", "--json", timeout=300)
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["frames"] >= 300 and report["results"] >= 5
