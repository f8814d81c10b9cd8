import dataclasses
import json
import shutil
import threading

import cv2
import numpy as np
import pytest

from kiosk.chain import Chain, Manifest, ModelError, logit, model_heads, rank_of
from kiosk.config import Config, DetectionConfig
from kiosk.faces import FaceDetector, largest_face_crop

CONFIG = Config()


@pytest.fixture(scope="module")
def chain():
    return Chain(CONFIG.models_dir, CONFIG.wording.rank_texts)


@pytest.fixture(scope="module")
def astronaut_crop(chain, astronaut_bgr):
    m = chain.manifest
    _, crop = largest_face_crop(astronaut_bgr, FaceDetector(DetectionConfig()), m.crop_margin, m.input_size)
    return crop


def test_manifest_describes_the_shipped_models(chain):
    m = chain.manifest
    heads = {h for name, entry in m.files.items() for h in model_heads(name, entry)}
    assert m.input_size == 224 and len(m.mean) == 3 and heads == {"gender_logit", "man", "woman"}
    for cuts in m.rank_boundaries.values():
        assert len(cuts) == 4 and list(cuts) == sorted(cuts) and 1 < cuts[0] and cuts[-1] < 5


def test_the_astronaut_is_scored_as_a_woman(chain, astronaut_crop, tmp_path):
    v = chain.score(astronaut_crop)
    # Clearly a woman from her crop alone; the shipped gender also averages in the mirror image, which
    # reads her less surely (0.73 together).
    assert with_manifest(tmp_path, gender_from="plain").score(astronaut_crop).p_woman > 0.8
    assert v.gender == "woman" and v.p_woman > 0.7
    assert 1.0 <= v.score <= 5.0 and v.rank in range(1, 6)
    assert v.text == CONFIG.wording.rank_texts[v.rank - 1]


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


def model_file(models_dir) -> str:
    """The first model file the manifest lists (one file gives all heads, or the seed's three)."""
    return next(iter(json.loads((models_dir / "manifest.json").read_text())["models"].values()))["file"]


def test_corrupt_model_is_refused_with_a_clear_message(tmp_path):
    target = copy_models(tmp_path)
    name = model_file(target)
    path = target / name
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(ModelError, match=f"{name}: content does not match manifest"):
        Chain(target, CONFIG.wording.rank_texts)


def test_missing_model_and_manifest(tmp_path):
    target = copy_models(tmp_path)
    (target / model_file(target)).unlink()
    with pytest.raises(ModelError, match=f"{model_file(target)}: cannot read model"):
        Chain(target, CONFIG.wording.rank_texts)
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
    name = next(iter(chain._models))  # the model that gives the gender
    interpreter, _, out = chain._models[name]
    monkeypatch.setattr(interpreter, "get_tensor", lambda index: np.array([[np.nan]], np.float32))
    with pytest.raises(ModelError, match=f"the {name} model returned nan"):
        chain.predict([astronaut_crop])


def test_several_crops_are_averaged(chain, astronaut_crop):
    dark = (astronaut_crop * 0.6).astype(np.uint8)
    p1, s1 = chain.predict([astronaut_crop])
    p2, s2 = chain.predict([dark])
    p, s = chain.predict([astronaut_crop, dark])
    assert abs(logit(p) - (logit(p1) + logit(p2)) / 2) < 1e-4  # gender averaged in logit space
    assert abs(s - (s1 + s2) / 2) < 1e-4  # both scored by the same (woman) model here


def with_manifest(tmp_path, **changes):
    """A copy of the shipped models whose manifest has `changes` (preprocess keys or top-level)."""
    target = copy_models(tmp_path)
    data = json.loads((target / "manifest.json").read_text())
    for key, value in changes.items():
        (data["preprocess"] if key in ("mirror", "exposure", "extra_margins", "gender_from", "smooth") else data)[key] = value
    (target / "manifest.json").write_text(json.dumps(data))
    return Chain(target, CONFIG.wording.rank_texts)


