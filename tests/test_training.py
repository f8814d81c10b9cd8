"""The training pipeline end to end on a handful of photos and one short epoch (the full run is
`kiosk train ../shared/data/scut-fbp5500-train`, documented in models/README.md)."""

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from kiosk.chain import Chain
from kiosk.cli import main
from kiosk.config import Config
from kiosk.training.dataset import folder_samples, load_samples, scut_samples, split
from kiosk.errors import KioskError


def folded_net(antialias_from: int | None = None):
    """A FaceNet of random weights whose BatchNorm really scales and shifts, so the export's folding
    (and undoing it) is tested, and whose heads sit far apart, so a swapped output shows."""
    import torch

    from kiosk.training.backbone import FaceNet, mobilenet_v2_features

    torch.manual_seed(0)
    net = FaceNet(mobilenet_v2_features(antialias_from), frozen_blocks=7)
    for module in net.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.uniform_(0.5, 1.5)
    net.heads.bias.data = torch.tensor([0.0, 10.0, 20.0])
    return net.eval()


def model_outputs(model: bytes, image: np.ndarray) -> dict[str, np.ndarray]:
    """A TFLite model's outputs by tensor name for one HWC float32 image, through the booth's runtime."""
    from kiosk.runtime import load_runtime

    interpreter = load_runtime().interpreter(model_content=model)
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], image[None])
    interpreter.invoke()
    return {d["name"]: interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()}


def variants(astronaut_bgr, n):
    """Slightly different versions of one real portrait: brightness, flip, small zoom."""
    out = []
    for i in range(n):
        image = cv2.convertScaleAbs(astronaut_bgr, alpha=0.9 + 0.01 * i, beta=i)
        if i % 2:
            image = image[:, ::-1]
        out.append(np.ascontiguousarray(image))
    return out


@pytest.fixture(scope="module")
def seed_layout(tmp_path_factory, astronaut_bgr):
    root = tmp_path_factory.mktemp("own_photos")
    images = iter(variants(astronaut_bgr, 20))
    for gender in ("man", "woman"):
        for rank in range(1, 6):
            folder = root / gender / str(rank)
            folder.mkdir(parents=True)
            for k in range(2):
                cv2.imwrite(str(folder / f"{k}.jpg"), next(images))
    return root


def test_seed_layout_and_scut_labels_are_read(seed_layout, tmp_path, astronaut_bgr):
    samples = load_samples(seed_layout)
    assert len(samples) == 20 and {s.gender for s in samples} == {0, 1}
    assert sorted({s.score for s in samples}) == [1, 2, 3, 4, 5]
    (tmp_path / "images").mkdir()
    (tmp_path / "labels.txt").write_text("AF1.jpg 3.5\nCM2.jpg 2.25\n")
    scut = scut_samples(tmp_path)
    assert [(s.gender, s.score, s.group) for s in scut] == [(1, 3.5, "AF"), (0, 2.25, "CM")]
    (tmp_path / "labels.txt").write_text("AF1.jpg\n")
    with pytest.raises(KioskError, match="labels.txt:1"):
        scut_samples(tmp_path)


def test_split_is_stable_stratified_and_disjoint(seed_layout):
    samples = folder_samples(seed_layout) * 10
    samples = [s.__class__(s.path.with_name(f"{i}.jpg"), s.gender, s.score, s.group) for i, s in enumerate(samples)]
    train, val = split(samples, 0.2)
    assert len(val) == 40 and not {s.path for s in train} & {s.path for s in val}
    assert {s.group for s in val} == {s.group for s in samples}
    # The same photos are held out whatever order they come in.
    assert sorted(s.path for s in split(list(reversed(samples)), 0.2)[1]) == sorted(s.path for s in val)


