"""The booth end to end, headless: SDL's dummy display, a file camera, gpiozero's mock pins and the
real models and fonts."""

import dataclasses
import os
import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest

from kiosk.booth.flow import Phase
from kiosk.cameras import Camera, CameraUnavailable, make_frame
from kiosk.config import Config
from kiosk.booth.fonts import FontError, checked_font, find_font, missing_glyphs
from kiosk.booth.stability import FaceState

from .conftest import REPO, booth_config as config, received, step_until


def test_gpio_press_leads_to_a_result_with_the_real_models(booth_app, photo_dir):
    from gpiozero import Device

    app = booth_app(photo_dir / "astronaut.jpg")
    visits = []
    app.on_visit(visits.append)
    step_until(app, lambda: app.face is FaceState.STEADY)
    pressed = time.monotonic()
    Device.pin_factory.pin(17).drive_low()  # the visitor presses the big button (BCM 17, mock pins)
    Device.pin_factory.pin(17).drive_high()
    step_until(app, lambda: app.phase is Phase.RESULT)
    waited_ms = (time.monotonic() - pressed) * 1000
    v = app.verdict
    assert v.gender == "woman" and v.rank in range(1, 6) and v.text == Config().wording.rank_texts[v.rank - 1]
    [visit] = visits
    assert visit.outcome == "result" and (visit.rank, visit.gender, visit.score) == (v.rank, v.gender, v.score)
    assert 0 < visit.press_to_end_ms <= waited_ms  # measured from the press, whatever the machine's speed
    assert visit.chain_ms > 0


def test_led_lights_when_a_steady_face_is_ready(booth_app, photo_dir):
    cfg = config()
    cfg = dataclasses.replace(cfg, button=dataclasses.replace(cfg.button, led_pin=27))
    from gpiozero import Device

    app = booth_app(photo_dir / "astronaut.jpg", cfg)
    app.step()
    assert not Device.pin_factory.pin(27).state
    step_until(app, lambda: app.face is FaceState.STEADY)
    app.step()
    assert Device.pin_factory.pin(27).state


@pytest.mark.parametrize("photo, face", [("blank.png", FaceState.NONE), ("two.png", FaceState.SEVERAL)])
def test_a_press_without_a_single_face_waits_for_one_then_drops_without_scolding(booth_app, photo_dir, photo,
                                                                                 face):
    import pygame

    from kiosk.booth.flow import Event

    app = booth_app(photo_dir / photo, config(countdown_s=3, press_wait_s=0.5))
    visits = []
    app.on_visit(visits.append)
    step_until(app, lambda: app.camera_ok and app.face is face)
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_SPACE))
    assert Event.WAITING in app.step() and app.phase is Phase.WAITING  # the hint, no countdown
    step_until(app, lambda: app.phase is Phase.LIVE)
    assert app.face is face and app.verdict is None and visits == []


def test_busy_gpio_pin_leaves_keyboard_working(booth_app, photo_dir, caplog):
    from gpiozero import Button

    blocker = Button(17)  # someone else holds the pin
    try:
        app = booth_app(photo_dir / "astronaut.jpg")
        assert any("GPIO button unavailable (GPIO17" in r.message and "keyboard and touch still work" in r.message
                   for r in caplog.records)
        import pygame

        step_until(app, lambda: app.face is FaceState.STEADY)
        pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONDOWN, button=1, pos=(5, 5)))
        step_until(app, lambda: app.phase is Phase.RESULT)
    finally:
        blocker.close()


class FlakyCamera(Camera):
    """Delivers a few frames, then fails; reopening fails twice (unplugged), then works again."""

    def __init__(self, image, frames):
        self.image, self.left = image, frames

    def read(self):
        time.sleep(0.01)
        if self.left == 0:
            raise CameraUnavailable("cable pulled")
        self.left -= 1
        return make_frame(self.image, 320, time.monotonic())


def test_camera_loss_shows_the_screen_and_recovers(booth_app, astronaut_bgr, monkeypatch):
    import kiosk.booth.app as app_module

    opens = []

    def opener(*args):
        opens.append(time.monotonic())
        if len(opens) == 1:
            return FlakyCamera(astronaut_bgr, 20)
        if len(opens) <= 3:
            raise CameraUnavailable("no camera on /dev/video0")
        return FlakyCamera(astronaut_bgr, 10**9)

    monkeypatch.setattr(app_module, "open_camera", opener)
    cfg = config()
    cfg = dataclasses.replace(cfg, camera=dataclasses.replace(cfg.camera, stall_s=0.3, retry_max_s=0.5))
    app = booth_app("unused", cfg)
    step_until(app, lambda: app.phase is Phase.LIVE and app.camera_ok)
    step_until(app, lambda: app.phase is Phase.NO_CAMERA)
    step_until(app, lambda: app.phase is Phase.LIVE and app.camera_ok)
    assert len(opens) == 4
    assert opens[3] - opens[2] >= 0.45  # waited (backoff) between attempts rather than spinning


