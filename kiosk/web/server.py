"""`kiosk web`: the seed's upload page and `POST /score` for scripts, on Starlette and uvicorn.

Starlette and uvicorn (with its pure-Python h11 protocol) are small, maintained and pure Python, so
they install from the same lock on a Pi 4/5 (Bookworm and Trixie) as here. Every upload goes through
the same intake and chain as `kiosk score`, in memory only: the multipart body is parsed here with
the standard library, never spooled to a temporary file.
"""

from __future__ import annotations

import base64
import email.message
import email.parser
import email.policy
import logging
from dataclasses import asdict
from typing import TYPE_CHECKING

import cv2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

from ..config import Config
from ..scoring import PhotoScorer
from . import pages, takeaway
from .address import base_url
from .card import card_jpeg
from .limits import Busy, Queue, RateLimit

if TYPE_CHECKING:
    from ..booth.app import App

log = logging.getLogger(__name__)
PICTURE_SIDE = 1024  # the result page's picture: enough for a phone, small to send


def make_app(config: Config, scorer: PhotoScorer | None = None, booth: App | None = None,
             cards: takeaway.Cards | None = None) -> Starlette:
    """The web pages; `booth` is the running booth (`kiosk run`) or None (`kiosk web` alone). With a
    booth and `[web] takeaway`, each result gets a take-home card (`cards`: a test's own store); with a
    booth and `[web] admin_token`, /admin (kiosk/web/admin.py)."""
    web = config.web
    if booth is not None and web.takeaway:
        if cards is None:
            cards = takeaway.Cards(web.takeaway_minutes * 60.0, web.takeaway_max_cards, web.takeaway_max_mb * 2**20,
                                   lambda shot: card_jpeg(shot.image, shot.box, shot.verdict, booth.font, booth.words))
        booth.offer_takeaway(lambda shot: f"{base_url(web)}/card/{cards.add(shot)}")
    scorer = scorer or (PhotoScorer(config) if web.upload else None)
    rate = RateLimit(web.rate_per_minute)
    queue = Queue(web.concurrency, web.queue)
    max_bytes = web.max_upload_mb * 2**20

    async def index(request: Request):
        return HTMLResponse(pages.upload_page(_lang(request)))

    async def score(request: Request):
        lang = _lang(request)
        as_json = "application/json" in request.headers.get("accept", "")

        def refuse(status: int, key: str, detail: str = ""):
            if as_json:
                return JSONResponse({"status": "error", "error": detail or pages.WORDS["en"][key]}, status,
                                    headers={"Retry-After": "10"} if status == 429 else None)
            return HTMLResponse(pages.problem_page(lang, key, detail), status)

        if not rate.allow(request.client.host if request.client else "?"):
            return refuse(429, "busy")
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            return refuse(413, "too_large", f"up to {web.max_upload_mb} MB ([web] max_upload_mb)")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > max_bytes:
                return refuse(413, "too_large", f"up to {web.max_upload_mb} MB ([web] max_upload_mb)")
        photo = photo_field(request.headers.get("content-type", ""), bytes(body))
        del body
        if not photo:
            return refuse(400, "missing", 'send the photo as the multipart form field "photo"')
        try:
            result, decoded = await queue.run(lambda: scorer.score_with_photo(photo, "upload"))
        except Busy:
            return refuse(429, "busy")
        record = asdict(result)
        del record["path"]
        status = 422 if result.status == "error" else 200
        if as_json:
            return JSONResponse(record, status)
        if result.status == "error":
            return HTMLResponse(pages.problem_page(lang, "error", result.error), status)
        return HTMLResponse(pages.result_page(lang, record, picture(decoded, result.box)), status)

    async def not_found(request: Request, exc):
        return HTMLResponse(pages.problem_page(_lang(request), "not_found"), getattr(exc, "status_code", 404))

    async def failed(request: Request, exc: Exception):
        # A bug of ours, not the client's doing: logged in full, answered with a friendly page.
        log.exception("web: request failed")
        return HTMLResponse(pages.problem_page(_lang(request), "error"), 422)

    routes = [Route("/", index), Route("/score", score, methods=["POST"])] if web.upload else []
    routes += takeaway.routes(cards) if cards is not None else []
    if booth is not None and web.admin_token:
        from .admin import admin_routes  # the booth's own modules (pygame): only where there is a booth

        routes += admin_routes(config, booth)
    return Starlette(routes=routes, exception_handlers={404: not_found, 405: not_found, Exception: failed},
                     lifespan=(lambda app: takeaway.forgetting(cards)) if cards is not None else None)


def _lang(request: Request) -> str:
    return pages.language(dict(request.query_params), request.headers.get("accept-language", ""))


def photo_field(content_type: str, body: bytes) -> bytes | None:
    """The bytes of the form field "photo" of a multipart/form-data body, parsed in memory.

    The parts are found with bytes.find, which runs in C: the standard library's email parser walks
    the body line by line in Python (3 ms for a 60 kB photo, a quarter of a second for a phone's 5 MB
    one), holding the interpreter the booth's frame loop needs. Only each part's few header lines go
    through the email parser. No Content-Transfer-Encoding: browsers send form fields as they are."""
    header = email.message.Message()
    header["content-type"] = content_type
    boundary = header.get_param("boundary") if header.get_content_type() == "multipart/form-data" else None
    if not isinstance(boundary, str) or not boundary:
        return None
    delimiter = b"\r\n--" + boundary.encode("latin-1", "replace")
    body = b"\r\n" + body  # the first delimiter has no line break before it
    at = body.find(delimiter)
    while at != -1:
        at += len(delimiter)
        if body.startswith(b"--", at):  # the closing delimiter: no photo among the parts
            return None
        end = body.find(delimiter, at)
        if end == -1:  # a part cut short: no delimiter after it
            return None
        line_end = body.find(b"\r\n", at, end)  # the rest of the delimiter's line
        head_end = body.find(b"\r\n\r\n", line_end, end) if line_end != -1 else -1
        if head_end == -1:  # no blank line after the part's headers
            return None
        part = email.parser.BytesHeaderParser(policy=email.policy.HTTP).parsebytes(body[line_end + 2:head_end])
        if part.get_param("name", header="content-disposition") == "photo":
            return body[head_end + 4:end]
        at = end
    return None


def picture(photo, box) -> str | None:
    """The decoded photo with the face box drawn, as base64 JPEG for the result page (never saved)."""
    if photo is None:
        return None
    image = photo.image.copy()
    if box is not None:
        x, y, w, h = (round(v / photo.scale) for v in box)
        cv2.rectangle(image, (x, y), (x + w, y + h), (80, 215, 255), max(2, image.shape[1] // 200))
    k = PICTURE_SIDE / max(image.shape[:2])
    if k < 1:
        image = cv2.resize(image, (round(image.shape[1] * k), round(image.shape[0] * k)), interpolation=cv2.INTER_AREA)
    ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])
    return base64.b64encode(jpeg.tobytes()).decode("ascii") if ok else None


def serve(config: Config, host: str, port: int) -> None:
    import uvicorn

    # No access log: client addresses are not the booth's business; outcomes go to the journal.
    uvicorn.run(make_app(config), host=host, port=port, http="h11", loop="asyncio", access_log=False,
                server_header=False, log_level="warning", timeout_keep_alive=5)