def test_train_export_score_and_eval_end_to_end(seed_layout, tmp_path, capsys, astronaut_bgr, monkeypatch):
    from kiosk.training import train as training

    steps = []  # the crops' steps training asked for: its cached versions, and export's calibration crops
    step = training.exposure_step
    monkeypatch.setattr(training, "exposure_step", lambda *args: steps.append(args) or step(*args))
    out = tmp_path / "models"
    code = main(["train", str(seed_layout), "--out", str(out), "--epochs", "1", "--copies", "3",
                 "--val-fraction", "0.5", "--consistency", "1", "--input-size", "160", "--bins", "0",
                 "--draw", "1", "--smooth", "0.5", "--consistency-gender", "0"])
    assert code == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["preprocess"]["smooth"] == 0.5 and steps == [("tone", 0.5)] * 2
    assert manifest["training"]["consistency"] == 1.0 and manifest["training"]["draw"] == 1
    assert manifest["training"]["consistency_gender"] == 0.0
    assert manifest["training"]["train_faces"] == 10 and manifest["preprocess"]["input_size"] == 160
    chain = Chain(out, Config().wording.rank_texts)  # hashes checked, interpreters allocated, 160x160 inputs
    crop = cv2.resize(astronaut_bgr, (160, 160))[:, :, ::-1]
    v = chain.score(np.ascontiguousarray(crop))
    assert 0 <= v.p_woman <= 1 and v.rank in range(1, 6) and np.isfinite(v.score)

    # The decision side fitted again on the same split, without the checkpoint: the files stay valid.
    assert main(["refit", str(seed_layout), "--models", str(out), "--rank-shares", "10,25,30,25,10",
                 "--mirror", "off", "--calibration-slope", "0.9", "--exposure", "none",
                 "--gender-from", "plain", "--smooth", "0.7"]) == 0
    for folder in (out, out / "float"):
        refitted = json.loads((folder / "manifest.json").read_text())
        assert refitted["preprocess"]["mirror"] is False and refitted["training"]["calibration_slope"] == 0.9
        assert refitted["preprocess"]["smooth"] == 0.7 and Chain(folder, Config().wording.rank_texts).manifest.smooth == 0.7
        assert refitted["preprocess"]["exposure"] == "none" and refitted["preprocess"]["gender_from"] == "plain"
        assert refitted["training"]["rank_shares"] == [0.1, 0.25, 0.3, 0.25, 0.1]
        assert refitted["models"] == manifest["models"] if folder == out else True
    assert Chain(out, Config().wording.rank_texts).score(np.ascontiguousarray(crop)).rank in range(1, 6)

    # Another run of the same split as a partner on the mirror images; then taken out again.
    partner = tmp_path / "partner"
    shutil.copytree(out, partner)
    assert main(["refit", str(seed_layout), "--models", str(out), "--mirror", "on", "--partner", str(partner)]) == 0
    for folder in (out, out / "float"):
        joined = json.loads((folder / "manifest.json").read_text())
        assert joined["members"] == [["face"], ["partner_face"]] and (folder / "partner_face.tflite").is_file()
    assert Chain(out, Config().wording.rank_texts).score(np.ascontiguousarray(crop)).rank in range(1, 6)
    assert main(["refit", str(seed_layout), "--models", str(out), "--partner", "none"]) == 0
    for folder in (out, out / "float"):
        assert "members" not in json.loads((folder / "manifest.json").read_text())
        assert not (folder / "partner_face.tflite").exists()
    # Two runs' weights averaged into one network (here a run and its copy): one file, as cheap as one run.
    soup = tmp_path / "soup"
    assert main(["average", str(seed_layout), str(out), str(partner), "--out", str(soup)]) == 0
    averaged = json.loads((soup / "manifest.json").read_text())
    assert [a["run"] for a in averaged["training"]["averaged"]] == [str(out), str(partner)]
    assert list(averaged["models"]) == ["face"] and (soup / "float" / "face.tflite").is_file()
    assert Chain(soup, Config().wording.rank_texts).score(np.ascontiguousarray(crop)).rank in range(1, 6)
    # Their outputs averaged instead: one file with a tail per run on the frozen blocks they share.
    ensemble = tmp_path / "ensemble"
    assert main(["average", str(seed_layout), str(out), str(partner), "--out", str(ensemble), "--of", "outputs"]) == 0
    both = json.loads((ensemble / "manifest.json").read_text())
    assert [a["run"] for a in both["training"]["ensemble"]] == [str(out), str(partner)]
    assert list(both["models"]) == ["face"] and "averaged" not in both["training"]
    seed_way = json.loads((ensemble / "float" / "manifest.json").read_text())["seed_way"]  # what bench times
    assert (ensemble / "float" / seed_way["file"]).is_file() and "seed_way" not in both
    assert Chain(ensemble, Config().wording.rank_texts).score(np.ascontiguousarray(crop)).rank in range(1, 6)
    assert main(["export", str(seed_layout), "--out", str(ensemble), "--precision", "float"]) == 0  # its checkpoint
    capsys.readouterr()
    assert main(["average", str(seed_layout), str(ensemble), str(out), "--out", str(soup)]) != 0
    assert f"{ensemble} holds 2 networks" in capsys.readouterr().err
    assert main(["average", str(seed_layout), f"{ensemble}:3", str(out), "--out", str(soup)]) != 0
    assert "holds networks 1..2" in capsys.readouterr().err
    # One network of a run that holds several, paired with another run: the member is the network it was.
    pair = tmp_path / "pair"
    assert main(["average", str(seed_layout), f"{ensemble}:2", str(out), "--out", str(pair), "--of", "outputs"]) == 0
    paired = json.loads((pair / "manifest.json").read_text())["training"]["ensemble"]
    assert [a["run"] for a in paired] == [f"{ensemble}:2", str(out)] and paired[0]["training"]["draw"] == 1
    # (here the ensemble's own two networks again, so the pair reads as the ensemble does)
    whole = Chain(ensemble / "float", Config().wording.rank_texts).score(np.ascontiguousarray(crop))
    again = Chain(pair / "float", Config().wording.rank_texts).score(np.ascontiguousarray(crop))
    assert again.score == pytest.approx(whole.score, abs=1e-3) and again.p_woman == pytest.approx(whole.p_woman, abs=1e-4)
    stranger = json.loads((partner / "manifest.json").read_text())
    stranger["training"]["seed"] = 1  # it held out other photos: it has trained on this run's validation ones
    (partner / "manifest.json").write_text(json.dumps(stranger))
    capsys.readouterr()
    assert main(["refit", str(seed_layout), "--models", str(out), "--partner", str(partner)]) != 0
    assert "trained with seed 1, not 0" in capsys.readouterr().err
    (partner / "checkpoint.pt").unlink()  # a refit folder without its run: nothing to average
    assert main(["average", str(seed_layout), str(out), str(partner), "--out", str(soup)]) != 0
    assert "checkpoint.pt: no checkpoint" in capsys.readouterr().err

    config = tmp_path / "c.toml"
    config.write_text(f'[models]\ndir = "{out}"\n')
    capsys.readouterr()
    assert main(["--config", str(config), "eval", str(seed_layout), "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["photos"] == 10 and metrics["face_found"] == 1.0
    assert sum(map(sum, metrics["rank_confusion"])) == 10 and abs(sum(metrics["rank_shares"]) - 1) < 1e-6

    # The checkpoint rebuilds the files in the other precision without training again.
    assert main(["export", str(seed_layout), "--out", str(out), "--precision", "float"]) == 0
    rebuilt = json.loads((out / "manifest.json").read_text())
    assert rebuilt["precision"] == "float32" and rebuilt["training"] == manifest["training"]
    assert rebuilt["models"] == json.loads((out / "float" / "manifest.json").read_text())["models"]
    assert Chain(out, Config().wording.rank_texts).score(np.ascontiguousarray(crop)).rank in range(1, 6)

    # A network without its checkpoint (the shipped one) comes back from its float32 copy, here as mixed.
    again = tmp_path / "again"
    assert main(["export", str(seed_layout), "--out", str(again), "--network", str(out / "float"),
                 "--precision", "mixed"]) == 0
    mixed = json.loads((again / "manifest.json").read_text())
    assert mixed["precision"] == "int8, blocks 0-6 float32" and mixed["training"] == manifest["training"]
    assert (again / "checkpoint.pt").is_file()  # the rebuilt network, for `kiosk average`
    assert Chain(again, Config().wording.rank_texts).score(np.ascontiguousarray(crop)).rank in range(1, 6)
    capsys.readouterr()
    assert main(["export", str(seed_layout), "--out", str(again), "--network", str(again)]) != 0
    assert "give its float32 copy" in capsys.readouterr().err


def test_distilled_run_can_stop_at_its_checkpoint_and_export_finishes_it(seed_layout, tmp_path, capsys,
                                                                         astronaut_bgr):
    torch = pytest.importorskip("torch")
    out = tmp_path / "gpu-run"
    assert main(["train", str(seed_layout), "--out", str(out), "--epochs", "1", "--copies", "2",
                 "--val-fraction", "0.5", "--input-size", "128", "--teachers", "1", "--distill", "0.6",
                 "--device", "cpu", "--checkpoint-only", "--l1", "0.5", "--mixup", "0.4", "--dropout", "0.3",
                 "--weight-decay", "0.01", "--bins", "0.5", "--antialias"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint.pt"]  # no TensorFlow needed so far
    training = torch.load(out / "checkpoint.pt", map_location="cpu")["manifest"]["training"]
    assert training["antialias_from"] == 7  # and the export below rebuilds the network with its blurs
    assert (training["teachers"], training["distill"], training["device"]) == (1, 0.6, "cpu")
    assert (training["l1"], training["mixup"], training["dropout"], training["weight_decay"], training["bins"]) == (
        0.5, 0.4, 0.3, 0.01, 0.5)
    assert main(["export", str(seed_layout), "--out", str(out), "--precision", "float"]) == 0
    crop = np.ascontiguousarray(cv2.resize(astronaut_bgr, (128, 128))[:, :, ::-1])
    assert Chain(out, Config().wording.rank_texts).score(crop).rank in range(1, 6)

    capsys.readouterr()
    if not torch.cuda.is_available():
        assert main(["train", str(seed_layout), "--out", str(out), "--device", "cuda"]) != 0
        assert "sees no CUDA GPU; use --device cpu" in capsys.readouterr().err
    assert main(["train", str(seed_layout), "--out", str(out), "--teachers", "-1"]) != 0
    assert "teachers is a count" in capsys.readouterr().err
    assert main(["train", str(seed_layout), "--out", str(out), "--dropout", "1"]) != 0
    assert "dropout is a share from 0 to below 1" in capsys.readouterr().err
    assert main(["train", str(seed_layout), "--out", str(out), "--bins", "0,-1"]) != 0
    assert "--bins 0,-1" in capsys.readouterr().err
    assert main(["train", str(seed_layout), "--out", str(out), "--bins", "0.2,0.2"]) != 0
    assert "give each weight once" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", str(seed_layout), "--out", str(out), "--bins", "0;0.2"])
    assert "comma-separated, e.g. 0,0.2" in capsys.readouterr().err


def test_networks_trained_in_one_run_are_separate_runs_of_each_bins_weight_in_one_file(seed_layout, tmp_path,
                                                                                         astronaut_bgr):
    """The shipped recipe in one command: `--bins 0,0.2` is the runs of `--bins 0` and of `--bins 0.2`
    (the features cached once) with their outputs averaged, as `kiosk average --of outputs` makes."""
    from kiosk.training.average import ensemble_state
    from kiosk.training.train import load_checkpoint

    quick = ["--epochs", "1", "--copies", "2", "--val-fraction", "0.5", "--input-size", "128"]
    assert main(["train", str(seed_layout), "--out", str(tmp_path / "both"), *quick]) == 0  # the default weights
    for name, weight in (("plain", "0"), ("sorted", "0.2")):
        assert main(["train", str(seed_layout), "--out", str(tmp_path / name), "--bins", weight, *quick,
                     "--checkpoint-only"]) == 0
    both, plain, sorted_ = (load_checkpoint(tmp_path / n, "") for n in ("both", "plain", "sorted"))
    members = both["manifest"]["training"]["ensemble"]
    assert [m["training"]["bins"] for m in members] == [0.0, 0.2] and both["manifest"]["training"]["bins"] == 0.0
    assert not plain["state"]["heads.weight"].equal(sorted_["state"]["heads.weight"])  # the term changed the run
    expected = ensemble_state([plain["state"], sorted_["state"]], 7)
    assert both["state"].keys() == expected.keys()
    assert all(both["state"][key].equal(value) for key, value in expected.items())
    manifest = json.loads((tmp_path / "both" / "manifest.json").read_text())
    assert manifest["training"]["ensemble"] == members and list(manifest["models"]) == ["face"]
    crop = np.ascontiguousarray(cv2.resize(astronaut_bgr, (128, 128))[:, :, ::-1])
    assert Chain(tmp_path / "both", Config().wording.rank_texts).score(crop).rank in range(1, 6)


def test_distillation_pulls_the_targets_toward_the_teachers():
    """With distill 1 the network learns the ensemble's outputs, not the labels (and 0 the labels)."""
    torch = pytest.importorskip("torch")
    from kiosk.training.backbone import FaceNet, mobilenet_v2_features
    from kiosk.training.settings import TrainSettings
    from kiosk.training.train import fit_tail, tail_outputs

    torch.manual_seed(0)
    cache = torch.randn(2, 16, 320, 2, 2).half()  # 2 versions of 16 faces, at the last block's input
    genders = torch.tensor([0, 1] * 8)
    scores = torch.full((16,), 1.5)
    teacher = torch.zeros(2, 16, 3)
    teacher[..., 0] = torch.where(genders == 1, 6.0, -6.0)
    teacher[..., 1:] = 4.5
    learnt = {}
    for distill in (0.0, 1.0):
        torch.manual_seed(0)
        net = FaceNet(mobilenet_v2_features(), frozen_blocks=18)
        settings = TrainSettings(Path(), Path(), epochs=30, batch=16, lr=3e-3, distill=distill)
        fit_tail(net, cache, genders, scores, settings, teacher)
        out = tail_outputs(net, cache)
        learnt[distill] = out[:, torch.arange(16), 1 + genders].mean().item()
    assert abs(learnt[0.0] - 1.5) < 0.5 and abs(learnt[1.0] - 4.5) < 0.5, learnt


def test_consistency_compares_each_photos_two_versions_and_weighs_the_gender_as_asked():
    torch = pytest.importorskip("torch")
    from kiosk.training.train import version_gap

    # two photos, each version's rows in turn: photo 1 scored 3.0 then 3.5, photo 2 the same twice
    scores = torch.tensor([3.0, 2.0, 3.5, 2.0], requires_grad=True)
    logits = torch.tensor([1.0, -2.0, 3.0, -2.0], requires_grad=True)  # photo 1's logit moved by 2
    assert version_gap(scores, logits, 0.0).item() == pytest.approx(0.25 / 2)
    assert version_gap(scores, logits, 0.1).item() == pytest.approx(0.25 / 2 + 0.1 * 4 / 2)
    version_gap(scores, logits, 0.0).backward()  # the score alone: the gender head is left alone
    assert logits.grad is None or not logits.grad.any()


def test_mixup_blends_features_and_scores_alike_within_a_gender():
    torch = pytest.importorskip("torch")
    from kiosk.training.train import mix_same_gender

    torch.manual_seed(1)
    genders = torch.tensor([0, 0, 1, 1, 1, 0, 0, 1])
    scores = torch.arange(8, dtype=torch.float32)
    # each photo's features are its score everywhere, twice over (consistency's two versions)
    features = scores.repeat(2)[:, None, None, None].expand(16, 4, 2, 2).clone()
    mixed, targets = mix_same_gender(features, scores.repeat(2), genders, 2, alpha=0.4)
    assert torch.allclose(mixed[:, 0, 0, 0], targets)  # features and score blended with one weight
    assert torch.equal(targets[:8], targets[8:])  # both versions of a photo get the same blend
    men, women = scores[genders == 0], scores[genders == 1]
    for i in range(8):  # a blend of two photos of its own gender, itself weighted at least half
        own = men if genders[i] == 0 else women
        assert own.min() <= targets[i] <= own.max()
        assert abs(targets[i] - scores[i]) <= (own.max() - own.min()) / 2 + 1e-6


def test_random_versions_do_not_depend_on_the_number_of_threads(seed_layout, monkeypatch):
    from kiosk.training import train

    faces = train.face_crops(load_samples(seed_layout)[:6], Config(), 128)
    monkeypatch.setattr(train, "workers", lambda: 1)
    one = train.version(faces, 2, 0.25, 128, np.random.default_rng(3))
    monkeypatch.setattr(train, "workers", lambda: 4)
    assert np.array_equal(train.version(faces, 2, 0.25, 128, np.random.default_rng(3)), one)


def test_averaged_weights_are_the_mean_of_each_layer_whatever_part_was_frozen():
    pytest.importorskip("torch")
    import torch

    from kiosk.training.average import average_states
    from kiosk.training.backbone import FaceNet, mobilenet_v2_features

    torch.manual_seed(0)
    five, seven = FaceNet(mobilenet_v2_features(), 5), FaceNet(mobilenet_v2_features(), 7)
    mean = average_states([five.state_dict(), seven.state_dict()], 5)
    soup = FaceNet(mobilenet_v2_features(), 5)
    soup.load_state_dict(mean)  # strict: every layer present, keyed for blocks 0..4 frozen
    for name, ours in (("frozen.0.0.weight", "frozen.0.0.weight"), ("tail.6.conv.0.0.weight", "frozen.6.conv.0.0.weight"),
                       ("heads.bias", "heads.bias")):
        want = (five.state_dict()[name] + seven.state_dict()[ours]) / 2
        assert torch.allclose(soup.state_dict()[name], want)
    assert not torch.allclose(five.state_dict()["heads.bias"], seven.state_dict()["heads.bias"])
    with pytest.raises(KioskError, match="differ in their layers"):
        average_states([five.state_dict(), {"heads.bias": torch.zeros(3)}], 5)


def test_random_versions_move_the_box_and_change_the_camera(seed_layout):
    from kiosk.faces import FaceBox
    from kiosk.training.augment import BOX_SCALE, BOX_SHIFT, camera, jitter_box
    from kiosk.training.train import face_crops, version

    rng = np.random.default_rng(0)
    box = FaceBox(100, 100, 200, 200)
    for _ in range(50):
        b = jitter_box(box, rng)
        assert abs(b.x + b.w / 2 - 200) <= BOX_SHIFT * 200 + 1 and abs(b.y + b.h / 2 - 200) <= BOX_SHIFT * 200 + 1
        assert np.exp(-BOX_SCALE) * 200 - 1 <= b.w <= np.exp(BOX_SCALE) * 200 + 1
    faces = face_crops(load_samples(seed_layout)[:4], Config(), 224)
    assert faces.crops.shape == (4, 224, 224, 3) and len(faces.contexts) == 4
    assert np.array_equal(version(faces, 0, 0.25, 224, rng), faces.crops)
    assert np.array_equal(version(faces, 1, 0.25, 224, rng), faces.crops[:, :, ::-1])
    random = version(faces, 2, 0.25, 224, rng)
    assert random.shape == faces.crops.shape and random.dtype == np.uint8
    assert not np.array_equal(random, faces.crops)
    brightness = [camera(faces.crops[0], rng).mean() for _ in range(40)]
    assert max(brightness) - min(brightness) > 40  # exposure x0.5..x1.5 and gamma really vary


def test_tflite_export_matches_torch_head_by_head():
    import torch

    from kiosk.training.export import OUTPUTS, output_names, tflite_model

    net = folded_net()
    x = np.random.default_rng(0).standard_normal((64, 64, 3)).astype(np.float32)
    expected = net(torch.from_numpy(x).permute(2, 0, 1)[None]).detach().numpy()[0]
    outputs = model_outputs(tflite_model(net, 64, quantize=False), x)
    for i, (head, tensor) in enumerate(output_names().items()):
        assert head == OUTPUTS[i] == ("gender_logit", "man", "woman")[i]
        got = float(outputs[tensor].reshape(-1)[0])
        assert abs(got - expected[i]) < 1e-3 * max(1, abs(expected[i])), head


def test_rank_shares_set_the_boundaries_and_are_checked(capsys):
    from kiosk.training.settings import parse_rank_shares
    from kiosk.training.train import rank_boundaries

    assert parse_rank_shares("10,25,30,25,10") == (0.1, 0.25, 0.3, 0.25, 0.1)
    for bad in ("20,20,20,20", "50,20,10,10,10", "4,26,40,20,10", "a,b,c,d,e", "20,20,20,20,30"):
        with pytest.raises(ValueError, match="rank shares"):
            parse_rank_shares(bad)
    with pytest.raises(SystemExit):  # argparse: usage and the one-line reason, no traceback
        main(["train", "x", "--rank-shares", "50,20,10,10,10"])
    for command in ("refit", "train"):
        for bad in ("-1", "4", "soft"):
            with pytest.raises(SystemExit):
                main([command, "x", "--smooth", bad])
            assert "give a blur sigma from 0 to 3 pixels" in capsys.readouterr().err
    scores = np.random.default_rng(0).normal(3, 0.5, 2000)
    genders = np.repeat([0, 1], 1000)
    cuts = rank_boundaries(scores, genders, (0.1, 0.25, 0.3, 0.25, 0.1))
    for g, name in enumerate(("man", "woman")):
        ranks = np.searchsorted(cuts[name], scores[genders == g], side="right") + 1
        shares = [np.mean(ranks == r) for r in range(1, 6)]
        assert np.allclose(shares, [0.1, 0.25, 0.3, 0.25, 0.1], atol=0.002)
    default = rank_boundaries(scores, genders)  # 6/26/38/20/10%: cuts at the 6/32/70/90% quantiles
    assert np.allclose(default["man"], np.quantile(scores[:1000], [0.06, 0.32, 0.70, 0.90]), atol=1e-4)
    equal = rank_boundaries(scores, genders, (0.2,) * 5)
    assert np.allclose(equal["woman"], np.quantile(scores[1000:], [0.2, 0.4, 0.6, 0.8]), atol=1e-4)


def test_score_bins_loss_is_least_for_the_photos_own_score_and_gender():
    torch = pytest.importorskip("torch")
    from kiosk.training.train import SCORE_BINS, score_bins_loss

    k = len(SCORE_BINS)
    scores, genders = torch.tensor([2.0, 4.0]), torch.tensor([0, 1])

    def peaked(at: list[float], block: list[int]) -> torch.Tensor:  # logits peaked at a score, in one gender's bins
        logits = torch.zeros(2, 2 * k)
        for row, (score, b) in enumerate(zip(at, block)):
            logits[row, b * k:(b + 1) * k] = -torch.as_tensor((SCORE_BINS - score) ** 2 / 0.125, dtype=torch.float32)
        return logits

    right = score_bins_loss(peaked([2.0, 4.0], [0, 1]), scores, genders)
    assert right < score_bins_loss(peaked([2.5, 3.5], [0, 1]), scores, genders)
    assert right < score_bins_loss(peaked([2.0, 4.0], [1, 0]), scores, genders)  # the other gender's bins


def test_a_float_model_gives_back_its_network_and_mixed_keeps_the_first_blocks_float(tmp_path):
    import tensorflow as tf
    import torch

    from kiosk.training.export import network_from_float, tflite_model, write_models

    net = folded_net()
    folder = write_models(tmp_path / "float", tflite_model(net, 64, quantize=False),
                          {"training": {"frozen_blocks": 7}, "precision": "float32"}).parent
    rebuilt, manifest = network_from_float(folder)
    assert manifest == {"training": {"frozen_blocks": 7}}
    x = torch.from_numpy(np.random.default_rng(0).standard_normal((1, 3, 64, 64)).astype(np.float32))
    with torch.no_grad():
        assert torch.allclose(rebuilt(x), net(x), atol=1e-3)

    calibration = [np.random.default_rng(i).standard_normal((64, 64, 3)).astype(np.float32) for i in range(4)]
    interpreter = tf.lite.Interpreter(model_content=tflite_model(net, 64, True, calibration, float_blocks=7))
    convs = {d["name"]: d["dtype"] for d in interpreter.get_tensor_details()
             if "Conv2D" in d["name"] or "depthwise" in d["name"]}
    assert {n.split("/")[0] for n, t in convs.items() if t == np.float32} == {f"float{i}" for i in range(7)}
    assert all(t == np.int8 for n, t in convs.items() if n.startswith("block"))


def test_an_ensemble_in_one_file_averages_its_members_and_comes_back_from_its_float_copy(tmp_path):
    import tensorflow as tf
    import torch

    from kiosk.training.average import ensemble_state
    from kiosk.training.backbone import FaceNet, mobilenet_v2_features, network
    from kiosk.training.export import network_from_float, tflite_model, write_models

    torch.manual_seed(0)
    runs = [FaceNet(mobilenet_v2_features(), frozen_blocks=7) for _ in range(2)]
    for net in runs:
        for module in net.modules():  # BatchNorm that really scales, so the folding must be undone right
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
        net.eval()
    with pytest.raises(KioskError, match="blocks 0-6 differ"):  # each its own random frozen blocks
        ensemble_state([n.state_dict() for n in runs], 7)
    runs[1].frozen.load_state_dict(runs[0].frozen.state_dict())  # as `kiosk train` leaves them: ImageNet's
    runs[0].heads.bias.data = torch.tensor([0.0, 10.0, 20.0])
    runs[1].heads.bias.data = torch.tensor([4.0, -6.0, 30.0])  # members far apart: a swapped head shows
    training = {"frozen_blocks": 7, "ensemble": [{"run": "a"}, {"run": "b"}]}
    ensemble = network(training)
    ensemble.load_state_dict(ensemble_state([n.state_dict() for n in runs], 7))
    ensemble.eval()
    x = torch.from_numpy(np.random.default_rng(0).standard_normal((1, 3, 64, 64)).astype(np.float32))
    with torch.no_grad():
        assert torch.allclose(ensemble(x), (runs[0](x) + runs[1](x)) / 2, atol=1e-5)

    folder = write_models(tmp_path / "float", tflite_model(ensemble, 64, quantize=False),
                          {"training": training, "precision": "float32"}).parent
    outputs = model_outputs((folder / "face.tflite").read_bytes(), x.permute(0, 2, 3, 1).numpy()[0])
    got = [float(outputs[t].reshape(-1)[0]) for t in ("Identity", "Identity_1", "Identity_2")]
    assert np.allclose(got, ensemble(x).detach().numpy()[0], atol=1e-3)
    rebuilt, manifest = network_from_float(folder)  # each member's convs and heads back in their places
    assert manifest == {"training": training}
    with torch.no_grad():
        assert torch.allclose(rebuilt(x), ensemble(x), atol=1e-3)
        assert torch.allclose(rebuilt.heads[1].bias, runs[1].heads.bias)

    calibration = [np.random.default_rng(i).standard_normal((64, 64, 3)).astype(np.float32) for i in range(4)]
    mixed = tf.lite.Interpreter(model_content=tflite_model(ensemble, 64, True, calibration, float_blocks=7))
    convs = {d["name"]: d["dtype"] for d in mixed.get_tensor_details()
             if "Conv2D" in d["name"] or "depthwise" in d["name"]}
    assert {n.split("/")[0] for n, t in convs.items() if t == np.float32} == {f"float{i}" for i in range(7)}
    assert any(n.startswith("member1_block") for n in convs)
    assert all(t == np.int8 for n, t in convs.items() if not n.startswith("float"))


def test_training_applies_each_exposure_step_as_the_chain_does(astronaut_bgr):
    from kiosk.chain import EXPOSURES
    from kiosk.training.settings import EXPOSURE_STEPS
    from kiosk.training.train import exposure_step

    assert set(EXPOSURE_STEPS) == set(EXPOSURES)  # the CLI offers every step the chain knows

    crops = np.stack([cv2.resize(astronaut_bgr[:300, 100:400], (64, 64)), cv2.resize(astronaut_bgr[:200, :200], (64, 64))])
    for name, step in EXPOSURES.items():
        trained = exposure_step(name)(crops)
        assert all(np.array_equal(t, step(c)) for t, c in zip(trained, crops)), name
    assert not np.array_equal(exposure_step("tone")(crops), exposure_step("even")(crops))
    # a manifest's smoothing first, as Chain.inputs does (export calibrates int8 on such crops)
    smoothed = exposure_step("tone", 0.7)(crops)
    assert all(np.array_equal(t, EXPOSURES["tone"](cv2.GaussianBlur(c, (0, 0), 0.7))) for t, c in zip(smoothed, crops))
    assert not np.array_equal(smoothed, exposure_step("tone")(crops))


def test_runs_of_other_smoothing_do_not_make_one_file(tmp_path):
    from kiosk.errors import KioskError
    from kiosk.training.train import refit_verdict, same_photos_and_input

    pre, training = {"input_size": 224, "exposure": "tone"}, {"seed": 0}
    keys = ("input_size", "exposure", "smooth")
    same_photos_and_input(tmp_path, {"preprocess": dict(pre, smooth=0.0), "training": training}, pre, training, keys)
    with pytest.raises(KioskError, match="preprocess.smooth is 0.7, not 0.0 as here; the runs must take the same input"):
        same_photos_and_input(tmp_path, {"preprocess": dict(pre, smooth=0.7), "training": training}, pre, training, keys)
    with pytest.raises(KioskError, match="refit: smooth 5 is not a blur sigma from 0 to 3 pixels"):
        refit_verdict(tmp_path, tmp_path, Config(), smooth=5.0)  # refused before anything is read or written


def test_antialiased_blocks_blur_before_their_stride_export_alike_and_come_back_from_float(tmp_path):
    import torch

    from kiosk.training.backbone import BlurPool, pretrained_features
    from kiosk.training.export import network_from_float, output_names, tflite_model, write_models
    from kiosk.training.settings import TrainSettings
    from kiosk.training.train import fresh_net

    # only the stride-2 blocks from the given one on (7 and 14 of MobileNetV2), with the ImageNet weights
    plain, smooth = pretrained_features(), pretrained_features(antialias_from=7)
    blurred = lambda blocks: [i for i, b in enumerate(blocks) if getattr(b, "blur", None) is not None]
    assert blurred(smooth) == [7, 14] and blurred(plain) == []
    started = fresh_net(TrainSettings(data=tmp_path, out=tmp_path, antialias=True), torch.device("cpu"), 0)
    assert blurred([*started.frozen, *started.tail]) == [7, 14]  # what `kiosk train --antialias` trains
    assert all(torch.equal(a, b) for a, b in zip(plain.state_dict().values(), smooth.state_dict().values()))
    x = torch.from_numpy(np.random.default_rng(1).standard_normal((1, 3, 64, 64)).astype(np.float32))
    with torch.no_grad():
        assert torch.equal(plain[:7](x), smooth[:7](x))  # the frozen, cached blocks are untouched
        assert smooth(x).shape == plain(x).shape

    # the blur: a constant stays constant inside, and a one-pixel checkerboard (pure aliasing) is gone
    checker = torch.from_numpy((np.indices((8, 8)).sum(0) % 2).astype(np.float32))[None, None]
    low = BlurPool()(checker)
    assert low.shape == (1, 1, 4, 4)
    assert torch.allclose(low[..., 1:, 1:], torch.full((1, 1, 3, 3), 0.5))
    assert torch.allclose(BlurPool()(torch.ones(1, 1, 8, 8))[..., 1:, 1:], torch.ones(1, 1, 3, 3))

    net = folded_net(antialias_from=7)
    image = np.random.default_rng(0).standard_normal((64, 64, 3)).astype(np.float32)
    with torch.no_grad():
        expected = net(torch.from_numpy(image).permute(2, 0, 1)[None]).numpy()[0]
    model = tflite_model(net, 64, quantize=False)
    outputs = model_outputs(model, image)
    got = [float(outputs[tensor].reshape(-1)[0]) for tensor in output_names().values()]
    assert np.allclose(got, expected, rtol=0, atol=1e-4)  # a blur a pixel off reads 1e-3 or more apart

    training = {"frozen_blocks": 7, "antialias_from": 7}
    folder = write_models(tmp_path / "float", model, {"training": training, "precision": "float32"}).parent
    rebuilt, _ = network_from_float(folder)
    with torch.no_grad():
        x = torch.from_numpy(image).permute(2, 0, 1)[None]
        assert torch.allclose(rebuilt(x), net(x), atol=1e-4)

    # int8 but the frozen blocks, as shipped: the blur's fixed depthwise conv quantizes too
    calibration = [np.random.default_rng(i).standard_normal((64, 64, 3)).astype(np.float32) for i in range(4)]
    int8 = model_outputs(tflite_model(net, 64, True, calibration, float_blocks=7), image)
    assert all(np.isfinite(v).all() for v in int8.values())


def test_runs_built_otherwise_do_not_make_one_file(tmp_path):
    from kiosk.errors import KioskError
    from kiosk.training.train import same_blocks

    same_blocks(tmp_path, {"training": {"antialias_from": 7}}, {"antialias_from": 7})
    same_blocks(tmp_path, {"training": {}}, {"seed": 0})
    with pytest.raises(KioskError, match="trained with --antialias from block 7, not without --antialias as the"):
        same_blocks(tmp_path, {"training": {"antialias_from": 7}}, {"seed": 0})


def test_a_draw_reseeds_the_run_apart_from_every_seed():
    from kiosk.training.settings import TrainSettings
    from kiosk.training.train import run_seed

    def seed_of(seed, draw):
        return run_seed(TrainSettings(Path(), Path(), seed=seed, draw=draw))

    # Draw 0 is the seed itself, so every run made before draws existed comes out the same again.
    assert seed_of(0, 0) == 0 and seed_of(3, 0) == 3
    draws = {seed_of(0, d) for d in range(1, 6)} | {seed_of(1, 1)}
    assert len(draws) == 6 and not draws & {0, 1, 2, 3, 4, 5} and seed_of(0, 1) == seed_of(0, 1)


def test_a_negative_draw_is_refused_before_training(seed_layout, tmp_path, capsys):
    assert main(["train", str(seed_layout), "--out", str(tmp_path / "m"), "--draw", "-1"]) != 0
    assert "--draw -1" in capsys.readouterr().err


def test_the_validation_halves_alternate_through_the_split(seed_layout):
    from kiosk.evaluation import select

    training = {"val_fraction": 0.5, "seed": 0}
    val = select(seed_layout, "val", training)
    a, b = select(seed_layout, "val-a", training), select(seed_layout, "val-b", training)
    assert len(val) == 10 and a == val[0::2] and b == val[1::2]  # the split's order: its groups in turn
    assert {s.path for s in a}.isdisjoint(s.path for s in b)
    assert {s.gender for s in a} == {s.gender for s in b} == {0, 1}


def test_pair_measures_read_each_faces_own_gender_and_do_not_guess_a_zero_logit():
    from kiosk.training.pairs import measures

    human = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    gender = np.array([0, 1, 0, 1, 0])
    # [gender logit, man score, woman score]: the other gender's score is noise that must not count
    output = np.array([[-2.0, 1.1, 9.0], [0.0, -5.0, 2.2], [-1.0, 2.9, 0.0], [3.0, 7.0, 3.8], [0.0, 5.1, -4.0]])
    r, gender_ok = measures(output, human, gender)
    assert r == pytest.approx(np.corrcoef([1.1, 2.2, 2.9, 3.8, 5.1], human)[0, 1])
    assert gender_ok == 0.6  # an exact 0 is neither a woman nor a man


def test_pairs_ranks_every_pair_of_the_runs_networks_on_half_a(seed_layout, tmp_path, capsys):
    torch = pytest.importorskip("torch")
    from kiosk.training.dataset import half
    from kiosk.training.pairs import measures, validation_outputs

    quick = ["--epochs", "1", "--copies", "2", "--val-fraction", "0.5", "--input-size", "128"]
    run = tmp_path / "run"
    assert main(["train", str(seed_layout), "--out", str(run), *quick, "--bins", "0,0.1,0.2",
                 "--checkpoint-only"]) == 0  # three networks in one run
    capsys.readouterr()
    assert main(["pairs", str(seed_layout), str(run)]) == 0
    out = capsys.readouterr().out
    assert "validation faces: 10 (half A 5, half B 5); float32, each crop and its mirror image" in out
    assert all(f"{run}:{i}  half A: r" in out for i in (1, 2, 3))
    pair_lines = [line for line in out.splitlines() if " + " in line]
    assert len(pair_lines) == 3
    half_a = [float(line.split("half A: r ")[1].split(",")[0]) for line in pair_lines]
    assert half_a == sorted(half_a, reverse=True)  # best first
    # each face in the half `kiosk eval --subset` puts it in, and a pair's line its mean output's measure
    outputs, human, gender, halves, _ = validation_outputs([str(run)], seed_layout, Config())
    val = split(load_samples(seed_layout), 0.5, 0)[1]
    assert list(human[halves == "a"]) == [s.score for s in half(val, "a")]
    assert list(human[halves == "b"]) == [s.score for s in half(val, "b")]
    a, b = pair_lines[0].split("  ")[0].split(" + ")
    r, _ = measures(((outputs[a] + outputs[b]) / 2)[halves == "a"], human[halves == "a"], gender[halves == "a"])
    assert f"{r:.4f}" == f"{half_a[0]:.4f}"

    assert main(["pairs", str(seed_layout), f"{run}:2", f"{run}:2"]) == 2  # one network named twice: no pair
    assert "at least two networks" in capsys.readouterr().err
    assert main(["pairs", str(seed_layout), f"{run}:4", str(run)]) == 2
    assert f"holds networks 1..3; name one as {run}:1..3" in capsys.readouterr().err

    saved = torch.load(run / "checkpoint.pt", map_location="cpu")
    saved["manifest"]["training"]["seed"] = 1  # a run of another split: it trained on these photos
    (tmp_path / "other").mkdir()
    torch.save(saved, tmp_path / "other" / "checkpoint.pt")
    assert main(["pairs", str(seed_layout), str(run), str(tmp_path / "other")]) == 2
    assert "has seen this folder's validation photos" in capsys.readouterr().err