def test_mirror_averaging_gives_a_face_and_its_mirror_image_the_same_verdict(tmp_path, astronaut_crop):
    mirrored = np.ascontiguousarray(astronaut_crop[:, ::-1])
    plain = with_manifest(tmp_path, mirror=False)
    assert plain.predict([astronaut_crop]) != plain.predict([mirrored])
    tta = with_manifest(tmp_path / "tta", mirror=True, gender_from="all")
    assert tta.predict([astronaut_crop]) == tta.predict([mirrored])
    # With the gender from the plain crop alone (shipped until 2026-12-07), the score still is the same
    # whenever the gender call is; the gender's certainty may differ.
    crop_gender = with_manifest(tmp_path / "crop_gender", mirror=True, gender_from="plain")
    (p1, s1), (p2, s2) = crop_gender.predict([astronaut_crop]), crop_gender.predict([mirrored])
    assert (p1 > 0.5) == (p2 > 0.5) and s1 == s2


def mean_difference(a, b):
    return float(np.abs(a.astype(float) - b.astype(float)).mean())


def test_even_exposure_undoes_an_exposure_change_and_part_of_a_gamma_change(astronaut_crop):
    from kiosk.chain import even_exposure

    levels = astronaut_crop.astype(np.float32) / 255
    dim = np.round(255 * levels ** 1.8).astype(np.uint8)
    dark = np.round(255 * levels * 0.5).astype(np.uint8)
    even = even_exposure(astronaut_crop)
    assert mean_difference(even_exposure(dark), even) < 2  # 8-bit rounding (and clipped highlights)
    assert mean_difference(even_exposure(dim), even) < 0.7 * mean_difference(dim, astronaut_crop)


def test_tone_exposure_undoes_an_exposure_change_and_a_gamma_change_alike(astronaut_crop, tmp_path):
    from kiosk.chain import even_exposure, tone_exposure

    levels = astronaut_crop.astype(np.float32) / 255
    tone = tone_exposure(astronaut_crop)
    for changed in (np.round(255 * levels ** 1.8), np.round(255 * levels * 0.5),
                    np.round(255 * (levels * 0.7) ** 1.4)):  # a dim room, a backlit face, both
        changed = changed.astype(np.uint8)
        assert mean_difference(tone_exposure(changed), tone) < 2  # 8-bit rounding in the dark parts
    dim = np.round(255 * levels ** 1.8).astype(np.uint8)
    assert mean_difference(tone_exposure(dim), tone) < 0.1 * mean_difference(even_exposure(dim), even_exposure(astronaut_crop))
    # the chain takes it from the manifest, and an unknown step is named with the allowed ones
    assert with_manifest(tmp_path / "tone", exposure="tone").manifest.exposure == "tone"
    with pytest.raises(ModelError, match="preprocess.exposure must be one of none, even, tone, not 'gamma'"):
        with_manifest(tmp_path / "gamma", exposure="gamma")


def test_smoothing_blurs_every_input_before_the_exposure_step(tmp_path, astronaut_crop):
    sharp = with_manifest(tmp_path, smooth=0, exposure="tone", mirror=True)
    soft = with_manifest(tmp_path / "soft", smooth=0.7, exposure="tone", mirror=True)
    assert soft.manifest.smooth == 0.7
    wide = np.ascontiguousarray(astronaut_crop[::-1])  # stands in for an extra margin's crop
    inputs = soft.inputs([astronaut_crop, wide])  # each crop, then its mirror image
    expected = sharp.inputs([cv2.GaussianBlur(c, (0, 0), 0.7) for c in (astronaut_crop, wide)])  # the tone step on blurred crops
    assert len(inputs) == 4 and all(np.array_equal(a, b) for a, b in zip(inputs, expected))
    plain, mirrored = inputs[:2]
    assert np.array_equal(mirrored[0], plain[0, :, ::-1])
    assert not np.array_equal(plain, sharp.inputs([astronaut_crop])[0])
    # What it is for: JPEG's blocks, sensor noise and a little blur reach the models less, so the score
    # moves less between such copies (on average: one copy can move either way; 0.098 -> 0.066 here).
    rng = np.random.default_rng(0)
    copies = [cv2.imdecode(cv2.imencode(".jpg", astronaut_crop, [cv2.IMWRITE_JPEG_QUALITY, q])[1], cv2.IMREAD_UNCHANGED)
              for q in (40, 60, 80)]
    copies += [np.clip(astronaut_crop + rng.normal(0, 4, astronaut_crop.shape), 0, 255).astype(np.uint8) for _ in range(4)]
    copies.append(cv2.GaussianBlur(astronaut_crop, (0, 0), 1.0))
    moved = [np.mean([abs(c.predict([copy])[1] - c.predict([astronaut_crop])[1]) for copy in copies]) for c in (sharp, soft)]
    assert moved[1] < 0.8 * moved[0]
    for bad in (-1, 3.5):
        with pytest.raises(ModelError, match="preprocess.smooth must be a blur sigma from 0 to 3"):
            with_manifest(tmp_path / f"bad{bad}", smooth=bad)


