"""The take-home card's address as a QR code: its modules, made once per result off the render
thread (segno, pure Python); the screen only scales and draws them."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

QUIET_ZONE = 4  # modules of white around the code: phone cameras need it to find the code
MASK = 0


@dataclass(frozen=True, eq=False)
class QrCode:
    url: str
    modules: np.ndarray = field(repr=False)  # bool, True = dark, quiet zone included, square

    @classmethod
    def of(cls, url: str) -> QrCode:
        import segno

        # M: still reads with a glare spot on the screen. One fixed mask pattern: choosing the best of
        # eight is 80% of segno's time (pure Python, holding the GIL the render loop needs), and any
        # mask reads well off a screen with its quiet zone (tests/test_web_booth.py decodes many).
        code = segno.make(url, error="m", micro=False, mask=MASK)
        return cls(url, np.array(list(code.matrix_iter(scale=1, border=QUIET_ZONE)), dtype=bool))
