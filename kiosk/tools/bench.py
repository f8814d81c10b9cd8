"""`kiosk bench`: the booth's way and the seed's way, measured on the same work on this machine.

The seed loaded the Haar cascade on every call and searched the full frame with (1.03, 6); it ran
float32 models, looking up input details and allocating tensors on every call. The booth loads
everything once, detects on a small greyscale frame, and runs one int8 model on LiteRT for all three
outputs, on the crop and its mirror image.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
import urllib.request
from typing import Callable

import cv2
import numpy as np

from ..cameras import make_frame
from ..cameras.demo import DemoCamera
from ..chain import GENDERS, Chain, Manifest, gender_of, normalise
from ..config import Config
from ..errors import KioskError
from ..faces import FaceDetector, cascade_path, largest_face_crop
from ..booth.live import LiveDetector
from ..runtime import load_runtime, native_stderr_silenced


def _stats(ms: list[float], p95: bool = False) -> dict:
    out = {"median": round(float(np.median(ms)), 2), "n": len(ms)}
    if p95:
        out["p95"] = round(float(np.percentile(ms, 95)), 2)
    return out


def _timed(fn, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return times


def booth_scenes(config: Config, count: int) -> list[np.ndarray]:
    """640x480 frames of the demo visitor (one face, swaying), as the live loop would see them."""
    camera = DemoCamera(dataclasses.replace(config.camera, width=640, height=480), realtime=False)
    return [camera.render(t) for t in np.linspace(0.0, 15.9, count)]


def bench_detect(config: Config, scenes: list[np.ndarray]) -> tuple[dict, dict]:
    live = LiveDetector(FaceDetector(config.detection), config.live)  # as the live loop does it
    ours = [_timed(lambda s=s: live.detect(make_frame(s, config.camera.detect_width, 0.0).grey), 1)[0]
            for s in scenes]

    def seed_way(scene):
        cascade = cv2.CascadeClassifier(str(cascade_path()))  # the seed loaded it per call
        cascade.detectMultiScale(cv2.cvtColor(scene, cv2.COLOR_BGR2GRAY), 1.03, 6)

    seed = [_timed(lambda s=s: seed_way(s), 1)[0] for s in scenes[:12]]
    return _stats(ours, p95=True), _stats(seed)


def bench_chain(config: Config, image: np.ndarray, box, repeat: int) -> dict:
    """One face through the chain as `kiosk score` scores it: its crops (one per margin of the
    manifest), mirror images and the models."""
    chain = Chain(config.models_dir, config.wording.rank_texts, threads=1)
    for _ in range(5):
        chain.score(*chain.crops(image, box))
    return dict(_stats(_timed(lambda: chain.score(*chain.crops(image, box)), repeat)), runtime=str(chain.runtime),
                precision=chain.manifest.precision, crops=len(chain.crops(image, box)),
                mirror=chain.manifest.mirror)


def bench_seed_chain(config: Config, face_bgr: np.ndarray, repeat: int) -> dict:
    """The seed's chain: float32 models, tflite-runtime when installed, allocate on every call, one
    run for the gender and one for the score (the same file twice where one model gives both)."""
    models_dir = config.models_dir / "float"
    if not (models_dir / "manifest.json").is_file():  # a float32 folder benched as the booth's models
        models_dir = config.models_dir
    manifest = Manifest.read(models_dir)
    # an ensemble's float32 copy lists its first member alone: the seed ran one network, not several
    seed_way = json.loads((models_dir / "manifest.json").read_text(encoding="utf-8")).get("seed_way")
    files = {"face": seed_way} if seed_way else {name: manifest.files[name] for name in manifest.members[0]}
    try:
        runtime = load_runtime("tflite-runtime")
    except KioskError:  # not installed: the seed's float models on the booth's runtime
        runtime = load_runtime()
    with native_stderr_silenced():
        interpreters = {name: runtime.interpreter(model_path=str(models_dir / entry["file"]), num_threads=1)
                        for name, entry in files.items()}  # the seed ran one network, not a partner too
    single = next(iter(interpreters)) if len(interpreters) == 1 else None

    def run(head, x):
        it = interpreters[single or head]
        it.allocate_tensors()
        it.set_tensor(it.get_input_details()[0]["index"], x)
        it.invoke()
        return float(it.get_tensor(it.get_output_details()[0]["index"]).reshape(-1)[0])

    def seed_way():
        rgb = cv2.cvtColor(cv2.resize(face_bgr, (manifest.input_size,) * 2), cv2.COLOR_BGR2RGB)
        x = normalise(rgb[None], manifest.mean, manifest.std)
        gender = gender_of(run("gender", x))
        run(gender if gender in GENDERS else "woman", x)  # a tie: the seed's sigmoid >= 0.5 said woman

    with native_stderr_silenced():
        for _ in range(3):
            seed_way()
    return dict(_stats(_timed(seed_way, repeat)), runtime=str(runtime), precision=manifest.precision)


def bench_intake(config: Config, repeat: int) -> dict:
    """Reading the demo portrait through the decoder process, against decoding it in this process
    (what intake did before the decoder moved out): the isolation's cost per photo and at start."""
    from .. import photo
    from ..cameras.demo import PORTRAIT

    data = PORTRAIT.read_bytes()
    photo._DECODER.close()  # a cold start, as the first photo of a `kiosk score` run
    started = time.perf_counter()
    photo.read_photo(data, config.photos)
    first_ms = (time.perf_counter() - started) * 1000
    ours = _timed(lambda: photo.read_photo(data, config.photos), repeat)
    direct = _timed(lambda: cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR), repeat)
    return dict(_stats(ours), first_ms=round(first_ms, 1), in_process=_stats(direct)["median"])


