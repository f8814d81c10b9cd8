"""The operator's numbers from visit events: counts, ranks and genders, median timings."""

import threading

from kiosk.booth.app import Visit
from kiosk.booth.stats import VisitStats


def result(rank, gender, press_ms, chain_ms):
    return Visit("result", press_ms, rank, gender, 3.0, chain_ms)


def test_counts_and_medians_from_visit_events():
    stats = VisitStats()
    empty = stats.snapshot()
    assert empty["visits"] == 0 and empty["median_press_to_result_ms"] is None and empty["median_chain_ms"] is None
    for visit in (result(4, "woman", 30.0, 8.0), result(2, "man", 50.0, 10.0), result(4, "woman", 40.0, 9.0),
                  Visit("no capture", 3000.0, face_at_capture="moving"),
                  Visit("scoring failed", 3100.0, error="boom")):
        stats.record(visit)
    s = stats.snapshot()
    assert (s["visits"], s["results"], s["no_capture"], s["scoring_failed"]) == (5, 3, 1, 1)
    assert s["ranks"] == {1: 0, 2: 1, 3: 0, 4: 2, 5: 0}
    assert s["genders"] == {"man": 1, "woman": 2, "unsure": 0}
    assert s["median_press_to_result_ms"] == 40.0 and s["median_chain_ms"] == 9.0  # failures' times not mixed in


def test_timings_are_kept_bounded_and_recording_is_safe_from_threads():
    stats = VisitStats(keep=10)
    workers = [threading.Thread(target=lambda: [stats.record(result(1, "man", 100.0, 5.0)) for _ in range(500)])
               for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    s = stats.snapshot()
    assert s["visits"] == s["results"] == 2000 and s["ranks"][1] == 2000
    assert len(stats._chain_ms) == 10  # only the latest visits' timings are kept


def test_a_running_booth_counts_its_visits_and_reports_its_camera(booth_app, photo_dir):
    from kiosk.booth.flow import Phase
    from kiosk.booth.stability import FaceState

    from .conftest import step_until

    app = booth_app(photo_dir / "astronaut.jpg")
    stats = VisitStats()
    app.on_visit(stats.record)
    step_until(app, lambda: app.face is FaceState.STEADY)
    app.press()
    step_until(app, lambda: app.phase is Phase.RESULT)
    s = stats.snapshot()
    assert s["results"] == 1 and s["genders"]["woman"] == 1 and s["ranks"][app.verdict.rank] == 1
    assert s["median_chain_ms"] > 0 and s["median_press_to_result_ms"] >= s["median_chain_ms"]
    camera = app.camera_status()
    assert camera.ok and camera.fps and camera.fps > 1 and 0 <= camera.frame_age_s < 5
    assert 0 < app.uptime_s < 600
