"""The GPIO button where there is none: one plain line, not gpiozero's fallback warnings."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO


@pytest.mark.skipif(Path("/proc/device-tree/model").exists() or importlib.util.find_spec("lgpio") is not None,
                    reason="a machine with GPIO: gpiozero finds a pin library here")
def test_off_a_pi_the_button_says_one_line_and_keyboard_and_touch_work():
    env = {k: v for k, v in os.environ.items() if k != "GPIOZERO_PIN_FACTORY"}  # gpiozero's own search
    code = ("import logging; logging.basicConfig(); from kiosk.booth.button import GpioButton; "
            "from kiosk.config import ButtonConfig; print(GpioButton(ButtonConfig()).problem)")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=REPO,
                         env=dict(env, PYTHONPATH=str(REPO), SDL_VIDEODRIVER="dummy"))
    assert run.returncode == 0, run.stderr
    assert "PinFactoryFallback" not in run.stderr and "warnings.warn" not in run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "no GPIO here: keyboard and touch only" in lines[0]
    assert "no GPIO here" in run.stdout  # what `kiosk check` shows
