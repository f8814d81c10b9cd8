"""Take-home cards: each visitor's result, served to their phone behind an unguessable token for
`[web] takeaway_minutes`, held in memory only, never written to disk.

The token (128 random bits from `secrets`) is the only key: whoever holds the URL, and only they,
can see, download and delete the card, so no cookie or session is needed; deleting is a POST, so
a link or a prefetch never deletes. The store is capped in cards and bytes, the oldest card
forgotten first. The card's JPEG is made on its first request, in a worker thread of the web
server, never on the booth's render thread; until then the card holds the captured frame itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from . import pages

if TYPE_CHECKING:
    from ..booth.app import Shot
    from ..chain import Verdict

TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")
PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"}
FORGET_EVERY_S = 15.0


@dataclass
class Card:
    shot: Shot | None  # the captured frame, until the JPEG is made
    verdict: Verdict  # what the card page says
    made: float
    jpeg: bytes | None = None

    @property
    def size(self) -> int:
        return len(self.jpeg) if self.jpeg is not None else self.shot.image.nbytes


class Cards:
    """The take-home cards, oldest first; safe from any thread. `compose(shot)` makes a card's JPEG."""

    def __init__(self, keep_s: float, max_cards: int, max_bytes: int, compose: Callable[[Shot], bytes],
                 clock: Callable[[], float] = time.monotonic):
        self.keep_s, self.max_cards, self.max_bytes = keep_s, max_cards, max_bytes
        self._compose, self._clock = compose, clock
        self._cards: OrderedDict[str, Card] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, shot: Shot) -> str:
        """Keep a card for `shot`; its token. The newest card is always kept, even alone over the byte cap."""
        token = secrets.token_urlsafe(16)
        with self._lock:
            self._cards[token] = Card(shot, shot.verdict, self._clock())
            self._trim()
        return token

    def get(self, token: str) -> Card | None:
        with self._lock:
            self._trim()
            return self._cards.get(token)

    def left_s(self, card: Card) -> float:
        return max(0.0, card.made + self.keep_s - self._clock())

    def jpeg(self, token: str) -> bytes | None:
        """The card's JPEG, made on the first call (slow: call it off the event loop)."""
        card = self.get(token)
        if card is None:
            return None
        if card.jpeg is None:
            made = self._compose(card.shot)
            with self._lock:
                if card.jpeg is None:  # another request may have made it meanwhile
                    card.jpeg, card.shot = made, None  # the frame is let go: only the JPEG stays
                    self._trim()
        return card.jpeg

    def delete(self, token: str) -> bool:
        with self._lock:
            return self._cards.pop(token, None) is not None

    def forget_expired(self) -> None:
        with self._lock:
            self._trim()

    def __len__(self) -> int:
        with self._lock:
            return len(self._cards)

    @property
    def held_bytes(self) -> int:
        with self._lock:
            return sum(card.size for card in self._cards.values())

    def _trim(self) -> None:
        """Forget expired cards, then the oldest while over a cap (the newest stays)."""
        now = self._clock()
        for token in [t for t, card in self._cards.items() if now - card.made >= self.keep_s]:
            del self._cards[token]
        held = sum(card.size for card in self._cards.values())
        while len(self._cards) > 1 and (len(self._cards) > self.max_cards or held > self.max_bytes):
            held -= self._cards.popitem(last=False)[1].size


def routes(cards: Cards) -> list[Route]:
    """/card/TOKEN (the page), /card/TOKEN/faceeva.jpg (the picture; ?download=1 to save it),
    POST /card/TOKEN/delete."""

    def found(request: Request) -> tuple[str, Card | None]:
        token = request.path_params["token"]
        return token, cards.get(token) if TOKEN.fullmatch(token) else None

    def gone(lang: str) -> HTMLResponse:
        return HTMLResponse(pages.problem_page(lang, "card_gone", again=False), 404, headers=PRIVATE)

    async def page(request: Request):
        lang = _lang(request)
        token, card = found(request)
        if card is None:
            return gone(lang)
        minutes = max(1, round(cards.left_s(card) / 60))
        return HTMLResponse(pages.card_page(lang, f"/card/{token}", card.verdict, minutes), headers=PRIVATE)

    async def picture(request: Request):
        token, card = found(request)
        jpeg = await asyncio.to_thread(cards.jpeg, token) if card else None
        if jpeg is None:
            return gone(_lang(request))
        disposition = "attachment" if request.query_params.get("download") else "inline"
        return Response(jpeg, media_type="image/jpeg",
                        headers={**PRIVATE, "Content-Disposition": f'{disposition}; filename="faceeva.jpg"'})

    async def delete(request: Request):
        lang = _lang(request)
        token, card = found(request)
        if card is None or not cards.delete(token):
            return gone(lang)
        return HTMLResponse(pages.problem_page(lang, "card_deleted", again=False), headers=PRIVATE)

    return [Route("/card/{token}", page), Route("/card/{token}/faceeva.jpg", picture),
            Route("/card/{token}/delete", delete, methods=["POST"])]


def _lang(request: Request) -> str:
    return pages.language(dict(request.query_params), request.headers.get("accept-language", ""))


@contextlib.asynccontextmanager
async def forgetting(cards: Cards):
    """While the server runs, expired cards are dropped every few seconds even when nobody asks."""
    async def forget():
        while True:
            await asyncio.sleep(FORGET_EVERY_S)
            cards.forget_expired()

    task = asyncio.create_task(forget())
    try:
        yield
    finally:
        task.cancel()