def test_a_gender_tie_is_unsure_and_uses_both_genders(chain):
    from kiosk.chain import UNSURE, gender_of

    assert (gender_of(0.4999), gender_of(0.5), gender_of(0.5001)) == ("man", UNSURE, "woman")
    cuts = np.mean([chain.manifest.rank_boundaries[g] for g in ("man", "woman")], axis=0)
    v = chain.verdict(0.5, float(cuts[2]) + 1e-6)
    assert v.gender == UNSURE and v.rank == 4

    from kiosk.texts import SETS
    assert all({"man", "woman", UNSURE} <= set(words) for words in SETS.values())  # the screen has a label for every verdict


def test_calibration_stretches_the_displayed_score_only(tmp_path, astronaut_crop):
    plain = with_manifest(tmp_path, calibration={"slope": 1.0, "intercept": 0.0})
    stretched = with_manifest(tmp_path / "c", calibration={"slope": 1.2, "intercept": -0.6})
    a, b = plain.score(astronaut_crop), stretched.score(astronaut_crop)
    assert b.score == pytest.approx(min(max(1.2 * a.score - 0.6, 1), 5)) and b.rank == a.rank
    assert stretched.raw_score(b.score) == pytest.approx(a.score)
    with pytest.raises(ModelError, match="slope must be positive"):
        with_manifest(tmp_path / "bad", calibration={"slope": 0, "intercept": 0})


def test_extra_margins_add_crops_of_the_same_box_that_are_averaged(tmp_path, astronaut_bgr):
    from kiosk.faces import crop_face

    one = with_manifest(tmp_path, mirror=False, extra_margins=[])
    two = with_manifest(tmp_path / "two", mirror=False, extra_margins=[0.32])
    box = FaceDetector(DetectionConfig()).detect(cv2.cvtColor(astronaut_bgr, cv2.COLOR_BGR2GRAY)).chosen
    assert len(one.crops(astronaut_bgr, box)) == 1 and one.extra_crops(astronaut_bgr, box) == []
    base, wide = two.crops(astronaut_bgr, box)
    assert np.array_equal(base, crop_face(astronaut_bgr, box, two.manifest.crop_margin, 224))
    assert np.array_equal(wide, crop_face(astronaut_bgr, box, 0.32, 224)) and not np.array_equal(base, wide)
    (_, s1), (_, s2) = one.predict([base]), one.predict([wide])
    p, s = two.predict(two.crops(astronaut_bgr, box))
    assert s == pytest.approx((s1 + s2) / 2, abs=1e-4)  # both scored by the woman model here
    with pytest.raises(ModelError, match="extra_margins"):
        with_manifest(tmp_path / "bad", extra_margins=[1.5])


