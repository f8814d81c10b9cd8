"""`kiosk load`: a crowd of phones on the booth's web server while the booth runs, on loopback only.

The booth runs the demo (headless, in real time, pressed whenever a steady face waits) with its web
server in a thread of the same process, as `kiosk run` serves it. First its frames are timed
without load; then `clients` clients in a separate process (so their own work does not take the
booth's interpreter) upload the demo portrait back to back for `seconds`, each from its own
loopback address (127.0.0.2, .3, ...) so each meets the per-client rate limit as a phone would.
Reported: responses by status, upload -> verdict times, the booth process's memory after warm-up
and at the end, and `kiosk bench`'s frame p95 and max-during-inference without and with the load.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import socket
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np

from ..config import Config
from ..errors import KioskError
from .bench import BUDGETS_MS, FrameMeter

BOUNDARY = "faceevaLoad"
MEMORY_GROWTH_MB = 16.0  # "flat after warm-up": less than this from the warm-up sample to the end
RETRY_AFTER_429_S = 1.0  # a phone's user tapping again, not a script spinning


def _upload_body(photo: bytes) -> bytes:
    return (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="photo"; filename="p.jpg"\r\n'
            f"Content-Type: image/jpeg\r\n\r\n").encode() + photo + f"\r\n--{BOUNDARY}--\r\n".encode()


def _client(port: int, address: str, body: bytes, until: float, out: list) -> None:
    import http.client

    while time.time() < until:
        started = time.perf_counter()
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60, source_address=(address, 0))
            connection.request("POST", "/score", body, {
                "Content-Type": f"multipart/form-data; boundary={BOUNDARY}", "Accept": "application/json"})
            response = connection.getresponse()
            response.read()
            status = str(response.status)
            connection.close()
        except OSError as exc:
            status = f"connection error ({type(exc).__name__})"
        out.append((status, (time.perf_counter() - started) * 1000))
        if status == "429":
            time.sleep(RETRY_AFTER_429_S)


def _crowd(port: int, clients: int, photo: bytes, seconds: float, results) -> None:
    """The clients' process: one thread per client; says when it starts, and sends every
    (status, ms) back at the end. It stands for phones, which bring their own CPUs: niced, so the
    rig's own work does not count against the booth on the same cores."""
    os.nice(19)
    body = _upload_body(photo)
    out: list = []
    until = time.time() + seconds
    results.put("started")
    threads = [threading.Thread(target=_client, args=(port, f"127.0.0.{2 + i}", body, until, out))
               for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.put(out)


def _take(results, timeout_s: float, what: str):
    import queue

    try:
        return results.get(timeout=timeout_s)
    except queue.Empty:
        raise KioskError(f"load: the clients' process did not {what} within {timeout_s:g} s") from None


def rss_mb() -> float:
    """This process's resident memory plus its children's (the photo decoder process)."""
    import os

    def one(pid) -> float:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            pass
        return 0.0

    children = []
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        try:
            children += (task / "children").read_text().split()
        except OSError:
            pass
    return round(one(os.getpid()) + sum(one(pid) for pid in children), 1)


def load(config: Config, clients: int = 20, seconds: float = 60.0, baseline_s: float = 20.0,
         warmup_s: float = 10.0) -> dict:
    from ..booth.app import headless_app
    from ..cameras.demo import PORTRAIT
    from ..web.service import WebService

    config = dataclasses.replace(config, web=dataclasses.replace(config.web, host="127.0.0.1", port=0))
    app = headless_app(config, countdown_s=0, result_s=1.0)
    server = None
    try:
        meter = FrameMeter(app, config.camera.fps)
        server = WebService(app.config, app).start()  # as kiosk run serves its pages
        if server is None:
            raise KioskError("load: the web server could not listen on 127.0.0.1")
        app.run_until(lambda: app.camera_ok, 120)
        started = time.monotonic()
        without, _ = meter.run(lambda n: time.monotonic() - started >= baseline_s)
        context = multiprocessing.get_context("spawn")
        results = context.Queue()
        crowd = context.Process(target=_crowd, args=(server.port, clients, PORTRAIT.read_bytes(), seconds, results),
                                daemon=True)
        crowd.start()
        _take(results, 120, "start")  # the load is measured from when the clients start, not their import
        started = time.monotonic()
        memory: dict = {}

        def done(_: int) -> bool:
            elapsed = time.monotonic() - started
            if "after_warmup_mb" not in memory and elapsed >= warmup_s:
                memory["after_warmup_mb"] = rss_mb()
            return elapsed >= seconds

        with_load, _ = meter.run(done)
        memory["end_mb"] = rss_mb()
        responses = _take(results, 120, "report")
        crowd.join(30)
    finally:
        if server is not None:
            server.stop()
        app.close()
    ok_ms = [ms for status, ms in responses if status == "200"]
    return {"clients": clients, "seconds": seconds, "rate_per_minute": config.web.rate_per_minute,
            "responses": dict(Counter(status for status, _ in responses)),
            "upload_to_verdict_ms": ({"median": round(float(np.median(ok_ms)), 1),
                                      "p95": round(float(np.percentile(ok_ms, 95)), 1), "n": len(ok_ms)}
                                     if ok_ms else None),
            "memory": memory, "frame_ms_without_load": without, "frame_ms_with_load": with_load}


def checks(result: dict) -> list[tuple[str, bool, str]]:
    """PASS/FAIL lines: no errors beyond rate limiting, memory flat, the frame budgets held."""
    bad = {status: n for status, n in result["responses"].items() if status not in ("200", "429")}
    m = result["memory"]
    growth = m["end_mb"] - m["after_warmup_mb"] if "after_warmup_mb" in m else None
    lines = [("no errors beyond rate limiting (429)", not bad, f"{bad or 'none'}"),
             ("memory flat after warm-up", growth is not None and growth < MEMORY_GROWTH_MB,
              f"{m.get('after_warmup_mb')} -> {m['end_mb']} MB (limit +{MEMORY_GROWTH_MB:g} MB)")]
    for name in ("frame_ms_without_load", "frame_ms_with_load"):
        f = result[name]
        for key, value in (("frame_p95", f["p95"]), ("frame_max_while_scoring", f["max_during_inference"])):
            limit = BUDGETS_MS[key]
            lines.append((f"{name.removeprefix('frame_ms_').replace('_', ' ')}: {key}",
                          value is not None and value < limit, f"{value} ms (< {limit:g} ms)"))
    return lines


def report(result: dict) -> str:
    latency = result["upload_to_verdict_ms"]
    lines = [f"{result['clients']} clients for {result['seconds']:g} s on 127.0.0.1 "
             f"([web] rate_per_minute = {result['rate_per_minute']} per client address)",
             "responses: " + ", ".join(f"{status}: {n}" for status, n in sorted(result["responses"].items())),
             "upload -> verdict (200s): " + (f"median {latency['median']} ms, p95 {latency['p95']} ms, n {latency['n']}"
                                             if latency else "none"),
             f"frames without load: median {result['frame_ms_without_load']['median']} ms; "
             f"with load: median {result['frame_ms_with_load']['median']} ms"]
    lines += [f"{'PASS' if ok else 'FAIL'} {name}: {detail}" for name, ok, detail in checks(result)]
    return "\n".join(lines)
