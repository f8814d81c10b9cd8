"""The take-home card's address as a QR code: its modules, made once per result off the render
thread (segno, pure Python); the screen only scales and draws them."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

QUIET_ZONE = 4  # modules of white around the code: phone cameras need it to find the code


@dataclass(frozen=True, eq=False)
class QrCode:
    url: str
    modules: np.ndarray = field(repr=False)  # bool, True = dark, quiet zone included, square

    @classmethod
    def of(cls, url: str) -> QrCode:
        import segno

        code = segno.make(url, error="m", micro=False)  # M: still reads with a glare spot on the screen
        return cls(url, np.array(list(code.matrix_iter(scale=1, border=QUIET_ZONE)), dtype=bool))
