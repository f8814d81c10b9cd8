"""`kiosk web` as a client meets it: the real server on 127.0.0.1, real HTTP, the hostile corpus."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import cv2
import pytest

from . import hostile
from .conftest import REPO, phone_browser
from .test_score import KEYS


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """Start `kiosk web` with a config; returns (base URL, its empty TMPDIR). Stopped at the end."""
    started = []

    def start(web_options: str):
        folder = tmp_path_factory.mktemp("web")
        (folder / "tmp").mkdir()
        (folder / "c.toml").write_text(f"[web]\n{web_options}\n")
        port = free_port()
        proc = subprocess.Popen([sys.executable, "-m", "kiosk", "--config", str(folder / "c.toml"), "web", "--port",
                                 str(port)], cwd=REPO, env=dict(os.environ, TMPDIR=str(folder / "tmp")),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        started.append(proc)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 600  # only catches a server that never starts (emulated arm64 is slow)
        while True:
            try:
                urllib.request.urlopen(base + "/", timeout=5)
                return base, folder / "tmp", proc
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read().decode()
                time.sleep(0.2)

    yield start
    for proc in started:
        proc.terminate()
        proc.wait(timeout=30)


def post(url: str, photo: bytes | None, accept_json: bool = True, field: str = "photo"):
    boundary = "faceevaBoundary7"
    body = b""
    if photo is not None:
        body = (f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="p.jpg"\r\n'
                f"Content-Type: application/octet-stream\r\n\r\n").encode() + photo + f"\r\n--{boundary}--\r\n".encode()
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": f"multipart/form-data; boundary={boundary}",
        "Accept": "application/json" if accept_json else "text/html"})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def test_pages_and_the_api(server, photo_dir):
    base, tmp, _ = server("rate_per_minute = 600")
    with urllib.request.urlopen(base + "/") as r:
        page = r.read().decode()
    assert '<input type="file" name="photo"' in page and "사진" in page
    with urllib.request.urlopen(base + "/?lang=en") as r:
        assert "Choose or take a photo" in r.read().decode()
    status, text = post(base + "/score", (photo_dir / "astronaut.jpg").read_bytes())
    record = json.loads(text)
    assert status == 200 and list(record) == KEYS[1:] and record["status"] == "ok" and record["gender"] == "woman"
    status, page = post(base + "/score?lang=ko", (photo_dir / "astronaut.jpg").read_bytes(), accept_json=False)
    assert status == 200 and record["text"] in page and 'src="data:image/jpeg;base64,' in page
    status, text = post(base + "/score", (photo_dir / "blank.png").read_bytes())
    assert status == 200 and json.loads(text)["status"] == "no_face"
    status, text = post(base + "/score", b"\x89PNG\r\n\x1a\n" + os.urandom(3000))
    assert status == 422 and json.loads(text)["error"].startswith("broken PNG")
    assert post(base + "/score", b"hello", field="other")[0] == 400
    assert post(base + "/score", None)[0] == 400
    for path, code in (("/nothing", 404), ("/score", 405)):
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(base + path)
        assert err.value.code == code
    assert list(tmp.iterdir()) == []  # uploads never touch the disk


def test_oversize_uploads_and_too_many_requests_are_turned_away(server, astronaut_bgr):
    import http.client

    base, tmp, _ = server("rate_per_minute = 3\nmax_upload_mb = 1")
    # Refused on its declared size, before a byte of it is read (the client need not send it).
    connection = http.client.HTTPConnection(base.removeprefix("http://"), timeout=60)
    connection.putrequest("POST", "/score")
    for header, value in (("Content-Type", "multipart/form-data; boundary=x"), ("Content-Length", str(2 * 2**20)),
                          ("Accept", "application/json")):
        connection.putheader(header, value)
    connection.endheaders()
    response = connection.getresponse()
    assert response.status == 413 and "max_upload_mb" in json.loads(response.read())["error"]
    connection.close()
    small = cv2.imencode(".jpg", astronaut_bgr)[1].tobytes()
    codes = [post(base + "/score", small)[0] for _ in range(3)]
    assert codes == [200, 200, 429]  # the oversize upload counted as the first of three this minute


def test_the_hostile_corpus_uploaded_never_gives_a_server_error(server, astronaut_bgr, tmp_path):
    base, tmp, proc = server("rate_per_minute = 600")
    expected = hostile.build(tmp_path / "corpus", astronaut_bgr)
    wrong = []
    for name, outcome in expected.items():
        data = (tmp_path / "corpus" / name).read_bytes()
        if not data:
            continue  # an empty upload is "no photo": covered above
        status, text = post(base + "/score", data)
        record = json.loads(text)
        scored = status == 200 and record["status"] == "ok"
        good = {"ok": scored, "grey": scored, "scored": scored, "error": status == 422,
                "not_ok": status in (200, 422) and record["status"] != "ok"}[outcome]
        if not good:
            wrong.append(f"{name}: {status} {record.get('status')} {record.get('error')}")
    assert not wrong, "\n".join(wrong)
    assert proc.poll() is None and list(tmp.iterdir()) == []


needs_chromium = pytest.mark.skipif(
    not os.path.exists("/usr/bin/chromedriver"),
    reason="no Chromium here (scripts/dev-setup.sh installs it; the emulated arm64 root has none)")



@needs_chromium
def test_a_real_browser_uploads_a_photo_and_sees_the_verdict_and_the_box(server, photo_dir, tmp_path, monkeypatch):
    """A phone's browser on the upload page. With FACEEVA_SHOTS=DIR the pages are saved there (the
    README's pictures come from this test)."""
    import base64

    import numpy as np
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    monkeypatch.setenv("SE_OFFLINE", "true")
    base, tmp, _ = server("rate_per_minute = 600")
    browser = phone_browser(tmp_path / "profile")
    shots = os.environ.get("FACEEVA_SHOTS")
    try:
        browser.get(base + "/?lang=ko")
        if shots:
            browser.save_screenshot(os.path.join(shots, "web-upload.png"))
        browser.find_element(By.NAME, "photo").send_keys(str(photo_dir / "astronaut.jpg"))
        browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        # The click returns once the form is sent, not always once the answer is shown: wait for it.
        verdict = WebDriverWait(browser, 120).until(
            expected_conditions.presence_of_element_located((By.CLASS_NAME, "verdict"))).text
        assert verdict.endswith(("입니다..", "입니다. 축하합니다!", "힘내세요..")), verdict
        if shots:
            browser.save_screenshot(os.path.join(shots, "web-result.png"))
        src = browser.find_element(By.ID, "photo").get_attribute("src")
        picture = cv2.imdecode(np.frombuffer(base64.b64decode(src.split(",", 1)[1]), np.uint8), cv2.IMREAD_COLOR)
        b, g, r = (picture[:, :, i].astype(int) for i in range(3))
        box = (r > 220) & (g > 180) & (b < 140)  # the yellow face box drawn over her face
        ys, xs = np.nonzero(box)
        assert box.sum() > 200 and 150 < xs.mean() < 300 and 50 < ys.mean() < 250
    finally:
        browser.quit()
    assert list(tmp.iterdir()) == []


