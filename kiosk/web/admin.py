"""/admin: the operator's view of the running booth, and its pause and resume.

It exists only inside the booth (`make_app(..., booth=app)`) and only when `[web] admin_token` is
set: `kiosk web` alone has no booth to show or pause, so there /admin is "no such page" (404).
The operator logs in once with the token (compared in constant time); the browser then holds a
random session cookie (HttpOnly, SameSite=Strict, valid until the booth restarts or anyone logs
out), and every state-changing form carries a CSRF token. Nothing here is stored: the numbers are
counted from the booth's visit events in memory.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hmac
import html
import secrets
import time
import urllib.parse

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from .. import texts
from ..booth.app import App
from ..booth.stats import VisitStats
from ..config import Config
from ..tools.check import HELD_BY_THE_BOOTH, CheckResult, run_checks
from . import pages
from .limits import RateLimit

COOKIE = "faceeva_admin"
MAX_FORM_BYTES = 4096  # a login or a button press; anything bigger is no form of ours
LOGINS_PER_MINUTE = 10
HEADERS = {"Cache-Control": "no-store", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"}


class Guard:
    """Who may see and act: the token once, then the session cookie and the CSRF token."""

    def __init__(self, token: str):
        self._token = token.encode()
        self.session = secrets.token_urlsafe(32)  # new on every start: a restart logs everyone out
        self.csrf = secrets.token_urlsafe(32)

    def token_ok(self, given: str) -> bool:
        return hmac.compare_digest(given.encode(), self._token)

    def logged_in(self, request: Request) -> bool:
        return hmac.compare_digest(request.cookies.get(COOKIE, "").encode(), self.session.encode())

    def bearer(self, request: Request) -> bool | None:
        """None without an `Authorization: Bearer` header, else whether it holds the token."""
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        return None if scheme.lower() != "bearer" else self.token_ok(given.strip())

    def csrf_ok(self, form: dict[str, str]) -> bool:
        return hmac.compare_digest(form.get("csrf", "").encode(), self.csrf.encode())


class Checks:
    """`kiosk check`'s results, less the devices the booth holds: run once on first view (the
    models' self-test takes a moment) and again when the operator asks."""

    def __init__(self, config: Config):
        self.config = config
        self.results: list[CheckResult] | None = None
        self.at = 0.0
        self._lock = asyncio.Lock()

    async def get(self, again: bool = False) -> list[CheckResult]:
        async with self._lock:
            if self.results is None or again:
                self.results = await asyncio.to_thread(run_checks, self.config, skip=HELD_BY_THE_BOOTH)
                self.at = time.monotonic()
            return self.results


def admin_routes(config: Config, booth: App) -> list[Route]:
    guard = Guard(config.web.admin_token)
    stats = VisitStats()
    booth.on_visit(stats.record)
    checks = Checks(config)
    logins = RateLimit(LOGINS_PER_MINUTE)

    async def view(request: Request):
        lang = _lang(request)
        bearer = guard.bearer(request)
        if bearer is not None:  # a script (monitoring): the numbers as JSON, read only
            if not bearer:  # only wrong tokens count against the guessing limit: polling is fine
                limited = not logins.allow(_client(request))
                return JSONResponse({"error": "too many tries; wait a minute" if limited else "wrong token"},
                                    429 if limited else 403, headers=HEADERS)
            return JSONResponse(status(booth, stats.snapshot(), await checks.get()), headers=HEADERS)
        if not guard.logged_in(request):
            return _html(login_page(lang))
        results = await checks.get()
        return _html(dashboard(lang, booth, stats.snapshot(), results, time.monotonic() - checks.at, guard.csrf))

    async def login(request: Request):
        lang = _lang(request)
        if not logins.allow(_client(request)):
            return _html(login_page(lang, "busy"), 429)
        form = await _form(request)
        if form is None or not guard.token_ok(form.get("token", "")):
            return _html(login_page(lang, "wrong"), 403)
        response = RedirectResponse(f"/admin?lang={lang}", 303, headers=HEADERS)
        response.set_cookie(COOKIE, guard.session, path="/admin", httponly=True, samesite="strict")
        return response

    def action(do):
        async def endpoint(request: Request):
            lang = _lang(request)
            form = await _form(request)
            if not guard.logged_in(request) or form is None or not guard.csrf_ok(form):
                return _html(login_page(lang, "forbidden"), 403)
            response = RedirectResponse(f"/admin?lang={lang}", 303, headers=HEADERS)
            await do(response)
            return response
        return endpoint

    async def pause(_):
        booth.pause()

    async def resume(_):
        booth.resume()

    async def check(_):
        await checks.get(again=True)

    async def logout(response: Response):
        guard.session = secrets.token_urlsafe(32)  # a copied cookie stops working too (one operator's page)
        response.delete_cookie(COOKIE, path="/admin", httponly=True, samesite="strict")

    return [Route("/admin", view), Route("/admin/login", login, methods=["POST"]),
            Route("/admin/pause", action(pause), methods=["POST"]),
            Route("/admin/resume", action(resume), methods=["POST"]),
            Route("/admin/check", action(check), methods=["POST"]),
            Route("/admin/logout", action(logout), methods=["POST"])]


