"""CPU priority of the booth's own threads: the render loop first, everything else behind it.

Linux gives each thread its own nice value, and a thread it starts (or a process it forks) inherits
it. A thread can always lower its own priority, never raise it, so the render loop stays at the
process's priority and the work that may wait a little (scoring, the web server) steps back.
What `kiosk load` measured with and without each step: docs/architecture.md.
"""

from __future__ import annotations

import os
import threading

SCORING = 5  # the visitor's verdict may come a few ms later; the picture must not stutter
WEB = 10  # an upload or a page waits longer still: a crowd of phones never takes the booth's core


def step_back(niceness: int) -> None:
    """Lower the calling thread's CPU priority to `niceness` (never raise it)."""
    tid = threading.get_native_id()
    try:
        if os.getpriority(os.PRIO_PROCESS, tid) < niceness:
            os.setpriority(os.PRIO_PROCESS, tid, niceness)
    except OSError:  # not permitted or not Linux: the booth runs as before, only less smoothly
        pass
