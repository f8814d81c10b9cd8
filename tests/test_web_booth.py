"""The web pages served from inside the booth (`kiosk run` with `[web] enabled`): real HTTP on 127.0.0.1."""

import dataclasses
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import cv2
import numpy as np
import pytest

from kiosk import priority
from kiosk.booth.app import headless_app, opencv_threads
from kiosk.booth.flow import Phase
from kiosk.booth.qr import QrCode
from kiosk.booth.stability import FaceState
from kiosk.config import Config, WebConfig, from_dict
from kiosk.web.address import base_url, interface_address
from kiosk.web.card import card_jpeg
from kiosk.web.service import WebService
from kiosk.web.takeaway import Cards

from .conftest import REPO, booth_config, phone_browser, step_until
from .test_web import free_port, needs_chromium


def web_config(**web) -> Config:
    c = booth_config()
    return dataclasses.replace(c, web=dataclasses.replace(c.web, enabled=True, port=0, **web))


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=60) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def test_the_booth_serves_its_pages_from_a_thread_and_stops_it_with_the_booth():
    app = headless_app(web_config())
    web = WebService(app.config, app).start()
    try:
        assert web.running and web.port > 0
        base = f"http://127.0.0.1:{web.port}"
        assert app.run_until(lambda: app.phase is Phase.LIVE and app.camera_ok, 120)
        status, page = get(base + "/?lang=en")
        assert status == 200 and "Choose or take a photo" in page
        # The scorer and the server's thread run behind the render loop (this thread), and one
        # OpenCV call may not spread over every core (docs/architecture.md, what kiosk load taught).
        def niceness(thread):
            return os.getpriority(os.PRIO_PROCESS, thread.native_id)

        mine = niceness(threading.current_thread())
        assert niceness(app.score_worker._thread) >= max(mine, priority.SCORING)
        assert niceness(web._thread) >= max(mine, priority.WEB)
        assert cv2.getNumThreads() == opencv_threads() <= max(1, len(os.sched_getaffinity(0)) // 2)
        frames = 0

        def stepped():
            nonlocal frames
            frames += 1
            return frames >= 5

        assert app.run_until(stepped, 60)  # the booth goes on drawing while it serves
        assert get(base + "/nothing")[0] == 404
    finally:
        web.stop()
        app.close()
    assert not web.running
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(base + "/", timeout=5)


def test_without_the_upload_page_there_is_no_page_at_the_root():
    web = WebService(web_config(upload=False)).start()
    try:
        assert get(f"http://127.0.0.1:{web.port}/")[0] == 404
        assert get(f"http://127.0.0.1:{web.port}/score")[0] == 404
    finally:
        web.stop()


def test_a_port_in_use_leaves_the_booth_running_without_pages(caplog):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        config = web_config()
        config = dataclasses.replace(config, web=dataclasses.replace(config.web, port=taken.getsockname()[1]))
        with caplog.at_level(logging.ERROR):
            assert WebService(config).start() is None
    assert "cannot listen on 127.0.0.1" in caplog.text and "[web] host or port" in caplog.text


def test_kiosk_run_serves_the_pages_when_enabled_and_stops_with_the_booth(tmp_path):
    port = free_port()
    (tmp_path / "c.toml").write_text(f"[web]\nenabled = true\nport = {port}\n")
    env = dict(os.environ, SDL_VIDEODRIVER="dummy", GPIOZERO_PIN_FACTORY="mock")
    proc = subprocess.Popen([sys.executable, "-m", "kiosk", "--config", str(tmp_path / "c.toml"), "run", "--demo",
                             "--windowed", "--headless"], cwd=REPO, stderr=subprocess.PIPE, text=True, env=env)
    try:
        lines = []
        for line in proc.stderr:  # the booth logs where its pages are once it serves them
            lines.append(line)
            if "web: pages on" in line or len(lines) > 50:
                break
        assert f"web: pages on http://127.0.0.1:{port}/" in "".join(lines), "".join(lines)
        status, page = get(f"http://127.0.0.1:{port}/")
        assert status == 200 and 'name="photo"' in page
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0 and time.monotonic() - sent < 2.0  # as without the server
    finally:
        proc.kill()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5)


def test_the_address_phones_open():
    assert from_dict({"web": {"url": "http://10.42.0.1:8080"}}).web.url == "http://10.42.0.1:8080"
    web = WebConfig(port=8080)
    assert base_url(dataclasses.replace(web, url="http://booth.local:80/")) == "http://booth.local:80"
    assert interface_address("lo") == "127.0.0.1"
    assert base_url(dataclasses.replace(web, interface="lo", host="0.0.0.0")) == "http://127.0.0.1:8080"
    assert interface_address("nosuchif0") is None
    assert base_url(dataclasses.replace(web, interface="nosuchif0", host="10.42.0.1")) == "http://10.42.0.1:8080"
    assert base_url(dataclasses.replace(web, host="0.0.0.0")) == "http://127.0.0.1:8080"
    assert base_url(dataclasses.replace(web, host="::1")) == "http://[::1]:8080"


def read_qr(png) -> str:
    """What a phone would read off the screen: OpenCV's ArUco-based QR detector (its older
    cv2.QRCodeDetector misses about one code in a hundred that phones read)."""
    return cv2.QRCodeDetectorAruco().detectAndDecode(cv2.imread(str(png)))[0]


