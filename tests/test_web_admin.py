"""/admin against the real server on 127.0.0.1 beside a running (headless) booth: no token, no page;
the login, the cookie, CSRF on pause and resume, the numbers; never a 500."""

import dataclasses
import os
import http.client
import re
import threading
import time
import urllib.parse

import pytest

from kiosk.booth.flow import Phase
from kiosk.booth.stability import FaceState
from kiosk.web.server import make_app

from .conftest import booth_config, phone_browser, step_until

TOKEN = "0123456789abcdef0123456789abcdef"


def serve(app):
    """`app` on uvicorn in a thread on a free port of 127.0.0.1; returns (port, stop)."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, http="h11", loop="asyncio",
                                           log_config=None, access_log=False, lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 600  # only catches a server that never starts
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]

    def stop():
        server.should_exit = True
        thread.join(10)
    return port, stop


class Client:
    def __init__(self, port):
        self.port, self.cookie = port, ""

    def request(self, method, path, form=None, body=None, headers=()):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        sent = dict(headers)
        if form is not None:
            body = urllib.parse.urlencode(form).encode()
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        if self.cookie:
            sent["Cookie"] = self.cookie
        connection.request(method, path, body=body, headers=sent)
        response = connection.getresponse()
        text = response.read().decode()
        connection.close()
        return response.status, response, text


def admin_config(token=TOKEN):
    c = booth_config()
    return dataclasses.replace(c, web=dataclasses.replace(c.web, admin_token=token))


@pytest.fixture
def served():
    stops = []

    def start(app):
        port, stop = serve(app)
        stops.append(stop)
        return Client(port)
    yield start
    for stop in stops:
        stop()


def test_no_token_or_no_booth_means_no_admin_page(served, booth_app, photo_dir):
    app = booth_app(photo_dir / "astronaut.jpg", booth_config())
    for web_app in (make_app(booth_config(), booth=app), make_app(admin_config())):  # no token; no booth
        client = served(web_app)
        assert client.request("GET", "/admin")[0] == 404
        assert client.request("POST", "/admin/login", {"token": TOKEN})[0] == 404
        assert client.request("POST", "/admin/pause", {"csrf": "x"})[0] == 404


def test_login_numbers_and_pause_resume_with_csrf(served, booth_app, photo_dir):
    app = booth_app(photo_dir / "astronaut.jpg", admin_config())
    client = served(make_app(admin_config(), booth=app))
    step_until(app, lambda: app.face is FaceState.STEADY)
    app.press()
    step_until(app, lambda: app.phase is Phase.RESULT)  # one visit for the numbers

    status, _, page = client.request("GET", "/admin?lang=en")
    assert status == 200 and 'name="token"' in page and "visits" not in page  # a login form, nothing else
    status, _, page = client.request("POST", "/admin/login?lang=en", {"token": TOKEN[:-1] + "X"})
    assert status == 403 and "Wrong token" in page
    status, response, _ = client.request("POST", "/admin/login?lang=en", {"token": TOKEN})
    cookie = response.getheader("set-cookie")
    assert status == 303 and response.getheader("location") == "/admin?lang=en"
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict") and TOKEN not in cookie
    client.cookie = cookie.split(";")[0]

    status, response, page = client.request("GET", "/admin?lang=en")
    assert status == 200 and response.getheader("cache-control") == "no-store"
    assert "visits: 1" in page and "<th>results</th><td>1</td>" in page and "woman</th><td>1</td>" in page
    assert re.search(r"press to result, median</th><td>\d+ ms", page)
    assert re.search(r"frames per second</th><td>\d+\.\d", page) and "✓</span> models" in page
    assert "face-priority exposure</th><td>not with this camera" in page  # the demo scene
    assert "camera:" not in page  # the booth holds the camera: its live numbers, not a second check
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)

    assert client.request("POST", "/admin/pause", {})[0] == 403  # no CSRF token
    assert client.request("POST", "/admin/pause", {"csrf": csrf[:-1]})[0] == 403
    assert client.request("POST", "/admin/pause", body=b"csrf=" + csrf.encode())[0] == 403  # not a form
    for _ in range(5):
        app.step()
    assert not app.paused
    assert client.request("POST", "/admin/pause", {"csrf": csrf})[0] == 303
    step_until(app, lambda: app.phase is Phase.PAUSED)
    app.press()
    app.step()
    assert app.paused
    assert "Resume" in client.request("GET", "/admin?lang=en")[2]
    assert client.request("POST", "/admin/resume", {"csrf": csrf})[0] == 303
    step_until(app, lambda: app.phase is Phase.LIVE)

    stranger = Client(client.port)  # the CSRF token without the session is no use
    assert stranger.request("POST", "/admin/pause", {"csrf": csrf})[0] == 403
    assert client.request("POST", "/admin/logout", {"csrf": csrf})[0] == 303
    assert 'name="token"' in client.request("GET", "/admin?lang=en")[2]  # the old cookie is no longer a login


def test_hostile_admin_requests_never_get_a_server_error(served, booth_app, photo_dir):
    app = booth_app(photo_dir / "astronaut.jpg", admin_config())
    client = served(make_app(admin_config(), booth=app))
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    odd = [("POST", "/admin/login", b"token=" + b"A" * 10_000, form),  # a huge form
           ("POST", "/admin/login", b"\xff\xfe\x00token=%ff%00", form),
           ("POST", "/admin/login", b"token=\xc3\xa9" + TOKEN.encode(), form),  # non-ASCII against the token
           ("POST", "/admin/login", b"token=a&token=b&" * 50, form),
           ("POST", "/admin/login", b"{}", {"Content-Type": "application/json"}),
           ("POST", "/admin/pause", b"", {"Cookie": "faceeva_admin=\xe9"}),
           ("GET", "/admin", None, {"Cookie": "faceeva_admin=" + "x" * 4000}),
           ("GET", "/admin/pause", None, {}), ("PUT", "/admin", b"", {})]
    codes = [client.request(method, path, body=body, headers=headers)[0] for method, path, body, headers in odd]
    assert all(code < 500 for code in codes), codes
    assert codes[:6] == [403, 403, 403, 403, 403, 403] and codes[6] == 200 and codes[7:] == [405, 405]
    codes = [client.request("POST", "/admin/login", {"token": "wrong"})[0] for _ in range(12)]
    assert codes[-1] == 429  # guessing is slowed to 10 tries a minute per address


@pytest.mark.parametrize("token", ["hunter2", "x" * 23, "é" * 30, "a b\tc" * 6])
def test_a_short_or_odd_admin_token_is_refused_at_start(token):
    from kiosk.config import ConfigError, from_dict

    with pytest.raises(ConfigError, match=r"\[web\] admin_token must be at least 24 printable ASCII"):
        from_dict({"web": {"admin_token": token}})
    assert from_dict({"web": {"admin_token": TOKEN}}).web.admin_token == TOKEN


@pytest.mark.skipif(not os.path.exists("/usr/bin/chromedriver"),
                    reason="no Chromium here (scripts/dev-setup.sh installs it; the emulated arm64 root has none)")
def test_a_real_browser_logs_in_and_pauses_the_booth(served, booth_app, photo_dir, tmp_path, monkeypatch):
    """Debian's Chromium, phone-sized: the cookie and the forms work in a browser as they do in the
    tests above. With FACEEVA_SHOTS=DIR the operator's page is saved there for the README."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    monkeypatch.setenv("SE_OFFLINE", "true")
    app = booth_app(photo_dir / "astronaut.jpg", admin_config())
    client = served(make_app(admin_config(), booth=app))
    step_until(app, lambda: app.face is FaceState.STEADY)
    app.press()
    step_until(app, lambda: app.phase is Phase.RESULT)
    browser = phone_browser(tmp_path / "profile", height=1400)  # the whole page in one screenshot
    try:
        browser.get(f"http://127.0.0.1:{client.port}/admin?lang=ko")
        browser.find_element(By.NAME, "token").send_keys(TOKEN)
        browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        # A click returns once the form is sent, not always once the next page is shown: wait for it.
        WebDriverWait(browser, 120).until(expected_conditions.presence_of_element_located(
            (By.CSS_SELECTOR, "form[action^='/admin/pause'] button")))
        assert "방문: 1" in browser.find_element(By.TAG_NAME, "body").text
        assert browser.execute_script("return document.cookie") == ""  # HttpOnly: no script can read it
        if os.environ.get("FACEEVA_SHOTS"):
            browser.save_screenshot(os.path.join(os.environ["FACEEVA_SHOTS"], "web-admin.png"))
        browser.find_element(By.CSS_SELECTOR, "form[action^='/admin/pause'] button").click()
        step_until(app, lambda: app.phase is Phase.PAUSED)
        WebDriverWait(browser, 120).until(expected_conditions.presence_of_element_located(
            (By.CSS_SELECTOR, "form[action^='/admin/resume'] button"))).click()
        step_until(app, lambda: app.phase is Phase.LIVE)
    finally:
        browser.quit()


def test_a_script_reads_the_numbers_as_json_with_the_token_in_a_header(served, booth_app, photo_dir):
    import json

    app = booth_app(photo_dir / "astronaut.jpg", admin_config())
    client = served(make_app(admin_config(), booth=app))
    step_until(app, lambda: app.camera_ok and app.camera_status().fps is not None)
    status, response, text = client.request("GET", "/admin", headers={"Authorization": f"Bearer {TOKEN}"})
    numbers = json.loads(text)
    assert status == 200 and response.getheader("content-type") == "application/json"
    assert numbers["paused"] is False and numbers["visits"]["visits"] == 0 and numbers["camera"]["fps"] > 0
    assert [c["name"] for c in numbers["checks"]] == ["config", "runtime", "models", "font", "versions"]
    for _ in range(15):  # polling with the right token is never limited
        assert client.request("GET", "/admin", headers={"Authorization": f"Bearer {TOKEN}"})[0] == 200
    wrong = [client.request("GET", "/admin", headers={"Authorization": "Bearer nope"})[0] for _ in range(11)]
    assert wrong[:10] == [403] * 10 and wrong[10] == 429
    assert client.request("POST", "/admin/pause", headers={"Authorization": f"Bearer {TOKEN}"})[0] == 403  # read only