def test_the_gender_can_come_from_each_faces_plain_crop_alone(tmp_path, astronaut_bgr):
    from kiosk.faces import crop_face

    box = FaceDetector(DetectionConfig()).detect(cv2.cvtColor(astronaut_bgr, cv2.COLOR_BGR2GRAY)).chosen
    moved = dataclasses.replace(box, x=box.x + 6, y=box.y - 4)  # a second frame: the box sat elsewhere
    every = with_manifest(tmp_path, mirror=True, extra_margins=[0.32], gender_from="all")
    plain = with_manifest(tmp_path / "plain", mirror=True, extra_margins=[0.32], gender_from="plain")
    alone = with_manifest(tmp_path / "alone", mirror=False, extra_margins=[], gender_from="all")
    crops = plain.crops(astronaut_bgr, box) + plain.crops(astronaut_bgr, moved)  # two faces, two crops each
    runs = []
    original = plain._run
    plain._run = lambda name, x: runs.append(name) or original(name, x)
    p, s = plain.predict(crops)
    # Gender: the plain crop of each face, once; the score: all 2 x 2 crops and their mirror images.
    # A gender model of its own (the seed's layout) runs twice more; one file gives all on one run.
    separate = len(plain.manifest.members[0]) > 1
    assert len(runs) == 8 + (2 if separate else 0) and (runs.count("gender") == 2 if separate else True)
    first, second = crop_face(astronaut_bgr, box, 0.25, 224), crop_face(astronaut_bgr, moved, 0.25, 224)
    expected = np.mean([logit(alone.predict([c])[0]) for c in (first, second)])
    assert logit(p) == pytest.approx(expected, abs=1e-4)
    assert s == pytest.approx(every.predict(crops)[1], abs=1e-6)  # same gender: the same score
    with pytest.raises(ModelError, match="gender_from"):
        with_manifest(tmp_path / "bad", gender_from="some")


def test_a_partner_member_takes_the_mirror_images(tmp_path, astronaut_crop):
    target = copy_models(tmp_path)
    data = json.loads((target / "manifest.json").read_text())
    own = list(data["models"])
    for name in own:  # the shipped files again under other names: which input goes where is tested
        entry = data["models"][name]
        shutil.copyfile(target / entry["file"], target / ("partner_" + entry["file"]))
        data["models"]["partner_" + name] = dict(entry, file="partner_" + entry["file"],
                                                 **({} if "outputs" in entry else {"head": name}))
    data["members"] = [own, ["partner_" + n for n in own]]
    data["preprocess"].update(mirror=True, extra_margins=[], gender_from="plain")
    (target / "manifest.json").write_text(json.dumps(data))
    joined = Chain(target, CONFIG.wording.rank_texts)
    plain, mirrored = joined.inputs([astronaut_crop])
    runs = []
    original = joined._run
    joined._run = lambda name, x: runs.append((name, "mirror" if np.array_equal(x, mirrored) else "plain")) or original(name, x)
    p, s = joined.predict([astronaut_crop])
    assert {name for name, x in runs if x == "plain"} <= set(own) and (own[0], "plain") in runs
    assert {name for name, x in runs if x == "mirror"} <= {"partner_" + n for n in own}
    assert len(runs) == (3 if len(own) > 1 else 2)  # the seed's layout: gender, then one score each
    assert (p, s) == with_manifest(tmp_path / "one", mirror=True, extra_margins=[], gender_from="plain").predict([astronaut_crop])

    data["preprocess"]["mirror"] = False  # one input a face: the partner would never run
    (target / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(ModelError, match="2 members but 1 input"):
        Manifest.read(target)
    data["members"] = [own, ["partner_nothing"]]
    (target / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(ModelError, match="members name .'partner_nothing'."):
        Manifest.read(target)


def test_normalise_is_the_training_formula_for_any_batch_shape_and_strided_views():
    from kiosk.chain import normalise

    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    rng = np.random.default_rng(0)
    for crops in (rng.integers(0, 256, (3, 32, 48, 3), dtype=np.uint8),
                  rng.integers(0, 256, (224, 224, 3), dtype=np.uint8)[:, ::-1]):  # a mirror image: a view
        expected = (crops.astype(np.float64) / 255 - mean) / std
        got = normalise(crops, mean, std)
        assert got.dtype == np.float32 and got.shape == crops.shape
        assert np.abs(got - expected).max() < 1e-5
