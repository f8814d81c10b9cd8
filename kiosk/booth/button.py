"""The big push button (and its optional "ready" LED) on GPIO, through gpiozero.

gpiozero calls back on its own thread, so a press only posts a pygame event; the render loop does
the rest. A missing library, a busy or absent pin: the booth goes on with keyboard and touch, and
the log says why.
"""

from __future__ import annotations

import logging
import warnings
from typing import Callable

import pygame

from ..config import ButtonConfig

log = logging.getLogger(__name__)
PRESS = pygame.event.custom_type()
NO_GPIO = "no GPIO here: keyboard and touch only"  # gpiozero found no pin library: not a Pi


class GpioButton:
    def __init__(self, settings: ButtonConfig):
        self.button = self.led = None
        self.problem = ""
        if not settings.gpio:
            self.problem = "GPIO button off in config"
            return
        self.problem = claim(lambda: self._claim(settings), f"GPIO{settings.pin}",
                             "GPIO button unavailable (%s); keyboard and touch still work")
        if self.problem:
            self.close()

    def _claim(self, settings: ButtonConfig) -> None:
        from gpiozero import LED, Button

        self.button = Button(settings.pin, pull_up=settings.pull_up, bounce_time=settings.bounce_s or None)
        self.button.when_pressed = lambda: pygame.event.post(pygame.event.Event(PRESS))
        if settings.led_pin >= 0:
            self.led = LED(settings.led_pin)

    def ready_light(self, on: bool) -> None:
        if self.led is not None and self.led.is_lit != on:
            self.led.value = on

    def close(self) -> None:
        for device in (self.button, self.led):
            if device is not None:
                device.close()
        self.button = self.led = None


def claim(open_pins: Callable[[], None], pin: str, unavailable: str) -> str:
    """Run `open_pins` (gpiozero devices); the problem in one line, or "" when they work. gpiozero
    warns once per pin library it tries and does not find (8 lines off a Pi): kept for the debug
    log, and one line said instead if none is found."""
    problem = ""
    with warnings.catch_warnings(record=True) as tried:
        warnings.simplefilter("always")
        try:
            open_pins()
        except Exception as exc:  # ImportError, GPIOPinInUse, BadPinFactory, PinInvalidPin, ...
            if type(exc).__name__ == "BadPinFactory":
                problem = NO_GPIO
                log.warning("%s", NO_GPIO)
            else:
                problem = f"{pin}: {type(exc).__name__}: {exc}"
                log.warning(unavailable, problem)
    for warning in tried:
        log.debug("gpiozero: %s", warning.message)
    return problem