def test_captures_stay_in_memory_unless_the_operator_turns_saving_on(booth_app, photo_dir, tmp_path):
    import pygame

    folder = tmp_path / "captures"
    for save, expected in ((False, 0), (True, 2)):
        cfg = config(save_captures=save, captures_dir=str(folder), max_captures=2)
        app = booth_app(photo_dir / "astronaut.jpg", cfg)
        for _ in range(3):
            step_until(app, lambda: app.face is FaceState.STEADY and app.phase is Phase.LIVE)
            pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_RETURN))
            step_until(app, lambda: app.phase is Phase.RESULT)
            pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_RETURN))
            step_until(app, lambda: app.phase is Phase.LIVE)
        app.close()
        saved = len(list(folder.glob("*.jpg"))) if folder.exists() else 0
        assert saved == expected


def test_hangul_self_test_passes_with_the_installed_font_and_fails_without():
    from kiosk.texts import Texts

    font = checked_font("", Texts.of().all())
    assert missing_glyphs(font, ["가나다 ★"]) == ""
    import pygame

    latin_only = os.path.join(os.path.dirname(pygame.__file__), "freesansbold.ttf")
    with pytest.raises(FontError, match="lacks glyphs.*apt install fonts-nanum"):
        checked_font(latin_only, Texts.of().all())
    with pytest.raises(FontError, match="file not found"):
        find_font("/nonexistent/font.ttf")


def test_missing_font_stops_the_booth_with_one_line(tmp_path):
    import pygame

    cfg = tmp_path / "c.toml"
    latin_only = os.path.join(os.path.dirname(pygame.__file__), "freesansbold.ttf")
    cfg.write_text(f'[screen]\nfont = "{latin_only}"\n')
    run = subprocess.run([sys.executable, "-m", "kiosk", "--config", str(cfg), "run", "--demo", "--windowed",
                          "--headless"], capture_output=True, text=True, timeout=60,
                         env=dict(os.environ, SDL_VIDEODRIVER="dummy"))
    assert run.returncode == 2
    lines = [line for line in run.stderr.splitlines() if line.startswith("kiosk:")]
    assert len(lines) == 1 and "fonts-nanum" in lines[0] and "Traceback" not in run.stderr


