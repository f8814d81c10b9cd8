"""`kiosk train`: Haar crops -> cached frozen MobileNetV2 features -> fine-tuned tail -> TFLite.

Blocks 0..10 keep their ImageNet weights, so their output for each augmented crop is computed once
and cached; only blocks 11..18 and the heads train. That makes a full run fit in about 20 minutes
on two CPU cores (see models/README.md).
"""

from __future__ import annotations

import datetime
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from ..chain import GENDERS, normalise
from ..config import Config
from ..faces import FaceDetector, largest_face_crop
from ..photo import PhotoError, read_photo
from .augment import augment
from .settings import TrainSettings
from .dataset import Sample, load_samples, split
from ..errors import KioskError

INPUT_SIZE = 224


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def face_crops(samples: list[Sample], config: Config, size: int) -> tuple[np.ndarray, list[Sample]]:
    """Crop each sample's face exactly as `kiosk score` does; samples without a face are dropped."""
    detector = FaceDetector(config.detection)

    def one(sample: Sample):
        try:
            image = read_photo(sample.path, config.photos).image
        except PhotoError as exc:
            return None, f"{sample.path}: {exc}"
        _, crop = largest_face_crop(image, detector, config.detection.crop_margin, size)
        return crop, None if crop is not None else f"{sample.path}: no face found"

    crops, kept, problems = [], [], []
    with ThreadPoolExecutor(max_workers=2) as pool:  # OpenCV releases the GIL
        for i, (sample, (crop, problem)) in enumerate(zip(samples, pool.map(one, samples)), 1):
            if crop is None:
                problems.append(problem)
            else:
                crops.append(crop)
                kept.append(sample)
            if i % 500 == 0 or i == len(samples):
                log(f"  cropped {i}/{len(samples)} photos, {len(problems)} without a usable face")
    for problem in problems[:10]:
        log(f"  skipped {problem}")
    if not crops:
        raise KioskError("no faces found in the training photos")
    return np.stack(crops), kept


