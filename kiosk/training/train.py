"""`kiosk train`: Haar crops -> cached frozen MobileNetV2 features -> fine-tuned tail -> TFLite.

Blocks 0..10 keep their ImageNet weights, so their output for each augmented crop is computed once
and cached; only blocks 11..18 and the heads train. That makes a full run fit in about 20 minutes
on two CPU cores (see models/README.md).
"""

from __future__ import annotations

import datetime
import sys
from dataclasses import dataclass
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

import cv2

from ..chain import GENDERS, even_exposure, normalise
from ..config import Config
from ..faces import FaceBox, FaceDetector, crop_box, crop_face, largest_face_crop
from ..photo import PhotoError, read_photo
from .augment import BOX_SCALE, BOX_SHIFT, augment, jitter_box
from .settings import TrainSettings
from .dataset import Sample, load_samples, split

INPUT_SIZE = 224


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass
class Faces:
    """Each kept photo's booth crop, plus the surroundings to cut it again around a moved box."""
    crops: np.ndarray  # [N, size, size, 3] RGB, exactly as `kiosk score` cuts them
    contexts: list  # per face: (BGR patch around the face, the Haar box in that patch's pixels)
    samples: list


def face_crops(samples: list[Sample], config: Config, size: int) -> Faces:
    """Crop each sample's face exactly as `kiosk score` does; samples without a face are dropped."""
    detector = FaceDetector(config.detection)
    margin = config.detection.crop_margin

    def one(sample: Sample):
        try:
            image = read_photo(sample.path, config.scoring.max_megapixels).image
        except PhotoError as exc:
            return None, f"{sample.path}: {exc}"
        detection, crop = largest_face_crop(image, detector, margin, size)
        if crop is None:
            return None, f"{sample.path}: no face found"
        return (crop, face_context(image, detection.chosen, margin, size)), None

    crops, contexts, kept, problems = [], [], [], []
    with ThreadPoolExecutor(max_workers=2) as pool:  # OpenCV releases the GIL
        for i, (sample, (found, problem)) in enumerate(zip(samples, pool.map(one, samples)), 1):
            if found is None:
                problems.append(problem)
            else:
                crops.append(found[0])
                contexts.append(found[1])
                kept.append(sample)
            if i % 500 == 0 or i == len(samples):
                log(f"  cropped {i}/{len(samples)} photos, {len(problems)} without a usable face")
    for problem in problems[:10]:
        log(f"  skipped {problem}")
    if not crops:
        raise SystemExit("no faces found in the training photos")
    return Faces(np.stack(crops), contexts, kept)


def face_context(image: np.ndarray, box: FaceBox, margin: float, size: int) -> tuple[np.ndarray, FaceBox]:
    """The photo around the face with room for a jittered box, shrunk to about the crop's scale
    (so large photos do not fill memory), and the box in its pixels."""
    c = crop_box(box, margin + 2 * (BOX_SHIFT + BOX_SCALE))
    x0, y0 = max(c.x, 0), max(c.y, 0)
    patch = image[y0:min(c.y + c.h, image.shape[0]), x0:min(c.x + c.w, image.shape[1])]
    k = min(1.0, 1.5 * size / max(c.w, 1))
    if k < 1.0:
        patch = cv2.resize(patch, (round(patch.shape[1] * k), round(patch.shape[0] * k)),
                           interpolation=cv2.INTER_AREA)
    moved = FaceBox(box.x - x0, box.y - y0, box.w, box.h)
    return patch, FaceBox(*(round(v * k) for v in moved.as_list()))


def version(faces: Faces, copy: int, margin: float, size: int, rng: np.random.Generator) -> np.ndarray:
    """Version `copy` of every training crop: 0 plain, 1 mirrored, then framing and camera changes."""
    if copy == 0:
        return faces.crops
    if copy == 1:
        return faces.crops[:, :, ::-1]
    return np.stack([augment(crop_face(patch, jitter_box(box, rng), margin, size), rng)
                     for patch, box in faces.contexts])


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
    faces = face_crops(train_set, config, INPUT_SIZE)
    train_set, margin = faces.samples, config.detection.crop_margin
    exposed = exposure_step(settings.exposure)
    net = FaceNet(pretrained_features(), settings.frozen_blocks)
    net.frozen.eval()

    def frozen_features(batch_crops: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(normalise(batch_crops, IMAGENET_MEAN, IMAGENET_STD)).permute(0, 3, 1, 2)
        with torch.no_grad():
            return net.frozen(x).half()

    log(f"caching frozen features of {settings.copies} versions of each crop")
    cache = []
    for copy in range(settings.copies):
        versions = exposed(version(faces, copy, margin, INPUT_SIZE, rng))
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
                       "crop_margin": config.detection.crop_margin, "exposure": settings.exposure},
        "labels": {"gender": {"0": "man", "1": "woman"}, "rank": "1 = worst ... 5 = best"},
        "rank_boundaries": boundaries,
        "training": {"data": str(settings.data), "photos": len(samples), "train_faces": len(train_set),
                     "validation_photos": len(val_set), "val_fraction": settings.val_fraction,
                     "seed": settings.seed, "frozen_blocks": settings.frozen_blocks, "epochs": settings.epochs, "copies": settings.copies,
                     "date": datetime.date.today().isoformat()},
    }
    calibration = exposed(faces.crops[rng.choice(len(faces.crops), min(200, len(faces.crops)), replace=False)])
    path = export(net, manifest, settings.out, settings.precision, calibration)
    log(f"wrote {path}, the three models and a float32 copy in {settings.out / 'float'} "
        f"({(time.time() - started) / 60:.1f} min in all)")
    return path


def exposure_step(exposure: str):
    """The manifest's `preprocess.exposure` as a function of a batch of crops (the chain does the same)."""
    if exposure == "none":
        return lambda crops: crops
    return lambda crops: np.stack([even_exposure(c) for c in crops])


def fit_tail(net, cache, genders, scores, settings: TrainSettings) -> None:
    """Train blocks 14..18 and the heads: score MSE on the sample's own gender head + gender BCE."""
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
    crops = face_crops(picked, config, INPUT_SIZE).crops
    exposed = exposure_step(manifest["preprocess"].get("exposure", "none"))
    return export(net, manifest, out, precision, exposed(crops[:200]))
