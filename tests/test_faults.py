"""Faults the booth must survive, each injected: inference errors, start-up failures, signals, and a
short soak of the whole loop (hostile photos: tests/test_intake.py)."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from kiosk.texts import Texts
from kiosk.booth.flow import Phase
from kiosk.chain import ModelError
from kiosk.booth.stability import FaceState

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
    from kiosk.chain import Chain

    def broken(*crops):
        raise failure

    monkeypatch.setattr(Chain, "score", broken)
    app = booth_app(photo_dir / "astronaut.jpg")
    step_until(app, lambda: app.face is FaceState.STEADY)
    import pygame

    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_SPACE))
    step_until(app, lambda: app.phase is Phase.MESSAGE)
    assert app.message == Texts.of()["scoring_failed"]
    step_until(app, lambda: app.phase is Phase.LIVE)


def test_corrupt_model_at_start_up(tmp_path):
    models = tmp_path / "models"
    shutil.copytree(REPO / "models", models, ignore=shutil.ignore_patterns("float", "checkpoint.pt"))
    name = next(iter(json.loads((models / "manifest.json").read_text())["models"].values()))["file"]
    (models / name).write_bytes(b"\x00" * 100)
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[models]\ndir = "{models}"\n')
    run = kiosk("--config", str(cfg), "run", "--demo", "--windowed", "--headless")
    assert one_clear_line(run) and name in run.stderr


def test_missing_models_and_unreadable_config_at_start_up(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[models]\ndir = "{tmp_path / "none"}"\n')
    run = kiosk("--config", str(cfg), "run", "--demo", "--windowed", "--headless")
    assert one_clear_line(run) and "manifest.json not found" in run.stderr
    cfg.write_bytes(b"\xff\xfe not utf-8 [[[")
    run = kiosk("--config", str(cfg), "run", "--demo")
    assert one_clear_line(run) and str(cfg) in run.stderr


def test_no_display_at_start_up():
    run = kiosk("run", "--demo", env=dict(ENV, SDL_VIDEODRIVER="no-such-driver"))
    assert one_clear_line(run) and run.returncode == 2


def test_every_command_reports_broken_models_and_data_as_one_line(tmp_path):
    """One error rule: a KioskError, caught once in cli.main, exit status 2."""
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[models]\ndir = "{tmp_path / "none"}"\n')
    for command in (["bench", "--frames", "5"], ["soak", "--frames", "5", "--cycles", "1"], ["eval", str(tmp_path)],
                    ["score", str(tmp_path)]):
        run = kiosk("--config", str(cfg), *command)
        assert one_clear_line(run) and run.returncode == 2 and "manifest.json not found" in run.stderr, command
    run = kiosk("train", str(tmp_path), "--out", str(tmp_path / "out"))
    assert one_clear_line(run) and run.returncode == 2 and "expected labels.txt and images/" in run.stderr


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signals_end_the_booth_within_two_seconds_in_any_state(sig, tmp_path):
    # trigger "auto" with no countdown: the demo visitor keeps the booth cycling through its states.
    cfg = tmp_path / "c.toml"
    cfg.write_text('[booth]\ntrigger = "auto"\ncountdown_s = 1\nsteady_s = 0.2\nresult_s = 1.0\n')
    proc = subprocess.Popen([sys.executable, "-m", "kiosk", "--config", str(cfg), "run", "--demo", "--windowed",
                             "--headless"], cwd=REPO, stderr=subprocess.PIPE, text=True, env=ENV)
    try:
        for line in proc.stderr:
            if "visit: result" in line:  # mid-flow: a result was just shown
                break
        sent = time.monotonic()
        proc.send_signal(sig)
        assert proc.wait(timeout=10) == 0 and time.monotonic() - sent < 2.0
    finally:
        proc.kill()


def test_short_soak_of_the_whole_loop():
    run = kiosk("soak", "--frames", "300", "--cycles", "5", "--json", timeout=300)
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["frames"] >= 300 and report["results"] >= 5


def test_soak_table_says_pass_or_fail_for_each_check():
    from kiosk.tools.soak import table, verdict

    report = {"frames": 300, "captures": 5, "results": 5, "seconds": 9.0,
              "rss_mb": {"after_warmup": 150.0, "end": 171.0, "growth": 21.0, "peak": 175.0},
              "open_files": {"after_warmup": 11, "end": 11}, "threads": {"after_warmup": 4, "end": 5}}
    lines = table(report).splitlines()
    assert lines[0] == "soak: 300 frames in 9.0 s"
    assert [line[:4] for line in lines[1:]] == ["PASS", "FAIL", "PASS", "FAIL"]
    assert verdict(report) == ["memory growth after warm-up <= 10 MB: +21.0 MB (150.0 -> 171.0 MB, peak 175.0 MB)",
                               "threads do not grow: 4 -> 5"]


def test_training_without_pytorch_says_how_to_get_it_in_one_line(monkeypatch):
    """A Pi's install has no training extra (seen under emulated arm64: a traceback before)."""
    import sys

    from kiosk.errors import KioskError
    from kiosk.training.train import training_stack

    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` raises ImportError
    with pytest.raises(KioskError, match=r"needs PyTorch.*\.\[train\]"):
        training_stack()