def test_each_result_shows_the_qr_code_of_its_take_home_card_made_off_the_render_thread(tmp_path):
    made_on = []

    def compose(shot):
        made_on.append(threading.current_thread().name)
        return card_jpeg(shot.image, shot.box, shot.verdict, app.font, app.words)

    config = web_config(takeaway=True, upload=False)
    app = headless_app(config, countdown_s=0, result_s=2.0)
    cards = Cards(600.0, 50, 64 * 2**20, compose)
    web = WebService(app.config, app, cards).start()
    try:
        urls = []
        for visit in range(2):
            step_until(app, lambda: app.phase is Phase.LIVE and app.face is FaceState.STEADY)
            app.press()
            step_until(app, lambda: app.phase is Phase.RESULT)
            url = app.takeaway_url
            assert url.startswith(f"http://127.0.0.1:{web.port}/card/") and url not in urls
            assert read_qr(app.save_screen(tmp_path / f"result{visit}.png")) == url
            urls.append(url)
            status, page = get(url + "?lang=en")
            assert status == 200 and app.verdict.text in page and "gone in 10 min" in page
            step_until(app, lambda: app.phase is Phase.LIVE)
            assert app.takeaway_url is None
            assert read_qr(app.save_screen(tmp_path / f"live{visit}.png")) == ""  # gone with the result
        assert made_on == [] and len(cards) == 2  # no JPEG until a phone asks for one
        with urllib.request.urlopen(urls[0] + "/faceeva.jpg", timeout=60) as r:
            card = cv2.imdecode(np.frombuffer(r.read(), np.uint8), cv2.IMREAD_COLOR)
        assert card.shape[1] == config.camera.width and made_on[0] not in ("MainThread", "web")
    finally:
        web.stop()
        app.close()


def test_no_qr_code_without_take_home(tmp_path):
    app = headless_app(web_config(takeaway=False, upload=False), countdown_s=0)
    web = WebService(app.config, app).start()
    try:
        step_until(app, lambda: app.face is FaceState.STEADY)
        app.press()
        step_until(app, lambda: app.phase is Phase.RESULT)
        assert app.takeaway_url is None and read_qr(app.save_screen(tmp_path / "result.png")) == ""
    finally:
        web.stop()
        app.close()


@needs_chromium
def test_a_phone_reads_the_qr_code_off_the_screen_opens_the_card_downloads_it_and_deletes_it(tmp_path, monkeypatch):
    """The whole take-home path as a visitor meets it: the demo booth's result screen, its QR code
    decoded from the screen's pixels, the card in a real browser, Download, Delete now. With
    FACEEVA_SHOTS=DIR the card page is saved there (the README's picture)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    shots = os.environ.get("FACEEVA_SHOTS")
    c = Config()
    config = dataclasses.replace(c, web=dataclasses.replace(c.web, enabled=True, takeaway=True, port=0))
    app = headless_app(config, countdown_s=0)
    web = WebService(app.config, app).start()
    monkeypatch.setenv("SE_OFFLINE", "true")
    browser = phone_browser(tmp_path / "profile", downloads=tmp_path / "downloads")
    try:
        browser.set_page_load_timeout(120)
        step_until(app, lambda: app.face is FaceState.STEADY)
        app.press()
        step_until(app, lambda: app.phase is Phase.RESULT)
        screen = app.save_screen(tmp_path / "result.png")
        url = read_qr(screen)
        assert url.startswith(f"http://127.0.0.1:{web.port}/card/"), url

        browser.get(url + "?lang=ko")
        assert browser.find_element(By.CLASS_NAME, "verdict").text == app.verdict.text
        assert "10분 뒤 사라져요" in browser.page_source
        assert browser.execute_script("return document.getElementById('card').naturalWidth") == 1080
        if shots:
            browser.save_screenshot(os.path.join(shots, "web-card.png"))
        browser.execute_cdp_cmd("Page.setDownloadBehavior",
                                {"behavior": "allow", "downloadPath": str(tmp_path / "downloads")})
        browser.find_element(By.ID, "download").click()
        saved = tmp_path / "downloads" / "faceeva.jpg"
        deadline = time.monotonic() + 60
        while not saved.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        card = cv2.imdecode(np.fromfile(saved, np.uint8), cv2.IMREAD_COLOR)
        assert card.shape[1] == 1080 and card.shape[0] > 1080 * 9 / 16  # the frame and the verdict's band

        delete = browser.find_element(By.ID, "delete")
        delete.click()
        # The next page is there once its words are: a staleness check on the old button can fail in
        # chromedriver itself ("Node ... does not belong to the document") while the page changes.
        WebDriverWait(browser, 60).until(expected_conditions.text_to_be_present_in_element(
            (By.CLASS_NAME, "verdict"), "삭제했어요"))
        browser.get(url + "?lang=en")
        assert "This card is gone" in browser.find_element(By.CLASS_NAME, "verdict").text
    finally:
        browser.quit()
        web.stop()
        app.close()


def test_card_addresses_as_qr_codes_read_back_whatever_their_token():
    """One fixed mask pattern for every code (kiosk/booth/qr.py): tokens as the store makes them."""
    for host in ("127.0.0.1:8080", "10.42.0.1:8080", "192.168.100.200:65535"):
        for _ in range(40):
            url = f"http://{host}/card/{secrets.token_urlsafe(16)}"
            modules = QrCode.of(url).modules
            pixels = np.kron(np.where(modules, 0, 255).astype(np.uint8), np.ones((4, 4), np.uint8))
            assert cv2.QRCodeDetectorAruco().detectAndDecode(pixels)[0] == url
