"""systemd's notify protocol (Type=notify, WatchdogSec=): a datagram to $NOTIFY_SOCKET.

The booth says READY once its first screen is drawn, and pets the watchdog from the render loop
while the camera thread is not stuck in a device call: a hung loop or a hung camera gets the service
restarted. Sends never block: if systemd does not drain the socket (its queue holds ~11 datagrams),
a message is dropped rather than freezing the picture. Outside systemd (no NOTIFY_SOCKET) every
call does nothing.
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
        self.status = ""
        self._last_pet = float("-inf")

    def send(self, message: str) -> bool:
        if not self.address:
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.setblocking(False)
                sock.connect(self.address)
                sock.send(message.encode())
            return True
        except OSError:  # systemd gone, socket unusable or its queue full: the booth keeps running
            return False

    def ready(self, status: str = "") -> None:
        if not self.is_ready:
            self.is_ready, self.status = True, status
            self.send("READY=1" + (f"\nSTATUS={status}" if status else ""))

    def update_status(self, status: str) -> None:
        """What `systemctl status` shows; sent only when it changes."""
        if status != self.status:
            self.status = status
            self.send(f"STATUS={status}")

    def pet(self, now: float) -> None:
        """Call every frame while the booth is healthy; sends at most twice per watchdog period,
        however fast or slow the frames are."""
        if self.watchdog_s and now - self._last_pet >= self.watchdog_s / 2:
            self._last_pet = now
            self.send("WATCHDOG=1")

    def stopping(self) -> None:
        self.send("STOPPING=1")
