"""The error screen a booth shows when it cannot start, and the back-off it gives systemd's restarts."""

import time

import pygame

from kiosk.booth.failsafe import TITLE, draw_error, show_error

from .conftest import received


def test_the_error_screen_shows_the_reason_not_black():
    pygame.font.init()
    surface = pygame.Surface((640, 360))
    draw_error(surface, "models/gender.tflite: content does not match manifest " * 4)
    pixels = pygame.surfarray.array3d(surface)
    assert pixels.max() > 200 and (pixels > 0).mean() > 0.01  # text drawn over the black


def test_under_systemd_it_holds_the_screen_and_says_why(notify_socket, monkeypatch):
    path, sock = notify_socket
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    monkeypatch.setenv("WATCHDOG_USEC", "100000")
    started = time.monotonic()
    show_error("no Hangul font found", windowed=True, headless=True, hold_s=0.5)
    assert time.monotonic() - started >= 0.5  # backs off before the process exits and systemd restarts it
    messages = received(sock)
    assert messages[0] == "STATUS=cannot start: no Hangul font found" and "WATCHDOG=1" in messages


def test_by_hand_it_returns_at_once(monkeypatch):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    started = time.monotonic()
    show_error("anything")
    assert time.monotonic() - started < 5 and TITLE