def test_no_camera_at_start_runs_the_booth_on_the_camera_screen_until_stopped(tmp_path):
    """A camera missing at boot is not fatal: the booth comes up, says so and keeps trying."""
    env = dict(os.environ, SDL_VIDEODRIVER="dummy", GPIOZERO_PIN_FACTORY="mock")
    proc = subprocess.Popen([sys.executable, "-m", "kiosk", "run", "--windowed", "--headless", "--camera",
                             str(tmp_path / "none")], stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    try:
        lines = []
        for line in proc.stderr:
            lines.append(line)
            if "booth running" in line:
                break
        time.sleep(1.0)
        assert proc.poll() is None, "".join(lines)  # still running, not exit 1
        deadline = time.monotonic() + 60
        while not any("camera unavailable" in line and "neither auto, picamera2, opencv" in line for line in lines):
            assert time.monotonic() < deadline, "".join(lines)
            lines.append(proc.stderr.readline())
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()


def test_a_booth_that_nobody_could_see_refuses_to_run(tmp_path):
    """SDL's dummy or offscreen driver (no DISPLAY, no kmsdrm) unless --headless says it is meant."""
    for driver in ("dummy", "offscreen"):
        run = subprocess.run([sys.executable, "-m", "kiosk", "run", "--demo", "--windowed"], capture_output=True,
                             text=True, timeout=60, env=dict(os.environ, SDL_VIDEODRIVER=driver), cwd=tmp_path)
        lines = [line for line in run.stderr.splitlines() if line.startswith("kiosk:")]
        assert run.returncode == 2 and len(lines) == 1 and f"'{driver}'" in lines[0] and "--headless" in lines[0]


def test_start_without_camera_shows_the_camera_screen_retries_and_recovers(booth_app, astronaut_bgr, monkeypatch,
                                                                         notify_socket):
    import pygame

    import kiosk.booth.app as app_module

    opens = []
    arrived = [False]

    def opener(*args):
        opens.append(time.monotonic())
        if not arrived[0]:
            raise CameraUnavailable("no camera number 0 found")
        return FlakyCamera(astronaut_bgr, 10**9)

    notify, sock = notify_socket
    monkeypatch.setenv("NOTIFY_SOCKET", notify)
    monkeypatch.setenv("WATCHDOG_USEC", "200000")
    monkeypatch.setattr(app_module, "open_camera", opener)
    cfg = config()
    cfg = dataclasses.replace(cfg, camera=dataclasses.replace(cfg.camera, stall_s=0.3, retry_max_s=0.2))
    app = booth_app("unused", cfg)
    step_until(app, lambda: len(opens) >= 4)  # it keeps trying
    app.step()
    assert app.phase is Phase.NO_CAMERA
    screen = pygame.surfarray.array3d(pygame.display.get_surface())
    assert screen.max() > 100  # the camera screen's text, not a black screen
    messages = received(sock)
    assert messages[0].startswith("READY=1\nSTATUS=camera unavailable")  # started: the screen shows something
    assert "WATCHDOG=1" in messages  # retrying is healthy: systemd must not restart it
    arrived[0] = True  # the camera is plugged in
    step_until(app, lambda: app.phase is Phase.LIVE and app.camera_ok)


class HangingCamera(Camera):
    def read(self):
        time.sleep(30)


def test_a_hung_camera_read_stops_the_watchdog_but_a_broken_opener_does_not_kill_the_feed():
    from kiosk.booth.feed import CameraFeed

    feed = CameraFeed(HangingCamera, stall_s=0.2, retry_max_s=0.2, hang_s=1.0).start()
    assert feed.healthy
    deadline = time.monotonic() + 20  # polled, not timed: emulated arm64 is 10-50x slower
    while feed.healthy and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not feed.healthy  # only a restart frees a read stuck in the driver

    def broken():
        raise AttributeError("'Picamera2' object has no attribute 'allocator'")  # picamera2 0.3.38

    feed = CameraFeed(broken, stall_s=0.2, retry_max_s=0.1).start()
    deadline = time.monotonic() + 20
    while "AttributeError" not in feed.problem and time.monotonic() < deadline:
        time.sleep(0.05)
    assert feed.healthy and "AttributeError" in feed.problem  # the thread lives on and keeps trying
    feed.stop()


def test_sigterm_ends_the_booth_cleanly_within_two_seconds():
    env = dict(os.environ, SDL_VIDEODRIVER="dummy", GPIOZERO_PIN_FACTORY="mock")
    proc = subprocess.Popen([sys.executable, "-m", "kiosk", "run", "--demo", "--windowed", "--headless"],
                            cwd=REPO,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 60
        for line in proc.stderr:  # wait until the booth is up
            if "booth running" in line or time.monotonic() > deadline:
                break
        time.sleep(1.0)
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=10)
        assert time.monotonic() - sent < 2.0 and code == 0
    finally:
        proc.kill()


def shoot(tmp_path, state):
    out = tmp_path / f"{state}.png"
    run = subprocess.run([sys.executable, "-m", "kiosk", "screenshot", "--state", state, "--out", str(out)],
                         capture_output=True, text=True, timeout=600, env=dict(os.environ, SDL_VIDEODRIVER="dummy"))
    assert run.returncode == 0, run.stderr
    image = cv2.imread(str(out))
    assert image.shape == (1080, 1920, 3) and image.std() > 10
    return image


def test_screenshots_differ_by_state(tmp_path):
    """Each state really shows its own screen (idle is dimmed, countdown has a big number...)."""
    images = {s: shoot(tmp_path, s) for s in ("idle", "live", "countdown", "result", "paused")}
    for dimmed in ("idle", "paused"):  # the attract screen; the pause over the live picture
        assert images[dimmed].mean() < images["live"].mean() * 0.7, dimmed
    for a, b in (("live", "countdown"), ("live", "result"), ("countdown", "result")):
        assert np.abs(images[a].astype(int) - images[b].astype(int)).mean() > 1, (a, b)


def test_camera_lost_during_a_countdown_aborts_it_and_recovers(booth_app, astronaut_bgr, monkeypatch):
    import pygame

    import kiosk.booth.app as app_module

    opens = []
    frames_before_failure = [10**9]

    class Switchable(FlakyCamera):
        def read(self):
            if frames_before_failure[0] <= 0 and len(opens) == 1:
                raise CameraUnavailable("cable pulled")
            frames_before_failure[0] -= 1
            return super().read()

    def opener(*args):
        opens.append(time.monotonic())
        if len(opens) in (2, 3):
            raise CameraUnavailable("no camera")
        return Switchable(astronaut_bgr, 10**9)

    monkeypatch.setattr(app_module, "open_camera", opener)
    cfg = config(countdown_s=3)
    cfg = dataclasses.replace(cfg, camera=dataclasses.replace(cfg.camera, stall_s=0.3, retry_max_s=0.5))
    app = booth_app("unused", cfg)
    step_until(app, lambda: app.face is FaceState.STEADY)
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_SPACE))
    step_until(app, lambda: app.phase is Phase.COUNTDOWN)
    frames_before_failure[0] = 0  # the cable comes out mid-countdown
    step_until(app, lambda: app.phase is Phase.NO_CAMERA)
    step_until(app, lambda: app.phase is Phase.LIVE and app.camera_ok)
    assert app.verdict is None and len(opens) == 4


