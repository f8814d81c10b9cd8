"""The screen a booth shows when it cannot start or has crashed (models broken, font missing, a bug):
the one-line reason in plain Latin text, so the screen at an event is never left black.

Under systemd (NOTIFY_SOCKET set) the process stays up for HOLD_S before it exits, so the unit's
restarts back off (one try every half a minute) instead of spinning, and the reason shows in
`systemctl status`. Run by hand, it returns at once: the terminal has the message already.
"""

from __future__ import annotations

import os
import textwrap
import time

import pygame

from .notify import Notifier

HOLD_S = 30.0
TITLE = "The booth cannot start"
HINT = "Staff: run  kiosk check  for what is missing. It tries again by itself."


def draw_error(surface: pygame.Surface, message: str) -> None:
    """The title, the wrapped reason and the hint, centred on black, in pygame's bundled font."""
    pygame.font.init()
    w, h = surface.get_size()
    unit = max(12, min(w, h) // 24)
    big, small = pygame.font.Font(None, round(unit * 1.6)), pygame.font.Font(None, unit)
    width = max(20, round(w / (unit * 0.5)))  # characters per line, roughly
    lines = [(TITLE, big, (255, 215, 80))] + [(part, small, (255, 255, 255))
                                               for part in textwrap.wrap(message, width)[:8]]
    lines.append((HINT, small, (160, 160, 160)))
    surface.fill((0, 0, 0))
    y = (h - sum(f.get_linesize() * 1.3 for _, f, _ in lines)) / 2
    for text, font, colour in lines:
        picture = font.render(text, True, colour)
        surface.blit(picture, picture.get_rect(midtop=(w // 2, round(y))))
        y += font.get_linesize() * 1.3


def show_error(message: str, windowed: bool = False, headless: bool = False, hold_s: float | None = None) -> None:
    """Show `message` for `hold_s` seconds (HOLD_S under systemd, else 0) while petting the watchdog."""
    notifier = Notifier()
    if hold_s is None:
        hold_s = HOLD_S if notifier.address else 0.0
    if hold_s <= 0:
        return
    notifier.update_status(f"cannot start: {message}")
    try:
        os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
        pygame.display.init()
        from .app import WINDOW_TITLE, no_screen_problem

        if not headless and no_screen_problem(pygame.display.get_driver()):
            raise pygame.error("no screen")
        pygame.display.set_caption(WINDOW_TITLE)
        surface = pygame.display.set_mode((640, 360) if windowed else (0, 0), 0 if windowed else pygame.FULLSCREEN)
        draw_error(surface, message)
        pygame.display.flip()
    except pygame.error:
        pass  # no screen either: wait all the same, so the restarts back off
    deadline = time.monotonic() + hold_s
    while time.monotonic() < deadline:
        notifier.pet(time.monotonic())
        if pygame.display.get_init():
            pygame.event.pump()  # keeps a desktop window responsive
        time.sleep(0.1)
    pygame.display.quit()
