"""`kiosk load`'s code path, small: 3 clients for 3 s against the booth's web server on 127.0.0.1
while the booth runs the demo. The 60 s run with 20 clients is a command (README, Measured)."""

from kiosk.config import Config
from kiosk.tools.load import checks, load, report


def test_a_small_crowd_uploads_while_the_booth_runs_and_everything_is_reported():
    result = load(Config(), clients=3, seconds=3.0, baseline_s=2.0, warmup_s=1.0)
    assert set(result["responses"]) <= {"200", "429"} and result["responses"].get("200", 0) >= 1, result
    latency = result["upload_to_verdict_ms"]
    assert latency["n"] == result["responses"]["200"] and 0 < latency["median"] <= latency["p95"]
    assert 0 < result["memory"]["after_warmup_mb"] and 0 < result["memory"]["end_mb"]
    for name in ("frame_ms_without_load", "frame_ms_with_load"):
        assert result[name]["n"] > 0 and result[name]["p95"] > 0
    text = report(result)
    assert "3 clients for 3 s on 127.0.0.1" in text and "PASS no errors beyond rate limiting" in text


def test_errors_beyond_rate_limiting_and_growing_memory_fail():
    frames = {"median": 5.0, "p95": 9.0, "n": 100, "max_during_inference": 12.0}
    result = {"responses": {"200": 40, "429": 300, "500": 1, "connection error (ConnectionResetError)": 2},
              "memory": {"after_warmup_mb": 300.0, "end_mb": 340.0},
              "frame_ms_without_load": frames, "frame_ms_with_load": dict(frames, max_during_inference=None)}
    verdicts = {name: ok for name, ok, _ in checks(result)}
    assert not verdicts["no errors beyond rate limiting (429)"] and not verdicts["memory flat after warm-up"]
    assert verdicts["without load: frame_p95"] and not verdicts["with load: frame_max_while_scoring"]  # no scoring seen