def train(settings: TrainSettings, config: Config) -> Path:
    import torch

    from .backbone import IMAGENET_MEAN, IMAGENET_STD, FaceNet, pretrained_features

    torch.manual_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)
    started = time.time()
    samples = load_samples(settings.data)
    if settings.limit:
        samples = samples[:settings.limit]
    train_set, val_set = split(samples, settings.val_fraction, settings.seed)
    log(f"{len(samples)} photos: {len(train_set)} to train, {len(val_set)} held out for validation")

    log("cropping faces (Haar, same code as the booth)")
    crops, train_set = face_crops(train_set, config, INPUT_SIZE)
    net = FaceNet(pretrained_features(), settings.frozen_blocks)
    net.frozen.eval()

    def frozen_features(batch_crops: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(normalise(batch_crops, IMAGENET_MEAN, IMAGENET_STD)).permute(0, 3, 1, 2)
        with torch.no_grad():
            return net.frozen(x).half()

    log(f"caching frozen features of {settings.copies} versions of each crop")
    cache = []
    for copy in range(settings.copies):
        if copy == 0:
            versions = crops
        elif copy == 1:
            versions = crops[:, :, ::-1]
        else:
            versions = np.stack([augment(c, rng) for c in crops])
        cache.append(torch.cat([frozen_features(np.ascontiguousarray(versions[i:i + 64]))
                                for i in range(0, len(versions), 64)]))
        log(f"  version {copy + 1}/{settings.copies} done ({time.time() - started:.0f} s)")
    cache = torch.stack(cache)  # [copies, N, C, H, W]

    genders = torch.tensor([s.gender for s in train_set])
    scores = torch.tensor([s.score for s in train_set], dtype=torch.float32)
    fit_tail(net, cache, genders, scores, settings)

    net.eval()
    with torch.no_grad():
        plain = torch.cat([net.forward_tail(cache[0, i:i + 128].float()) for i in range(0, len(train_set), 128)])
    boundaries = rank_boundaries(plain, genders)
    log(f"rank boundaries (quantiles of predicted training scores): {boundaries}")

    settings.out.mkdir(parents=True, exist_ok=True)
    torch.save(net.state_dict(), settings.out / "checkpoint.pt")  # kept out of git; `kiosk export` reuses it
    manifest = {
        "preprocess": {"input_size": INPUT_SIZE, "colour": "RGB", "mean": IMAGENET_MEAN,
                       "std": IMAGENET_STD, "scale": "x/255, then (x - mean) / std",
                       "crop_margin": config.detection.crop_margin},
        "labels": {"gender": {"0": "man", "1": "woman"}, "rank": "1 = worst ... 5 = best"},
        "rank_boundaries": boundaries,
        "training": {"data": str(settings.data), "photos": len(samples), "train_faces": len(train_set),
                     "validation_photos": len(val_set), "val_fraction": settings.val_fraction,
                     "seed": settings.seed, "frozen_blocks": settings.frozen_blocks, "epochs": settings.epochs, "copies": settings.copies,
                     "date": datetime.date.today().isoformat()},
    }
    calibration = crops[rng.choice(len(crops), min(200, len(crops)), replace=False)]
    path = export(net, manifest, settings.out, settings.precision, calibration)
    log(f"wrote {path}, the three models and a float32 copy in {settings.out / 'float'} "
        f"({(time.time() - started) / 60:.1f} min in all)")
    return path


def fit_tail(net, cache, genders, scores, settings: TrainSettings) -> None:
    """Train the unfrozen blocks and the heads: score MSE on the sample's own gender head + gender BCE."""
    import torch

    n = len(genders)
    net.heads.bias.data[1:] = scores.mean()  # start the score heads at the mean rating
    params = list(net.tail.parameters()) + list(net.heads.parameters())
    optimiser = torch.optim.AdamW(params, lr=settings.lr, weight_decay=1e-4)
    steps = settings.epochs * ((n + settings.batch - 1) // settings.batch)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, settings.lr, total_steps=max(steps, 1),
                                                   pct_start=0.15)
    bce = torch.nn.BCEWithLogitsLoss()
    for epoch in range(settings.epochs):
        net.tail.train()
        net.dropout.train()
        order = torch.randperm(n)
        version = torch.randint(0, cache.shape[0], (n,))
        total, started = 0.0, time.time()
        for i in range(0, n, settings.batch):
            idx = order[i:i + settings.batch]
            out = net.forward_tail(cache[version[idx], idx].float())
            g, s = genders[idx], scores[idx]
            predicted = out[torch.arange(len(idx)), 1 + g]
            loss = torch.nn.functional.mse_loss(predicted, s) + 0.5 * bce(out[:, 0], g.float())
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            total += loss.item() * len(idx)
        log(f"  epoch {epoch + 1}/{settings.epochs}: loss {total / n:.4f} ({time.time() - started:.0f} s)")


def rank_boundaries(outputs, genders) -> dict[str, list[float]]:
    """Per gender, the 20/40/60/80% quantiles of predicted scores, so the five ranks are used evenly
    even though human ratings cluster around 3."""
    result = {}
    for g, name in enumerate(GENDERS):
        predicted = outputs[genders == g, 1 + g].numpy()
        if len(predicted) < 5:  # too few photos (smoke runs): fall back to the rating scale's steps
            result[name] = [1.8, 2.6, 3.4, 4.2]
        else:
            result[name] = [round(float(q), 4) for q in np.quantile(predicted, [0.2, 0.4, 0.6, 0.8])]
    return result


def export(net, manifest: dict, out: Path, precision: str, calibration_crops: np.ndarray) -> Path:
    """Write the shipped models (int8 or float32) to `out` and a float32 copy to `out/float`."""
    from .backbone import IMAGENET_MEAN, IMAGENET_STD
    from .export import tflite_models, write_models

    write_models(out / "float", tflite_models(net, INPUT_SIZE, quantize=False), dict(manifest, precision="float32"))
    if precision == "float":
        return write_models(out, tflite_models(net, INPUT_SIZE, quantize=False), dict(manifest, precision="float32"))
    # int8 weights and activations, float input and output; the crops set the activation ranges.
    calibration = normalise(calibration_crops, IMAGENET_MEAN, IMAGENET_STD)
    return write_models(out, tflite_models(net, INPUT_SIZE, quantize=True, calibration=calibration),
                        dict(manifest, precision="int8"))


def export_checkpoint(out: Path, data: Path, precision: str, config: Config) -> Path:
    """Re-export `out/checkpoint.pt` (e.g. in another precision) without training again."""
    import json

    import torch

    from .backbone import FaceNet, mobilenet_v2_features

    manifest = json.loads((out / "float" / "manifest.json").read_text())
    manifest.pop("models", None)
    manifest.pop("precision", None)
    t = manifest["training"]
    net = FaceNet(mobilenet_v2_features(), t["frozen_blocks"])
    net.load_state_dict(torch.load(out / "checkpoint.pt", map_location="cpu"))
    net.eval()
    samples = load_samples(data)
    train_set, _ = split(samples, t["val_fraction"], t["seed"])
    rng = np.random.default_rng(t["seed"])
    picked = [train_set[i] for i in rng.choice(len(train_set), min(240, len(train_set)), replace=False)]
    crops, _ = face_crops(picked, config, INPUT_SIZE)
    return export(net, manifest, out, precision, crops[:200])
