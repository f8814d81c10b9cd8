import json
import shutil
import threading

import numpy as np
import pytest

from kiosk.chain import Chain, Manifest, ModelError, rank_of
from kiosk.config import Config, DetectionConfig
from kiosk.faces import FaceDetector, largest_face_crop

CONFIG = Config()


@pytest.fixture(scope="module")
def chain():
    return Chain(CONFIG.models_dir, CONFIG.verdict.rank_texts)


@pytest.fixture(scope="module")
def astronaut_crop(chain, astronaut_bgr):
    m = chain.manifest
    _, crop = largest_face_crop(astronaut_bgr, FaceDetector(DetectionConfig()), m.crop_margin, m.input_size)
    return crop


def test_manifest_describes_the_shipped_models(chain):
    m = chain.manifest
    assert m.input_size == 224 and len(m.mean) == 3 and set(m.files) == {"gender", "man", "woman"}
    for cuts in m.rank_boundaries.values():
        assert len(cuts) == 4 and list(cuts) == sorted(cuts) and 1 < cuts[0] and cuts[-1] < 5


def test_the_astronaut_is_scored_as_a_woman(chain, astronaut_crop):
    v = chain.score(astronaut_crop)
    assert v.gender == "woman" and v.p_woman > 0.8
    assert 1.0 <= v.score <= 5.0 and v.rank in range(1, 6)
    assert v.text == CONFIG.verdict.rank_texts[v.rank - 1]


def test_chain_is_deterministic_and_thread_safe(chain, astronaut_crop):
    expected = chain.predict([astronaut_crop])
    results = []

    def work():
        for _ in range(5):
            results.append(chain.predict([astronaut_crop]))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 20 and all(r == expected for r in results)


def test_rank_boundaries_map_scores_to_five_ranks():
    cuts = (2.0, 2.5, 3.0, 3.5)
    assert [rank_of(s, cuts) for s in (1.0, 2.2, 2.7, 3.2, 4.9)] == [1, 2, 3, 4, 5]


def test_verdict_uses_gender_specific_boundaries(chain):
    m = chain.manifest
    man = chain.verdict(0.1, m.rank_boundaries["man"][0] - 0.01)
    woman = chain.verdict(0.9, m.rank_boundaries["woman"][3] + 0.01)
    assert (man.gender, man.rank) == ("man", 1) and (woman.gender, woman.rank) == ("woman", 5)


def copy_models(tmp_path):
    target = tmp_path / "models"
    shutil.copytree(CONFIG.models_dir, target, ignore=shutil.ignore_patterns("README.md"))
    return target


def test_corrupt_model_is_refused_with_a_clear_message(tmp_path):
    target = copy_models(tmp_path)
    path = target / "man_score.tflite"
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(ModelError, match="man_score.tflite: content does not match manifest"):
        Chain(target, CONFIG.verdict.rank_texts)


def test_missing_model_and_manifest(tmp_path):
    target = copy_models(tmp_path)
    (target / "gender.tflite").unlink()
    with pytest.raises(ModelError, match="gender.tflite: cannot read model"):
        Chain(target, CONFIG.verdict.rank_texts)
    (target / "manifest.json").unlink()
    with pytest.raises(ModelError, match="manifest.json not found"):
        Manifest.read(target)


def test_inconsistent_manifest(tmp_path):
    target = copy_models(tmp_path)
    data = json.loads((target / "manifest.json").read_text())
    data["rank_boundaries"]["man"] = [3, 2, 1, 0]
    (target / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(ModelError, match="4 increasing numbers"):
        Manifest.read(target)
    (target / "manifest.json").write_text("{not json")
    with pytest.raises(ModelError, match="unreadable"):
        Manifest.read(target)


def test_non_finite_model_output_is_a_model_error(chain, astronaut_crop, monkeypatch):
    interpreter, _, out = chain._models["gender"]
    monkeypatch.setattr(interpreter, "get_tensor", lambda index: np.array([[np.nan]], np.float32))
    with pytest.raises(ModelError, match="gender model returned nan"):
        chain.predict([astronaut_crop])


def test_several_crops_are_averaged(chain, astronaut_crop):
    dark = (astronaut_crop * 0.6).astype(np.uint8)
    p1, s1 = chain.predict([astronaut_crop])
    p2, s2 = chain.predict([dark])
    p, s = chain.predict([astronaut_crop, dark])
    assert abs(p - (p1 + p2) / 2) < 1e-5
    assert abs(s - (s1 + s2) / 2) < 1e-4  # both scored by the same (woman) model here