class Phone:
    """A visitor's phone on loopback: it opens each new take-home card as it appears on screen (the
    page, the picture, the download), one card at a time, until stopped."""

    def __init__(self, app):
        self.app, self.fetch_ms, self.errors = app, [], 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="phone", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        seen = None
        while not self._stop.wait(0.05):
            url = self.app.takeaway_url
            if not url or url == seen:
                continue
            seen, started = url, time.perf_counter()
            try:
                for part in ("", "/faceeva.jpg", "/faceeva.jpg?download=1"):
                    with urllib.request.urlopen(url + part, timeout=10) as response:
                        response.read()
                self.fetch_ms.append((time.perf_counter() - started) * 1000)
            except OSError:
                self.errors += 1

    def stop(self) -> dict:
        self._stop.set()
        self._thread.join(15)
        return {"cards": len(self.fetch_ms), "errors": self.errors,
                "median_ms": round(float(np.median(self.fetch_ms)), 1) if self.fetch_ms else None}


class FrameMeter:
    """The render loop timed frame by frame at the camera's rate, pressing whenever a steady face
    waits so the chain runs now and then (in its own thread, as for a visitor)."""

    def __init__(self, app, fps: int):
        self.app, self.fps = app, fps
        self._press_ms: list[float] = []
        app.on_visit(lambda visit: self._press_ms.append(visit.press_to_end_ms) if visit.outcome == "result" else None)

    def run(self, done: Callable[[int], bool], warmup: int = 30) -> tuple[dict, float | None]:
        """Step until `done(frames so far)`; the frame times after `warmup` frames, and the median
        press to result."""
        import pygame

        from ..booth.flow import Phase
        from ..booth.stability import FaceState

        app, clock = self.app, pygame.time.Clock()
        all_ms, busy_ms = [], []
        self._press_ms.clear()
        while not done(len(all_ms)):
            if app.phase is Phase.LIVE and app.face is FaceState.STEADY:
                app.press()
            scoring = app.phase is Phase.SCORING
            started = time.perf_counter()
            app.step()
            ms = (time.perf_counter() - started) * 1000
            if scoring or app.phase is Phase.SCORING:
                busy_ms.append(ms)
            all_ms.append(ms)
            clock.tick(self.fps)
        # A run too short to drop its warm-up (a slow machine, emulation): all of its frames.
        kept = all_ms[warmup:] if len(all_ms) > warmup else all_ms
        frame = _stats(kept, p95=True) if kept else {"median": None, "n": 0, "p95": None}
        frame["max_during_inference"] = round(max(busy_ms), 2) if busy_ms else None
        frame["inference_frames"] = len(busy_ms)
        return frame, round(float(np.median(self._press_ms)), 1) if self._press_ms else None


