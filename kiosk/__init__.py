"""faceeva kiosk: a face-scoring photo booth (for fun) for Raspberry Pi events."""

import os

# pygame prints a banner on import; the booth's output is its log.
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
