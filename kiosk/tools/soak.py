"""`kiosk soak`: the full booth loop, headless, with a replayed photo as the camera and as fast as it
goes, pressing the button over and over. Every capture must yield a result; memory, open files and
threads must not grow."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from ..config import Config
from ..errors import KioskError


def resident_mb(field: str = "VmRSS") -> float:
    """Resident memory now (VmRSS), or this process's peak (VmHWM), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def open_files() -> int:
    return len(os.listdir("/proc/self/fd"))


def soak(config: Config, source: str, frames: int, cycles: int, warmup_cycles: int = 10,
         timeout_s: float = 3600.0) -> dict:
    from ..booth.app import headless_app
    from ..booth.flow import Event, Phase
    from ..booth.stability import FaceState

    app = headless_app(config, source, realtime=False, countdown_s=0, steady_s=0.0, trigger="button")
    shown = results = presses = 0
    baseline = end = None
    started = time.monotonic()
    try:
        # The camera opens in the feed's thread; a loop that never waits would starve that opening.
        if not app.run_until(lambda: app.camera_ok, timeout_s):
            raise KioskError(f"soak: the camera {source} delivered no frame")
        while shown < frames or results < cycles:
            if time.monotonic() - started > timeout_s:
                raise KioskError(f"soak: timed out after {shown} frames and {results} results")
            if (app.phase is Phase.LIVE and app.face is FaceState.STEADY) or app.phase is Phase.RESULT:
                presses += app.phase is Phase.LIVE
                app.press()
            events = app.step()
            shown += 1
            if Event.RESULT in events:
                results += 1
                # Measured as each result arrives, when no capture is being scored: one in flight
                # holds ~7 MB of crops and model inputs, which is not growth.
                end = (resident_mb(), open_files(), threading.active_count())
                if results == warmup_cycles:
                    baseline = end
            if Event.CAPTURE_FAILED in events or Event.SCORING_FAILED in events:
                raise KioskError(f"soak: a capture gave no result ({app.message})")
    finally:
        app.close()
    end = end or (resident_mb(), open_files(), threading.active_count())  # --cycles 0
    baseline = baseline or end
    return {"frames": shown, "captures": presses, "results": results,
            "seconds": round(time.monotonic() - started, 1),
            "rss_mb": {"after_warmup": round(baseline[0], 1), "end": round(end[0], 1),
                       "growth": round(end[0] - baseline[0], 1), "peak": round(resident_mb("VmHWM"), 1)},
            "open_files": {"after_warmup": baseline[1], "end": end[1]},
            "threads": {"after_warmup": baseline[2], "end": end[2]}}


def checks(report: dict, max_growth_mb: float = 10.0) -> list[tuple[str, str, bool]]:
    """(what, measured, passed) for each thing a soak run must hold."""
    r, m, f, t = report, report["rss_mb"], report["open_files"], report["threads"]
    return [
        # The last press may still be scoring when the run stops.
        ("every capture gave a result", f"{r['captures']} captures, {r['results']} results",
         r["results"] >= r["captures"] - 1),
        (f"memory growth after warm-up <= {max_growth_mb:g} MB",
         f"{m['growth']:+.1f} MB ({m['after_warmup']} -> {m['end']} MB, peak {m.get('peak', '?')} MB)",
         m["growth"] <= max_growth_mb),
        ("open files do not grow", f"{f['after_warmup']} -> {f['end']}", f["end"] <= f["after_warmup"]),
        ("threads do not grow", f"{t['after_warmup']} -> {t['end']}", t["end"] <= t["after_warmup"]),
    ]


def verdict(report: dict, max_growth_mb: float = 10.0) -> list[str]:
    """What the soak run did wrong (empty when it passed)."""
    return [f"{what}: {measured}" for what, measured, ok in checks(report, max_growth_mb) if not ok]


def table(report: dict) -> str:
    """The run as an operator reads it: one line per check, PASS or FAIL."""
    lines = [f"soak: {report['frames']} frames in {report['seconds']} s"]
    lines += [f"{'PASS' if ok else 'FAIL'}  {what:<40} {measured}" for what, measured, ok in checks(report)]
    return "\n".join(lines)