def test_a_chunked_upload_over_the_limit_gets_413_and_the_server_goes_on(server, photo_dir):
    """No Content-Length to refuse it by: the body is counted as it streams in, and the server answers
    413 as soon as it passes max_upload_mb (the client may still be sending), never a 5xx."""
    import http.client

    base, tmp, proc = server("rate_per_minute = 600\nmax_upload_mb = 1")
    connection = http.client.HTTPConnection(base.removeprefix("http://"), timeout=60)
    connection.putrequest("POST", "/score")
    for header, value in (("Content-Type", "multipart/form-data; boundary=x"), ("Transfer-Encoding", "chunked"),
                          ("Accept", "application/json")):
        connection.putheader(header, value)
    connection.endheaders()
    chunk = b"--x\r\n" + b"A" * 65531
    sent = 0
    try:
        while sent < 3 * 2**20:  # three times the limit, 64 kB a chunk
            connection.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sent += len(chunk)
        connection.send(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server answered and closed before the end: allowed
    response = connection.getresponse()
    assert response.status == 413 and "max_upload_mb" in json.loads(response.read())["error"]
    connection.close()
    status, text = post(base + "/score", (photo_dir / "astronaut.jpg").read_bytes())
    assert status == 200 and json.loads(text)["status"] == "ok" and proc.poll() is None
    assert list(tmp.iterdir()) == []


def test_uploads_are_scored_at_a_lower_cpu_priority_than_the_booth():
    import asyncio
    import threading

    from kiosk import priority
    from kiosk.web.limits import Queue

    def niceness():
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    mine = niceness()
    theirs = asyncio.run(Queue(1, 0).run(niceness))
    assert theirs >= max(mine, priority.WEB) and niceness() == mine  # the caller's thread is left as it was


def test_the_photo_field_is_found_in_any_well_formed_multipart_body_and_nothing_else():
    from kiosk.web.server import photo_field

    def form(*parts, boundary="b0UND", preamble=b"", close=b"--"):
        body = preamble
        for headers, data in parts:
            body += f"--{boundary}\r\n{headers}\r\n\r\n".encode() + data + b"\r\n"
        return body + f"--{boundary}{close.decode()}\r\n".encode()

    photo = bytes(range(256)) * 400 + b"\r\n--b0UN"  # binary, with line breaks and a near-boundary
    field = 'Content-Disposition: form-data; name="photo"; filename="a b.jpg"\r\nContent-Type: image/jpeg'
    other = ('Content-Disposition: form-data; name="note"', b"hello")
    ct = "multipart/form-data; boundary=b0UND"
    assert photo_field(ct, form((field, photo))) == photo
    assert photo_field(ct, form(other, (field, photo), preamble=b"ignored\r\n")) == photo
    assert photo_field('multipart/form-data; boundary="b0UND"', form((field, photo))) == photo
    assert photo_field(ct, form((field, b""))) == b""  # an empty field: the server says "missing"
    assert photo_field(ct, form(other)) is None
    assert photo_field(ct, form((field, photo))[:-20]) is None  # cut short: no closing delimiter
    assert photo_field(ct, form((field.replace('"photo"', '"photos"'), photo))) is None
    assert photo_field("multipart/form-data", form((field, photo))) is None  # no boundary
    assert photo_field("application/octet-stream", photo) is None
    assert photo_field(ct, b"") is None