async def _form(request: Request) -> dict[str, str] | None:
    """A small urlencoded form, parsed here (no multipart library needed); None if it is not one."""
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return None
    try:
        fields = urllib.parse.parse_qs(body.decode("utf-8", "replace"), max_num_fields=8)
    except ValueError:  # more fields than any form of ours has
        return None
    return {key: values[0] for key, values in fields.items()}


def _client(request: Request) -> str:
    return request.client.host if request.client else "?"


def _lang(request: Request) -> str:
    return pages.language(dict(request.query_params), request.headers.get("accept-language", ""))


def _html(text: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(text, status, headers=HEADERS)


# The pages ---------------------------------------------------------------------------------------
WORDS = {
    "ko": {"title": "운영자 화면", "token": "관리자 토큰", "login": "로그인", "wrong": "토큰이 맞지 않아요",
           "forbidden": "다시 로그인해 주세요", "busy": "시도가 너무 많아요. 1분 후 다시 해 보세요",
           "booth": "부스", "uptime": "가동 시간", "state": "상태", "paused": "잠시 쉬는 중", "running": "운영 중",
           "camera": "카메라", "fps": "초당 프레임", "frame_age": "마지막 프레임",
           "exposure": "얼굴 우선 노출", "off": "꺼짐", "unsteered": "이 카메라는 안 됨", "button": "버튼",
           "visits": "방문", "results": "결과", "no_capture": "촬영 실패 (얼굴 없음/여러 명/움직임)",
           "scoring_failed": "분석 실패", "press_to_result": "버튼→결과 중앙값", "chain": "분석 시간 중앙값",
           "ranks": "등급", "genders": "성별", "checks": "점검 (kiosk check)", "checked": "점검한 지",
           "pause": "잠시 멈추기", "resume": "다시 시작", "check_again": "다시 점검", "logout": "로그아웃"},
    "en": {"title": "Operator view", "token": "Admin token", "login": "Log in", "wrong": "Wrong token",
           "forbidden": "Please log in again", "busy": "Too many tries. Try again in a minute",
           "booth": "Booth", "uptime": "uptime", "state": "state", "paused": "paused", "running": "running",
           "camera": "camera", "fps": "frames per second", "frame_age": "newest frame",
           "exposure": "face-priority exposure", "off": "off", "unsteered": "not with this camera", "button": "button",
           "visits": "visits", "results": "results", "no_capture": "no capture (no face, several, moving)",
           "scoring_failed": "scoring failed", "press_to_result": "press to result, median",
           "chain": "scoring chain, median", "ranks": "ranks", "genders": "genders", "checks": "Checks (kiosk check)",
           "checked": "checked", "pause": "Pause the booth", "resume": "Resume", "check_again": "Check again",
           "logout": "Log out"},
}
STYLE = pages.STYLE + "td,th{padding:.2rem .6rem;text-align:left}.bad{color:#f77}.ok{color:#7e7}form{display:inline}"


def _page(lang: str, body: str) -> str:
    return pages.document(lang, WORDS[lang]["title"], body, home="/admin", style=STYLE)


def login_page(lang: str, problem: str = "") -> str:
    w = WORDS[lang]
    notice = f'<p class="bad">{html.escape(w[problem])}</p>' if problem else ""
    return _page(lang, notice + f'<form method="post" action="/admin/login?lang={lang}"><label>{w["token"]}<br>'
                               f'<input type="password" name="token" autocomplete="current-password" required>'
                               f'</label><br><button type="submit">{w["login"]}</button></form>')


def _duration(seconds: float) -> str:
    minutes, s = divmod(int(seconds), 60)
    hours, m = divmod(minutes, 60)
    return f"{hours}:{m:02d}:{s:02d}"


def status(booth: App, s: dict, results: list[CheckResult]) -> dict:
    """What the page shows, for scripts."""
    return {"paused": booth.paused, "phase": booth.phase.value, "uptime_s": round(booth.uptime_s, 1),
            "camera": dataclasses.asdict(booth.camera_status()), "button": booth.button.problem or "ok",
            "visits": s, "checks": [dataclasses.asdict(r) for r in results]}


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} ms"