def bench_loop(config: Config, frames: int, web: bool = False) -> tuple[dict, float, dict | None]:
    """The whole render loop, headless, with presses so the chain runs now and then; with `web`, the
    booth's web server runs beside it on 127.0.0.1 and a phone fetches every take-home card."""
    from ..booth.app import headless_app
    from ..booth.flow import Phase
    from ..web.service import WebService

    if web:
        config = dataclasses.replace(config, web=dataclasses.replace(
            config.web, enabled=True, takeaway=True, upload=False, host="127.0.0.1", port=0, url=""))
    app = headless_app(config, countdown_s=0, result_s=1.0)
    service = WebService(app.config, app).start() if web else None
    if web and service is None:
        app.close()
        raise KioskError("bench: the web server could not listen on 127.0.0.1")
    phone = Phone(app) if web else None

    def done(n: int) -> bool:
        # a capture in flight at the end is let finish, so a short run on a slow machine (emulation)
        # still times its press to result; the cap only guards against a chain that never answers
        return n >= frames and (app.phase not in (Phase.COUNTDOWN, Phase.SCORING) or n >= 20 * frames)

    try:
        frame, press = FrameMeter(app, config.camera.fps).run(done)
    finally:
        served = phone.stop() if phone else None
        if service:
            service.stop()
        app.close()
    return frame, press, served


def bench(config: Config, frames: int = 450, repeat: int = 100, web: bool = False) -> dict:
    scenes = booth_scenes(config, 120)
    detect, seed_detect = bench_detect(config, scenes)
    m = Manifest.read(config.models_dir)
    detection, _ = largest_face_crop(scenes[0], FaceDetector(config.detection), m.crop_margin, m.input_size)
    box = detection.chosen
    face = scenes[0][box.y:box.y + box.h, box.x:box.x + box.w]  # the seed cropped the bare box
    chain = bench_chain(config, scenes[0], box, repeat)
    seed_chain = bench_seed_chain(config, face, repeat)
    intake = bench_intake(config, repeat)
    frame, press, served = bench_loop(config, frames, web)
    result = {"detect_ms": detect, "seed_detect_ms": seed_detect, "frame_ms": frame, "chain_ms": chain,
              "seed_chain_ms": seed_chain, "intake_ms": intake, "press_to_result_ms": press}
    return result | ({"takeaway": served} if web else {})


# What a Pi must hold for a steady 30 fps preview (README, "Benchmark on the Pi"); the rest is reported.
BUDGETS_MS = {"frame_p95": 33.0, "frame_max_while_scoring": 33.0}


def report(result: dict) -> str:
    """A table an operator reads: each measure, the seed's way where there is one, the Pi budget."""
    d, sd, f, c, sc, i = (result[k] for k in ("detect_ms", "seed_detect_ms", "frame_ms", "chain_ms",
                                               "seed_chain_ms", "intake_ms"))

    def budget(key: str, value) -> str:
        limit = BUDGETS_MS[key]
        return f"< {limit:g} ms  " + ("PASS" if value is not None and value < limit else "FAIL")

    rows = [
        ("whole frame, median", f"{f['median']} ms", "", ""),
        ("whole frame, p95", f"{f['p95']} ms", "", budget("frame_p95", f["p95"])),
        ("whole frame, max while scoring", f"{f['max_during_inference']} ms", "",
         budget("frame_max_while_scoring", f["max_during_inference"])),
        ("face detection, median (p95)", f"{d['median']} ms ({d['p95']})", f"{sd['median']} ms", ""),
        ("scoring chain, median", f"{c['median']} ms", f"{sc['median']} ms", ""),
        ("photo intake, median", f"{i['median']} ms (in-process decode {i['in_process']} ms)", "", ""),
        ("press to result (countdown 0)", f"{result['press_to_result_ms']} ms", "", ""),
    ]
    if "takeaway" in result:  # --web: the frame rows above were measured while the server served
        t = result["takeaway"]
        rows.append(("take-home cards fetched by a phone", f"{t['cards']}, median {t['median_ms']} ms each, "
                     f"{t['errors']} errors", "", ""))
    header = ("measure", "this machine", "seed's way", "Pi budget")
    widths = [max(len(str(r[k])) for r in rows + [header]) for k in range(4)]
    lines = ["  ".join(str(v).ljust(w) for v, w in zip(row, widths)).rstrip() for row in [header] + rows]
    lines.append(f"chain: {c['runtime']}, {c['precision']}; seed's way: {sc['runtime']}, {sc['precision']}; "
                 f"first photo {i['first_ms']} ms (starts the decoder process)")
    return "\n".join(lines)
