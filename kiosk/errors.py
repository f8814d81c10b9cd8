"""The one rule for errors an operator can fix: a `KioskError` carries the single line they read.

Library code raises it (or a subclass: a broken config, model file, font, training data); only
`cli.main` catches it, prints `kiosk: <line>` and exits with status 2. Per-photo problems are
`photo.PhotoError`s, reported on the photo's own line while a batch goes on.
"""

from __future__ import annotations


class KioskError(Exception):
    """A problem the operator can fix, worded as one line that says what to do."""


def one_line(what: object) -> str:
    """Any message (an exception's included) as one line: newlines and runs of spaces collapsed."""
    return " ".join(str(what).split())
