"""sd_notify: READY after the first frame, WATCHDOG only while camera frames arrive."""

import dataclasses
import time

from kiosk.booth.notify import Notifier

from .conftest import received


def test_notifier_messages_and_watchdog_rate(notify_socket):
    path, sock = notify_socket
    n = Notifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "2000000"})
    n.ready("up")
    n.ready("again")  # only once
    for t in (0.0, 0.5, 0.99, 1.0, 1.5, 2.0):
        n.pet(t)
    assert received(sock) == ["READY=1\nSTATUS=up", "WATCHDOG=1", "WATCHDOG=1", "WATCHDOG=1"]


def test_outside_systemd_nothing_is_sent():
    n = Notifier({})
    assert not n.send("READY=1") and n.watchdog_s == 0.0
    assert Notifier({"NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "5", "WATCHDOG_PID": "1"}).watchdog_s == 0.0


def test_the_booth_pets_while_frames_arrive_and_stops_when_the_camera_hangs(notify_socket, astronaut_bgr,
                                                                            monkeypatch):
    import threading

    import kiosk.booth.app as app_module
    import kiosk.booth.feed as feed_module
    from kiosk.booth.app import App
    from kiosk.cameras import Camera, make_frame
    from kiosk.config import Config

    release, left = threading.Event(), [40]

    class HangsAfter40Frames(Camera):
        def read(self):
            if left[0] == 0:
                release.wait(30)  # stuck in the driver, as a wedged camera would be
            left[0] -= 1
            time.sleep(0.01)  # the camera's frame rate
            return make_frame(astronaut_bgr, 320, time.monotonic())

    path, sock = notify_socket
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    monkeypatch.setenv("WATCHDOG_USEC", "100000")  # 0.1 s: pets every 0.05 s
    monkeypatch.setattr(app_module, "open_camera", lambda *args: HangsAfter40Frames())
    monkeypatch.setattr(feed_module, "HANG_S", 0.5)
    c = Config()
    c = dataclasses.replace(c, camera=dataclasses.replace(c.camera, stall_s=0.3),
                            button=dataclasses.replace(c.button, gpio=False),
                            screen=dataclasses.replace(c.screen, width=320, height=240))
    app = App(c, "unused", windowed=True, headless=True)
    try:
        assert app.run_until(lambda: app.camera_ok, 30)
        assert app.run_until(lambda: not app.camera_ok, 30)  # the frames stop: the read hangs
        messages = received(sock)
        assert messages[0].startswith("READY=1") and messages.count("WATCHDOG=1") >= 4
        hung = time.monotonic()
        app.run_until(lambda: time.monotonic() - hung > 0.6, 10)  # past HANG_S
        received(sock)
        app.run_until(lambda: time.monotonic() - hung > 1.2, 10)
        assert "WATCHDOG=1" not in received(sock)  # systemd will restart the booth
    finally:
        release.set()
        app.close()


def test_a_full_notify_queue_never_blocks_the_booth(notify_socket):
    """systemd not draining its socket (or a slow Pi petting every frame) must not freeze the picture."""
    import threading

    path, sock = notify_socket  # nobody reads it: the kernel queue fills after a few datagrams
    n = Notifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "100000"})
    done = threading.Event()

    def pet_a_lot():
        for i in range(200):
            n.pet(i * 0.05)  # every call is due: as when each frame takes >= half the watchdog period
        done.set()

    threading.Thread(target=pet_a_lot, daemon=True).start()
    finished = done.wait(30)
    if not finished:
        received(sock)  # drain, so a blocked sender can end
    assert finished, "a notify send blocked on a full socket queue"
    assert 1 <= received(sock).count("WATCHDOG=1") < 200  # some went, the rest were dropped


def test_status_is_sent_only_when_it_changes(notify_socket):
    path, sock = notify_socket
    n = Notifier({"NOTIFY_SOCKET": path})
    for status in ("camera missing", "camera missing", "booth running"):
        n.update_status(status)
    assert received(sock) == ["STATUS=camera missing", "STATUS=booth running"]
