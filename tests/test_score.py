"""`kiosk score`: the JSON Lines schema, every error path, exit codes."""

import json

import cv2
import numpy as np

from kiosk.cli import main

KEYS = ["path", "status", "faces", "box", "gender", "p_woman", "rank", "score", "text", "error"]


def run(capsys, *args):
    code = main(["score", *args])
    out = capsys.readouterr().out
    return code, out


def check_schema(record):
    assert list(record) == KEYS
    assert record["status"] in ("ok", "no_face", "error")
    if record["status"] == "ok":
        assert isinstance(record["faces"], int) and record["faces"] >= 1
        assert len(record["box"]) == 4 and all(isinstance(v, int) for v in record["box"])
        assert record["gender"] in ("man", "woman") and 0 <= record["p_woman"] <= 1
        assert record["rank"] in range(1, 6) and 1 <= record["score"] <= 5 and record["text"]
        assert record["error"] is None
    else:
        assert record["box"] is record["gender"] is record["rank"] is record["score"] is None
        assert (record["error"] is None) == (record["status"] == "no_face")


def test_json_lines_for_a_folder(capsys, photo_dir):
    code, out = run(capsys, "--json", str(photo_dir))
    records = [json.loads(line) for line in out.splitlines()]
    assert code == 0
    assert [r["path"] for r in records] == [str(photo_dir / n) for n in ("astronaut.jpg", "blank.png", "two.png")]
    for r in records:
        check_schema(r)
    astronaut, blank, two = records
    assert astronaut["status"] == "ok" and astronaut["faces"] == 1 and astronaut["gender"] == "woman"
    assert blank["status"] == "no_face" and blank["faces"] == 0
    # Haar also sees a false face on her suit; what matters is several faces, the largest scored.
    assert two["status"] == "ok" and two["faces"] >= 2 and 150 < two["box"][0] < 200


def test_broken_inputs_are_reported_and_the_run_goes_on(capsys, tmp_path, photo_dir, astronaut_bgr):
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "text.png").write_text("not an image")
    (tmp_path / "random.jpg").write_bytes(np.random.default_rng(0).bytes(3000))
    ok, data = cv2.imencode(".jpg", astronaut_bgr)
    (tmp_path / "truncated.jpg").write_bytes(data.tobytes()[:2000])
    cv2.imwrite(str(tmp_path / "tiny.png"), np.zeros((1, 1, 3), np.uint8))
    paths = [str(tmp_path / n) for n in ("empty.jpg", "text.png", "random.jpg", "truncated.jpg")]
    paths += [str(tmp_path / "missing.jpg"), str(tmp_path / "tiny.png"), str(photo_dir / "astronaut.jpg")]
    code, out = run(capsys, "--json", *paths)
    records = [json.loads(line) for line in out.splitlines()]
    assert code == 1 and len(records) == len(paths)
    for r in records:
        check_schema(r)
    assert [r["status"] for r in records] == ["error"] * 5 + ["no_face", "ok"]
    assert all("\n" not in r["error"] for r in records[:5])


def test_human_output_has_the_korean_text(capsys, photo_dir):
    code, out = run(capsys, str(photo_dir / "astronaut.jpg"), str(photo_dir / "blank.png"))
    lines = out.splitlines()
    assert code == 0 and len(lines) == 2
    assert "입니다" in lines[0] and "woman" in lines[0]
    assert "no face" in lines[1]


def test_box_is_in_upright_original_pixels_for_reduced_jpegs(capsys, tmp_path, astronaut_bgr):
    big = cv2.resize(astronaut_bgr, (4096, 4096))
    cv2.imwrite(str(tmp_path / "big.jpg"), big)
    config = tmp_path / "c.toml"
    config.write_text("[photos]\nmax_megapixels = 4.0\n")
    assert main(["--config", str(config), "score", "--json", str(tmp_path / "big.jpg")]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["status"] == "ok" and 1300 < record["box"][0] < 1600  # ~8x the 512px position


def test_broken_models_stop_with_one_line(capsys, tmp_path, photo_dir):
    config = tmp_path / "c.toml"
    config.write_text(f'[models]\ndir = "{tmp_path}"\n')
    assert main(["--config", str(config), "score", str(photo_dir)]) == 2
    err = capsys.readouterr().err
    assert "manifest.json not found" in err and len(err.strip().splitlines()) == 1


def test_broken_config_stops_with_one_line(capsys, tmp_path, photo_dir):
    config = tmp_path / "c.toml"
    config.write_text("[detection]\nscale_factor = 9\n")
    assert main(["--config", str(config), "score", str(photo_dir)]) == 2
    err = capsys.readouterr().err
    assert "scale_factor" in err and "1.01 to 2.0" in err and len(err.strip().splitlines()) == 1