def test_a_photo_folder_holds_each_photo_and_the_n_key_steps_without_pressing(booth_app, tmp_path, astronaut_bgr):
    import pygame

    cv2.imwrite(str(tmp_path / "1.jpg"), astronaut_bgr)
    cv2.imwrite(str(tmp_path / "2.png"), np.full((300, 400, 3), 200, np.uint8))
    cfg = config()
    app = booth_app(tmp_path, dataclasses.replace(cfg, camera=dataclasses.replace(cfg.camera, photo_s=60.0)))
    step_until(app, lambda: app.face is FaceState.STEADY)  # the same photo long enough to hold still
    app.run_until(lambda: False, 0.5)
    assert app.face is FaceState.STEADY
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_n))
    step_until(app, lambda: app.face is FaceState.NONE)  # the empty photo comes next
    assert app.phase is Phase.LIVE  # stepping is not a press


def test_a_mouse_wheel_is_no_press_but_a_click_is(booth_app, photo_dir):
    import pygame

    from kiosk.booth.flow import Event

    app = booth_app(photo_dir / "astronaut.jpg")
    step_until(app, lambda: app.face is FaceState.STEADY)
    pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONDOWN, button=4, pos=(5, 5)))  # SDL's wheel, as a button
    pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONDOWN, button=5, pos=(5, 5)))
    pygame.event.post(pygame.event.Event(pygame.MOUSEWHEEL, x=0, y=-1))
    assert Event.COUNTDOWN not in app.step()
    pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONDOWN, button=1, pos=(5, 5)))
    assert Event.COUNTDOWN in app.step()


@pytest.mark.parametrize("allow_quit", [False, True])
def test_closing_the_window_quits_only_when_quitting_is_allowed(booth_app, photo_dir, allow_quit):
    import pygame

    cfg = config()
    app = booth_app(photo_dir / "astronaut.jpg",
                    dataclasses.replace(cfg, screen=dataclasses.replace(cfg.screen, allow_quit=allow_quit)))
    app.step()
    pygame.event.post(pygame.event.Event(pygame.QUIT))
    app.step()
    assert app.stopping is allow_quit


def test_the_window_is_titled_for_the_booth(booth_app, photo_dir):
    import pygame

    booth_app(photo_dir / "astronaut.jpg")
    assert pygame.display.get_caption()[0] == "faceeva kiosk"


def test_the_operator_pauses_from_another_thread_presses_are_ignored_and_resume_brings_the_booth_back(
        booth_app, photo_dir):
    import threading

    import pygame

    app = booth_app(photo_dir / "astronaut.jpg")
    visits = []
    app.on_visit(visits.append)
    step_until(app, lambda: app.face is FaceState.STEADY)
    operator = threading.Thread(target=app.pause)  # as the web server's thread does it
    operator.start()
    operator.join()
    assert app.paused and app.phase is Phase.LIVE  # asked for; taken by the next step, like a press
    app.step()
    assert app.paused and app.phase is Phase.PAUSED
    app.press()
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_SPACE))
    for _ in range(10):
        app.step()
    assert app.paused and visits == [] and app.verdict is None
    threading.Thread(target=app.resume).start()
    step_until(app, lambda: app.phase is Phase.LIVE)
    step_until(app, lambda: app.face is FaceState.STEADY)
    app.press()
    step_until(app, lambda: app.phase is Phase.RESULT)
    assert [v.outcome for v in visits] == ["result"]


def test_a_pause_asked_for_while_scoring_waits_for_the_verdict(booth_app, photo_dir):
    app = booth_app(photo_dir / "astronaut.jpg")
    visits = []
    app.on_visit(visits.append)
    step_until(app, lambda: app.face is FaceState.STEADY)
    app.press()
    step_until(app, lambda: app.phase is Phase.SCORING)
    app.pause()
    step_until(app, lambda: app.phase is not Phase.SCORING)
    assert app.phase is Phase.RESULT and [v.outcome for v in visits] == ["result"] and app.paused
    app.step()
    assert app.phase is Phase.PAUSED
