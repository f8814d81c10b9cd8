"""Take-home cards on the real server (127.0.0.1, real HTTP): the card page, its JPEG, delete, expiry,
caps, friendly 404s, and nothing on disk."""

import dataclasses
import socket
import tempfile
import time
import urllib.error
import urllib.request

import cv2
import numpy as np
import pytest

from kiosk.booth.app import Shot
from kiosk.booth.fonts import find_font
from kiosk.chain import Verdict
from kiosk.faces import FaceBox
from kiosk.texts import Texts
from kiosk.web.card import card_jpeg
from kiosk.web import takeaway
from kiosk.web.service import WebService
from kiosk.web.takeaway import Cards

from .test_web_booth import web_config

VERDICT = Verdict("woman", 0.99, 3.14, 3, "ㅍㅌㅊ 입니다..")
BOX = FaceBox(170, 40, 130, 130)  # her face in the astronaut portrait


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def served(astronaut_bgr, tmp_path, monkeypatch):
    """(base URL, cards, clock, shot) with the take-home store on a real server in a thread. Checks
    afterwards that nothing was written to the temporary folder or the working folder."""
    for folder in ("tmp", "cwd"):
        (tmp_path / folder).mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    monkeypatch.chdir(tmp_path / "cwd")
    started = []

    def serve(max_cards=50, max_bytes=64 * 2**20, minutes=10):
        clock = Clock()
        font = find_font()
        cards = Cards(minutes * 60.0, max_cards, max_bytes,
                      lambda shot: card_jpeg(shot.image, shot.box, shot.verdict, font, Texts.of()), clock)
        web = WebService(web_config(upload=False), cards=cards).start()
        started.append(web)
        return f"http://127.0.0.1:{web.port}", cards, clock

    yield serve, Shot(astronaut_bgr, BOX, VERDICT)
    for web in started:
        web.stop()
    assert list((tmp_path / "tmp").iterdir()) == [] and list((tmp_path / "cwd").iterdir()) == []


def fetch(url: str, method: str = "GET"):
    request = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    try:
        with urllib.request.urlopen(request, timeout=60) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


def test_the_card_page_its_picture_and_delete_now(served, astronaut_bgr):
    serve, shot = served
    base, cards, _ = serve()
    token = cards.add(shot)
    assert len(token) >= 22  # 128 random bits
    status, headers, page = fetch(f"{base}/card/{token}?lang=en")
    page = page.decode()
    assert status == 200 and VERDICT.text in page and "woman" in page and "3.14" in page and "★★★☆☆" in page
    assert "Delete now" in page and "Download (JPEG)" in page and "gone in 10 min" in page
    assert headers["Cache-Control"] == "no-store" and headers["Referrer-Policy"] == "no-referrer"
    assert "지금 삭제하기" in fetch(f"{base}/card/{token}?lang=ko")[2].decode()

    held_raw = cards.held_bytes
    status, headers, jpeg = fetch(f"{base}/card/{token}/faceeva.jpg")
    assert status == 200 and headers["Content-Type"] == "image/jpeg" and headers["Content-Disposition"].startswith("inline")
    card = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    h, w = astronaut_bgr.shape[:2]
    assert card.shape[1] == w and card.shape[0] > h * 1.2  # the photo, and the verdict's band beneath it
    assert np.abs(card[:h].astype(int) - astronaut_bgr).mean() < 12  # her picture, not another
    b, g, r = (card[:h, :, i].astype(int) for i in range(3))
    ys, xs = np.nonzero((r > 80) & (r < 140) & (g > 180) & (b > 230))  # the light-blue box
    assert len(xs) > 200 and BOX.x - 5 <= xs.min() and xs.max() <= BOX.x + BOX.w + 5
    assert cards.held_bytes == len(jpeg) < held_raw  # the frame itself is let go once the JPEG is made
    status, headers, again = fetch(f"{base}/card/{token}/faceeva.jpg?download=1")
    assert again == jpeg and headers["Content-Disposition"] == 'attachment; filename="faceeva.jpg"'

    assert fetch(f"{base}/card/{token}/delete", "GET")[0] == 405 and len(cards) == 1  # only a POST deletes
    status, _, page = fetch(f"{base}/card/{token}/delete?lang=en", "POST")
    assert status == 200 and "Deleted" in page.decode() and len(cards) == 0
    for url, method in ((f"{base}/card/{token}?lang=en", "GET"), (f"{base}/card/{token}/faceeva.jpg?lang=en", "GET"),
                        (f"{base}/card/{token}/delete?lang=en", "POST")):
        status, _, page = fetch(url, method)
        assert status == 404 and "This card is gone" in page.decode() and "<html" in page.decode()


