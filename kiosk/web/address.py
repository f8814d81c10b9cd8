"""The address visitors' phones open: `[web] url` if the operator gave one, else the booth's IPv4
address on `[web] interface` (its own hotspot, say), else the address the server listens on.

Looked up for each card, not once at start: a hotspot often comes up after the booth does.
"""

from __future__ import annotations

import fcntl
import logging
import socket
import struct

from ..config import WebConfig

log = logging.getLogger(__name__)
SIOCGIFADDR = 0x8915  # Linux: an interface's IPv4 address
WILDCARDS = ("", "0.0.0.0", "::")


def interface_address(name: str) -> str | None:
    """The IPv4 address of network interface `name` (e.g. wlan0), or None while it has none."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            packed = fcntl.ioctl(s.fileno(), SIOCGIFADDR, struct.pack("256s", name.encode()[:15]))
        except OSError:
            return None
    return socket.inet_ntoa(packed[20:24])


def base_url(web: WebConfig) -> str:
    """Where the booth's pages are, for a phone: no trailing slash."""
    if web.url:
        return web.url.rstrip("/")
    host = interface_address(web.interface) if web.interface else None
    if host is None:
        if web.interface:
            log.warning("web: interface %s has no IPv4 address (yet); the QR code shows %s instead",
                        web.interface, web.host)
        host = "127.0.0.1" if web.host in WILDCARDS else web.host
    return f"http://{f'[{host}]' if ':' in host else host}:{web.port}"
