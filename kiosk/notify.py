"""systemd's notify protocol (Type=notify, WatchdogSec=): a datagram to $NOTIFY_SOCKET.

The booth says READY once the first camera frame is on screen, and pets the watchdog from the
render loop only while camera frames keep arriving: a hung loop or a dead camera gets the service
restarted. Outside systemd (no NOTIFY_SOCKET) every call does nothing.
"""

from __future__ import annotations

import os
import socket


class Notifier:
    def __init__(self, environ=os.environ):
        path = environ.get("NOTIFY_SOCKET", "")
        self.address = ("\0" + path[1:]) if path.startswith("@") else path  # '@' = abstract namespace
        usec = environ.get("WATCHDOG_USEC", "")
        pid = environ.get("WATCHDOG_PID", "")
        mine = not pid or pid == str(os.getpid())
        self.watchdog_s = int(usec) / 1e6 if usec.isdigit() and mine else 0.0
        self.is_ready = False
        self._last_pet = float("-inf")

    def send(self, message: str) -> bool:
        if not self.address:
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.connect(self.address)
                sock.sendall(message.encode())
            return True
        except OSError:  # systemd gone or socket unusable: the booth keeps running
            return False

    def ready(self, status: str = "") -> None:
        if not self.is_ready:
            self.is_ready = True
            self.send("READY=1" + (f"\nSTATUS={status}" if status else ""))

    def pet(self, now: float) -> None:
        """Call every frame while frames arrive; sends at twice the watchdog's rate."""
        if self.watchdog_s and now - self._last_pet >= self.watchdog_s / 2:
            self._last_pet = now
            self.send("WATCHDOG=1")

    def stopping(self) -> None:
        self.send("STOPPING=1")