def test_unknown_and_malformed_tokens_get_the_friendly_page(served):
    serve, shot = served
    base, cards, _ = serve()
    cards.add(shot)
    for token in ("x" * 22, "short", "a" * 200, "..%2F..%2Fetc", "%00" * 8):
        status, _, page = fetch(f"{base}/card/{token}?lang=ko")
        friendly = ("이 카드는 없어요", "없는 페이지예요")  # the card's own, or (a slash inside) no such page
        assert status == 404 and any(words in page.decode() for words in friendly), token
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as raw:  # not even ASCII: never a 500
        raw.sendall("GET /card/{} HTTP/1.1\r\nHost: x\r\n\r\n".format("\u00e9" * 30).encode())
        assert raw.recv(100).split()[1] in (b"400", b"404")


def test_a_card_expires_after_its_minutes(served):
    serve, shot = served
    base, cards, clock = serve(minutes=10)
    token = cards.add(shot)
    clock.now += 9 * 60
    status, _, page = fetch(f"{base}/card/{token}?lang=en")
    assert status == 200 and "gone in 1 min" in page.decode()
    clock.now += 60
    assert fetch(f"{base}/card/{token}?lang=en")[0] == 404
    assert fetch(f"{base}/card/{token}/faceeva.jpg")[0] == 404
    assert len(cards) == 0  # forgotten, not only hidden


def test_expired_cards_are_forgotten_even_when_nobody_asks(served, monkeypatch):
    monkeypatch.setattr(takeaway, "FORGET_EVERY_S", 0.05)  # the server's own timer, every 15 s in service
    serve, shot = served
    _, cards, clock = serve(minutes=1)
    cards.add(shot)
    clock.now += 59
    time.sleep(0.5)
    assert len(cards) == 1
    clock.now += 1
    deadline = time.monotonic() + 30
    while len(cards) and time.monotonic() < deadline:  # len() forgets nothing itself: only the timer can have
        time.sleep(0.05)
    assert len(cards) == 0 and cards.held_bytes == 0


def test_caps_forget_the_oldest_card_first(served, astronaut_bgr):
    serve, shot = served
    base, cards, _ = serve(max_cards=3)
    tokens = [cards.add(shot) for _ in range(4)]
    assert [fetch(f"{base}/card/{t}")[0] for t in tokens] == [404, 200, 200, 200]

    frame = astronaut_bgr.nbytes
    base, cards, _ = serve(max_bytes=int(2.5 * frame))
    tokens = [cards.add(shot) for _ in range(3)]
    assert [fetch(f"{base}/card/{t}")[0] for t in tokens] == [404, 200, 200] and cards.held_bytes == 2 * frame
    assert fetch(f"{base}/card/{tokens[1]}/faceeva.jpg")[0] == 200  # now a JPEG: room for another frame
    assert cards.held_bytes < frame + 1 * 2**20
    cards.add(shot)
    assert [fetch(f"{base}/card/{t}")[0] for t in tokens[1:]] == [200, 200] and len(cards) == 3

    _, cards, _ = serve(max_bytes=frame // 2)
    tokens = [cards.add(shot) for _ in range(2)]
    assert len(cards) == 1 and cards.get(tokens[1]) is not None  # the newest stays, even alone over the cap


def test_tokens_are_unguessable_and_distinct(astronaut_bgr):
    cards = Cards(600.0, 1000, 2**40, lambda shot: b"")
    shot = Shot(astronaut_bgr, BOX, VERDICT)
    tokens = {cards.add(shot) for _ in range(500)}
    assert len(tokens) == 500 and all(len(t) == 22 for t in tokens)
