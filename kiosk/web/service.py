"""The web pages served from inside `kiosk run`: uvicorn in a daemon thread with its own asyncio loop.

A thread rather than a sibling process because the take-home cards are the booth's captured frames:
in one process they are handed over by reference and never leave memory; a second process would
need a copy through a pipe or shared memory and a second set of models. The thread costs the
render loop little: the server sleeps in its event loop, and its heavy work (JPEG encoding,
scoring an upload) runs in worker threads inside native code that lets go of the GIL
(docs/architecture.md; `kiosk bench --web` measures it).
"""

from __future__ import annotations

import dataclasses
import logging
import socket
import threading

from ..config import Config
from .. import priority
from ..errors import one_line

log = logging.getLogger(__name__)
STOP_WAIT_S = 5.0


class WebService:
    """`make_app(config, booth=booth)` on uvicorn, beside the booth: `start()`, then `stop()`."""

    def __init__(self, config: Config, booth=None, cards=None):
        self.config, self.booth, self.cards = config, booth, cards  # cards: a test's own take-home store
        self.port = 0
        self._server = None
        self._thread: threading.Thread | None = None

    def start(self) -> WebService | None:
        """Listen and serve; None (after one log line) when the address cannot be had: the booth
        runs on without its pages rather than not at all."""
        import uvicorn

        from .server import make_app

        web = self.config.web
        try:
            sock = socket.create_server((web.host, web.port), family=socket.AF_INET6 if ":" in web.host
                                        else socket.AF_INET)
        except OSError as exc:
            log.error("web: cannot listen on %s:%d (%s); the booth runs without its web pages: change [web] "
                      "host or port, or stop what uses that port", web.host, web.port, one_line(exc))
            return None
        self.port = sock.getsockname()[1]  # port 0 (tests): the one the system chose
        config = dataclasses.replace(self.config, web=dataclasses.replace(web, port=self.port))
        app = make_app(config, booth=self.booth, cards=self.cards)
        # log_config=None: uvicorn leaves the booth's logging as it is. No access log: client
        # addresses are not the booth's business.
        self._server = uvicorn.Server(uvicorn.Config(
            app, http="h11", loop="asyncio", lifespan="on", log_config=None, access_log=False,
            server_header=False, log_level="warning", timeout_keep_alive=5, timeout_graceful_shutdown=2))
        self._thread = threading.Thread(target=self._serve, args=(sock,), name="web", daemon=True)
        self._thread.start()
        return self

    def _serve(self, sock: socket.socket) -> None:
        # The event loop reads and parses every request in Python, holding the interpreter the
        # render loop needs: at the booth's priority, 20 phones made frames late (kiosk load: max
        # frame while scoring 43 ms, 26-30 ms niced; docs/architecture.md).
        priority.step_back(priority.WEB)
        try:
            self._server.run(sockets=[sock])  # uvicorn installs no signal handlers off the main thread
        except BaseException:  # SystemExit from uvicorn's start-up too: the booth goes on without pages
            log.exception("web: the server stopped")
        finally:
            sock.close()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self) -> None:
        """Ask the server to finish (open requests get up to 2 s) and wait for its thread."""
        if self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(STOP_WAIT_S)
        if self._thread.is_alive():
            log.warning("web: the server did not stop within %.0f s", STOP_WAIT_S)
