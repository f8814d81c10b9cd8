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
    assert result["frame_ms"]["n"] == 120 and result["press_to_result_ms"] > 0
