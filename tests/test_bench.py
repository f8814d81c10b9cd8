"""`kiosk bench` on a few frames: every key present and plausible (the targets themselves are
checked by running the benchmark, not by timing unit tests)."""

import json

from kiosk.cli import main


def test_bench_json_has_exactly_the_documented_keys(capsys):
    assert main(["bench", "--json", "--frames", "60", "--repeat", "3"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert list(result) == ["detect_ms", "seed_detect_ms", "frame_ms", "chain_ms", "seed_chain_ms",
                            "intake_ms", "press_to_result_ms"]
    for key in ("detect_ms", "seed_detect_ms", "frame_ms", "chain_ms", "seed_chain_ms", "intake_ms"):
        assert result[key]["median"] > 0
    assert result["detect_ms"]["p95"] >= result["detect_ms"]["median"]
    assert result["frame_ms"]["p95"] >= result["frame_ms"]["median"]
    assert result["frame_ms"]["max_during_inference"] is not None  # the chain ran during the loop
    assert result["seed_chain_ms"]["precision"] == "float32"
    assert result["press_to_result_ms"] > 0
    assert result["intake_ms"]["first_ms"] > 0 and result["intake_ms"]["in_process"] > 0


def test_bench_human_report(capsys):
    assert main(["bench", "--frames", "40", "--repeat", "2"]) == 0
    out = capsys.readouterr().out
    assert "seed's way" in out and "press to result" in out and "photo intake" in out
    budgets = [line for line in out.splitlines() if "< 33 ms" in line]
    assert len(budgets) == 2 and all(line.endswith(("PASS", "FAIL")) for line in budgets)


def test_bench_web_times_the_loop_while_a_phone_fetches_every_card(capsys):
    assert main(["bench", "--json", "--frames", "150", "--repeat", "2", "--web"]) == 0
    result = json.loads(capsys.readouterr().out)
    served = result["takeaway"]
    assert served["cards"] >= 1 and served["errors"] == 0 and served["median_ms"] > 0
    # 150 frames less 30 of warm-up, and more where a capture was still scoring at the end
    assert result["frame_ms"]["n"] >= 120 and result["press_to_result_ms"] > 0


def test_a_run_too_short_for_its_warm_up_reports_all_of_its_frames():
    """Under arm64 emulation `kiosk load`'s short baseline drew fewer frames than the warm-up."""
    from kiosk.booth.app import headless_app
    from kiosk.config import Config
    from kiosk.tools.bench import FrameMeter

    app = headless_app(Config(), countdown_s=0, result_s=1.0)
    try:
        frame, _ = FrameMeter(app, 30).run(lambda n: n >= 5, warmup=30)
        assert frame["n"] == 5 and frame["median"] > 0 and frame["p95"] >= frame["median"]
        frame, _ = FrameMeter(app, 30).run(lambda n: True)
        assert frame["n"] == 0 and frame["median"] is None and frame["max_during_inference"] is None
    finally:
        app.close()


def test_a_float32_models_folder_is_benched_as_the_booths_models_and_the_seeds(tmp_path, capsys):
    from kiosk.config import shipped_models

    config = tmp_path / "c.toml"  # models/float has no float/ of its own: the seed's way runs it too
    # Two capture frames: the float32 pair is slow under arm64 emulation (197 s with the default 10).
    config.write_text(f'[models]\ndir = "{shipped_models() / "float"}"\n[booth]\ncapture_frames = 2\n')
    assert main(["--config", str(config), "bench", "--json", "--frames", "40", "--repeat", "2"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["chain_ms"]["precision"] == result["seed_chain_ms"]["precision"] == "float32"


def test_a_capture_still_scoring_when_the_frames_run_out_is_let_finish(monkeypatch):
    """On a slow machine (emulated arm64) the chain outlasts a short run: its press to result counts."""
    import time

    from kiosk.chain import Chain
    from kiosk.config import Config
    from kiosk.tools.bench import bench_loop

    predict = Chain.predict

    def slow(self, crops):
        time.sleep(1.5)  # 45 frames at 30 fps: longer than the whole run below
        return predict(self, crops)

    monkeypatch.setattr(Chain, "predict", slow)
    frame, press, _ = bench_loop(Config(), frames=40)
    assert press is not None and press >= 1500
    assert frame["max_during_inference"] is not None