def _rows(pairs) -> str:
    return "<table>" + "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
                               for k, v in pairs) + "</table>"


def _button(lang: str, path: str, label: str, csrf: str) -> str:
    return (f'<form method="post" action="/admin/{path}?lang={lang}"><input type="hidden" name="csrf" value="{csrf}">'
            f"<button type=\"submit\">{html.escape(label)}</button></form> ")


def _exposure(w: dict, booth: App) -> str:
    """The face-priority exposure the booth asks of its camera now."""
    if booth.exposure.max_ev <= 0:
        return w["off"]
    return f"{booth.exposure.ev:+.2f} EV" if booth.feed.steers_exposure else w["unsteered"]


def dashboard(lang: str, booth: App, s: dict, results: list[CheckResult], checked_s: float, csrf: str) -> str:
    w = WORDS[lang]
    cam = booth.camera_status()
    camera = f"{cam.name}, {'ok' if cam.ok else 'down: ' + (cam.problem or 'no frame yet')}"
    state = w["paused"] if booth.paused else w["running"]
    parts = [
        f"<h2>{w['booth']}</h2>",
        _rows([(w["state"], f"{state} ({booth.phase.value})"), (w["uptime"], _duration(booth.uptime_s)),
               (w["camera"], camera), (w["fps"], "-" if cam.fps is None else f"{cam.fps:.1f}"),
               (w["frame_age"], "-" if cam.frame_age_s is None else f"{cam.frame_age_s:.1f} s"),
               (w["exposure"], _exposure(w, booth)),
               (w["button"], booth.button.problem or "GPIO ok")]),
        _button(lang, "resume", w["resume"], csrf) if booth.paused else _button(lang, "pause", w["pause"], csrf),
        f"<h2>{w['visits']}: {s['visits']}</h2>",
        _rows([(w["results"], s["results"]), (w["no_capture"], s["no_capture"]),
               (w["scoring_failed"], s["scoring_failed"]),
               (w["press_to_result"], _ms(s["median_press_to_result_ms"])), (w["chain"], _ms(s["median_chain_ms"]))]),
        f"<h3>{w['ranks']}</h3>",
        _rows([(texts.stars(rank), n) for rank, n in sorted(s["ranks"].items(), reverse=True)]),
        f"<h3>{w['genders']}</h3>",
        _rows([(pages.GENDER_WORDS[lang][g], n) for g, n in s["genders"].items()]),
        f"<h2>{w['checks']}</h2><ul>",
        *(f'<li><span class="{"ok" if r.ok else "bad"}">{"✓" if r.ok else "✗"}</span> '
          f"{html.escape(r.name)}: {html.escape(r.detail)}</li>" for r in results),
        f"</ul><p class=\"small\">{w['checked']}: {_duration(checked_s)}</p>",
        _button(lang, "check", w["check_again"], csrf), _button(lang, "logout", w["logout"], csrf),
    ]
    return _page(lang, "".join(parts))
