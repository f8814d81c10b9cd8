"""`kiosk train`: Haar crops -> cached frozen MobileNetV2 features -> fine-tuned tail -> TFLite.

Blocks 0..6 (`--frozen-blocks`) keep their ImageNet weights, so their output for each augmented crop
is computed once and cached; only blocks 7..18 and the heads train. One network is trained per
`--bins` weight on that cache (the shipped recipe: two, written as one file with their outputs
averaged), so the whole recipe fits in 31–43 minutes on two CPU cores (see models/README.md); a CUDA
GPU, when PyTorch sees one, holds the cache and trains in minutes.

With `--teachers N` the network is distilled from an ensemble: N networks (other seeds) train first on
the same cached versions, and the shipped one then learns from their mean outputs on each version as
well as from the raters' scores, so that one network (the chain's cost) might carry part of the
ensemble's gain. Measured on a GPU it did not pay here (models/README.md); kept so it can be re-measured.
"""

from __future__ import annotations

import datetime
import os
import sys
from dataclasses import MISSING, dataclass, fields
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

import cv2

from ..chain import GENDERS, SMOOTH_RANGE, Manifest, input_step, normalise, smooth_ok
from ..config import Config
from ..faces import FaceBox, FaceDetector, crop_box, crop_face, largest_face_crop
from ..photo import PhotoError, read_photo
from .augment import BOX_SCALE, BOX_SHIFT, augment, jitter_box
from .settings import RANK_SHARES, TrainSettings
from .dataset import Sample, load_samples, split
from ..errors import KioskError

MIN_CALIBRATION_FACES = 30  # fewer validation faces leave the displayed score uncalibrated


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
            image = read_photo(sample.path, config.photos).image
        except PhotoError as exc:
            return None, f"{sample.path}: {exc}"
        detection, crop = largest_face_crop(image, detector, margin, size)
        if crop is None:
            return None, f"{sample.path}: no face found"
        return (crop, face_context(image, detection.chosen, margin, size)), None

    crops, contexts, kept, problems = [], [], [], []
    with ThreadPoolExecutor(max_workers=workers()) as pool:  # OpenCV releases the GIL
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
        raise KioskError("no faces found in the training photos")
    return Faces(np.stack(crops), contexts, kept)


def workers() -> int:
    """Threads for cropping and augmenting: every core (OpenCV and numpy release the GIL)."""
    return os.cpu_count() or 1


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
    # one generator per face, drawn from `rng` in order, so the versions do not depend on thread timing
    seeds = rng.integers(2**63, size=len(faces.contexts))

    def one(i: int) -> np.ndarray:
        face_rng = np.random.default_rng(seeds[i])
        patch, box = faces.contexts[i]
        return augment(crop_face(patch, jitter_box(box, face_rng), margin, size), face_rng)

    with ThreadPoolExecutor(max_workers=workers()) as pool:
        return np.stack(list(pool.map(one, range(len(faces.contexts)))))


def training_stack():
    """torch, or one line saying how to get it: a Pi's booth install has no training extra."""
    try:
        import torch
    except ImportError:
        raise KioskError("training needs PyTorch, which this install does not have: on a PC, "
                         "pip install '.[train]' (scripts/dev-setup.sh does); a Pi only runs the models") from None
    return torch


def training_device(torch, choice: str):
    """`--device`: auto takes a CUDA GPU when this PyTorch sees one, else the CPU."""
    if choice == "auto":
        choice = "cuda" if torch.cuda.is_available() else "cpu"
    if choice == "cuda":
        if not torch.cuda.is_available():
            raise KioskError("--device cuda: this PyTorch sees no CUDA GPU; use --device cpu (or auto)")
        # float32 arithmetic as on the CPU: PyTorch lets cuDNN convolutions use TF32 (10-bit
        # mantissa) by default, and the GPU runs measured so far read lower (models/README.md)
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
    return torch.device(choice)


def train(settings: TrainSettings, config: Config) -> Path:
    samples = load_samples(settings.data)  # a wrong folder is said before the long imports
    if settings.draw < 0:
        raise KioskError(f"--draw {settings.draw}: a draw is a count from 0 (0 = the seed's own)")
    if settings.teachers < 0 or not 0 <= settings.distill <= 1:
        raise KioskError(f"--teachers {settings.teachers} --distill {settings.distill}: teachers is a count "
                         "(0 = none) and distill a share from 0 to 1")
    if not smooth_ok(settings.smooth):
        raise KioskError(f"--smooth {settings.smooth:g}: give {SMOOTH_RANGE}, e.g. 0.7")
    bins = ",".join(f"{w:g}" for w in settings.bins)
    if not settings.bins or min(settings.weight_decay, settings.l1, settings.mixup, *settings.bins) < 0 \
            or not 0 <= settings.dropout < 1:
        raise KioskError(f"--weight-decay {settings.weight_decay} --dropout {settings.dropout} --l1 {settings.l1} "
                         f"--mixup {settings.mixup} --bins {bins}: dropout is a share from 0 to below 1, "
                         "the others 0 or more (--bins: one weight or more, comma-separated)")
    if len(set(settings.bins)) < len(settings.bins):  # same seed, same weight: the same network again
        raise KioskError(f"--bins {bins}: give each weight once; a repeated weight trains the same network "
                         "again and only slows the chain")
    torch = training_stack()

    from .backbone import IMAGENET_MEAN, IMAGENET_STD

    device = training_device(torch, settings.device)
    start = run_seed(settings)
    torch.manual_seed(start)
    rng = np.random.default_rng(start)
    started = time.time()
    if settings.limit:
        samples = samples[:settings.limit]
    train_set, val_set = split(samples, settings.val_fraction, settings.seed)
    log(f"{len(samples)} photos: {len(train_set)} to train, {len(val_set)} held out for validation")

    size = settings.input_size
    log(f"cropping faces (Haar, same code as the booth), {size}x{size}")
    faces = face_crops(train_set, config, size)
    train_set, margin = faces.samples, config.detection.crop_margin
    exposed = exposure_step(settings.exposure, settings.smooth)
    net = fresh_net(settings, device, start)
    net.frozen.eval()

    def frozen_features(batch_crops: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(normalise(batch_crops, IMAGENET_MEAN, IMAGENET_STD)).permute(0, 3, 1, 2)
        with torch.no_grad():
            return net.frozen(x.to(device)).half()

    log(f"caching frozen features of {settings.copies} versions of each crop on {device}")
    cache = []
    for copy in range(settings.copies):
        versions = exposed(version(faces, copy, margin, size, rng))
        cache.append(torch.cat([frozen_features(np.ascontiguousarray(versions[i:i + 64]))
                                for i in range(0, len(versions), 64)]))
        log(f"  version {copy + 1}/{settings.copies} done ({time.time() - started:.0f} s)")
    cache = torch.stack(cache)  # [copies, N, C, H, W]

    genders = torch.tensor([s.gender for s in train_set], device=device)
    scores = torch.tensor([s.score for s in train_set], dtype=torch.float32, device=device)
    teacher = ensemble_outputs(cache, genders, scores, settings, device) if settings.teachers else None
    nets = []
    for k, weight in enumerate(settings.bins):
        if k:  # each further network starts as a run of its own would: the draw's initial weights
            net = fresh_net(settings, device, start)
            if settings.teachers:
                torch.manual_seed(start)  # where `ensemble_outputs` leaves it
        if len(settings.bins) > 1:
            log(f"network {k + 1}/{len(settings.bins)} (bins weight {weight:g})")
        fit_tail(net, cache, genders, scores, settings, teacher, weight)
        nets.append(net.cpu())
    del cache, teacher

    settings.out.mkdir(parents=True, exist_ok=True)
    manifest = {
        "preprocess": {"input_size": size, "colour": "RGB", "mean": IMAGENET_MEAN,
                       "std": IMAGENET_STD, "scale": "x/255, then (x - mean) / std",
                       "crop_margin": config.detection.crop_margin, "exposure": settings.exposure,
                       "mirror": settings.mirror, "extra_margins": list(settings.extra_margins),
                       "gender_from": settings.gender_from, "smooth": settings.smooth},
        "labels": {"gender": {"0": "man", "1": "woman"}, "rank": "1 = worst ... 5 = best"},
        "rank_boundaries": {g: [1.8, 2.6, 3.4, 4.2] for g in GENDERS},  # until fit_verdict_scale
        "training": {"data": str(settings.data), "photos": len(samples), "train_faces": len(train_set),
                     "validation_photos": len(val_set), "val_fraction": settings.val_fraction,
                     "seed": settings.seed, "draw": settings.draw, "frozen_blocks": settings.frozen_blocks,
                     **({"antialias_from": settings.antialias_from} if settings.antialias else {}),
                     "epochs": settings.epochs, "copies": settings.copies, "consistency": settings.consistency,
                     **({"consistency_gender": settings.consistency_gender} if settings.consistency else {}),
                     "teachers": settings.teachers, "distill": settings.distill if settings.teachers else 0.0,
                     "weight_decay": settings.weight_decay, "dropout": settings.dropout, "l1": settings.l1,
                     "mixup": settings.mixup, "bins": settings.bins[0],
                     "device": device.type,
                     "calibration_slope": settings.calibration_slope, "rank_shares": list(settings.rank_shares),
                     "date": datetime.date.today().isoformat()},
    }
    if len(nets) > 1:  # one file, every network's tail on the frozen blocks they share
        from .average import outputs_averaged, run_record

        t = manifest["training"]
        t["ensemble"] = [run_record(f"network {k + 1} of this run", dict(t, bins=weight))
                         for k, weight in enumerate(settings.bins)]
        net = outputs_averaged(t, [n.state_dict() for n in nets])
    # kept out of git; `kiosk export` reuses it
    torch.save({"state": net.state_dict(), "manifest": manifest}, settings.out / "checkpoint.pt")
    if not settings.export:
        log(f"wrote {settings.out / 'checkpoint.pt'} ({(time.time() - started) / 60:.1f} min); "
            f"`kiosk export DATA --out {settings.out}` makes the models from it")
        return settings.out / "checkpoint.pt"
    path = publish(net, manifest, settings.out, settings.precision, faces, val_set, config, rng)
    log(f"wrote {path}, the model and a float32 copy in {settings.out / 'float'} "
        f"({(time.time() - started) / 60:.1f} min in all)")
    return path


def fit_verdict_scale(folder: Path, config: Config, train: Faces, val: Faces | None, slope: float,
                      shares: tuple[float, ...] = RANK_SHARES) -> None:
    """Rank boundaries and the displayed score's calibration, from the exported chain itself (its
    precision, exposure step, extra crop margins and mirror averaging included), written into the
    folder's manifest.

    Boundaries: per gender the chain calls, the quantiles of its raw scores on the training crops
    that give each rank its share in `shares`. Calibration: raw scores on the validation crops, stretched about their mean so
    that displayed vs human has `slope` (1 = the raters' scale; raw scores are squeezed to the middle).
    """
    import json

    from ..chain import Chain

    chain = Chain(folder, config.wording.rank_texts)

    def raw(faces: Faces) -> tuple[np.ndarray, np.ndarray]:
        # each face as the chain sees it in service: its crop, plus one per extra margin of the manifest
        out = [chain.predict([crop, *chain.extra_crops(patch, box)])
               for crop, (patch, box) in zip(faces.crops, faces.contexts)]
        return np.array([p for p, _ in out]), np.array([s for _, s in out])

    p_train, s_train = raw(train)
    boundaries = rank_boundaries(s_train, np.where(p_train > 0.5, 1, 0), shares)
    calibration = {"slope": 1.0, "intercept": 0.0}
    if val is not None and len(val.samples) >= MIN_CALIBRATION_FACES:
        p_val, s_val = raw(val)
        human = np.array([s.score for s in val.samples])
        squeeze = np.polyfit(human, s_val, 1)[0]  # raw = squeeze x human + c
        if squeeze > 0:
            k = float(np.clip(slope / squeeze, 0.5, 2.0))  # a few odd faces must not blow up the scale
            calibration = {"slope": round(float(k), 5), "intercept": round(float(s_val.mean() * (1 - k)), 5),
                           "fitted_on": f"{len(val.samples)} validation faces, raw slope {squeeze:.3f}"}
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest.update(rank_boundaries=boundaries, calibration=calibration)
    path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    log(f"  {folder}: rank boundaries {boundaries}, calibration {calibration}")


def exposure_step(exposure: str, smooth: float = 0.0):
    """The manifest's `preprocess.smooth` and `.exposure` as a function of a batch of crops (the chain
    does the same)."""
    step = input_step(exposure, smooth)
    return lambda crops: np.stack([step(c) for c in crops])


def ensemble_outputs(cache, genders, scores, settings: TrainSettings, device):
    """Train `settings.teachers` networks on the cache (init seeds derived from the run's) and return their
    mean outputs [gender logit, man, woman] on every cached version: [copies, N, 3]."""
    import torch

    total, start = None, run_seed(settings)
    for k in range(settings.teachers):
        log(f"teacher {k + 1}/{settings.teachers}")
        teacher = fresh_net(settings, device, start * 1000 + k + 1)
        fit_tail(teacher, cache, genders, scores, settings, bins=settings.bins[0])
        out = tail_outputs(teacher, cache)
        total = out if total is None else total + out
    torch.manual_seed(start)
    return total / settings.teachers


def run_seed(settings: TrainSettings) -> int:
    """What seeds the run's randomness (initial heads, versions, batch order): the seed itself for draw 0,
    so earlier runs reproduce, else one number from (seed, draw). The split stays the seed's alone, so
    draws of a recipe are measured on the same validation photos and can be refit or averaged together."""
    if settings.draw == 0:
        return settings.seed
    return int(np.random.SeedSequence([settings.seed, settings.draw]).generate_state(1)[0])


def fresh_net(settings: TrainSettings, device, seed: int):
    """The network a run seeded `seed` starts from: ImageNet blocks, heads and dropout drawn from the seed."""
    import torch

    from .backbone import FaceNet, pretrained_features

    torch.manual_seed(seed)
    return FaceNet(pretrained_features(settings.antialias_from), settings.frozen_blocks, settings.dropout).to(device)


def tail_outputs(net, cache, batch: int = 256):
    """The network's outputs on every cached version, in eval mode: [copies, N, 3]."""
    import torch

    net.eval()
    with torch.no_grad():
        return torch.stack([torch.cat([net.forward_tail(version[i:i + batch].float())
                                       for i in range(0, len(version), batch)]) for version in cache])


def version_gap(scores, gender_logits, gender_weight: float):
    """Mean squared difference between the first half of the rows (one version of each photo) and the
    second (another version of the same photos): the score's, plus `gender_weight` x the gender logit's."""
    import torch

    k = len(scores) // 2
    return (torch.mean((scores[:k] - scores[k:]) ** 2)
            + gender_weight * torch.mean((gender_logits[:k] - gender_logits[k:]) ** 2))


def fit_tail(net, cache, genders, scores, settings: TrainSettings, teacher=None, bins: float = 0.0) -> None:
    """Train the unfrozen blocks and the heads: score MSE on the sample's own gender head + gender BCE,
    plus `bins` x the ComboLoss-style term (`score_bins_loss`).

    With `settings.consistency` > 0 each step also runs a second random version of every photo in
    the batch and adds that weight x the squared difference of the two versions' outputs (the own
    gender's score and, at `settings.consistency_gender` of it, the gender logit: `version_gap`), so a
    moved box or another camera setting changes the verdict less; the task loss is then the mean over
    both versions.

    With `teacher` (an ensemble's outputs on every cached version, `ensemble_outputs`) the targets
    are `settings.distill` x the ensemble's output on that very version + the rest x the label: the
    own gender's score, and the gender as the ensemble's probability.
    """
    import torch

    n, device = len(genders), genders.device
    net.heads.bias.data[1:] = scores.mean()  # start the score heads at the mean rating
    params = list(net.tail.parameters()) + list(net.heads.parameters())
    sorter = None
    if bins > 0:  # trained beside the heads, never exported: it only shapes the features
        from .backbone import FEATURES

        sorter = torch.nn.Linear(FEATURES, 2 * len(SCORE_BINS)).to(device)
        params += list(sorter.parameters())
    optimiser = torch.optim.AdamW(params, lr=settings.lr, weight_decay=settings.weight_decay)
    steps = settings.epochs * ((n + settings.batch - 1) // settings.batch)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, settings.lr, total_steps=max(steps, 1),
                                                   pct_start=0.15)
    bce = torch.nn.BCEWithLogitsLoss()
    paired = settings.consistency > 0 and cache.shape[0] > 1
    for epoch in range(settings.epochs):
        net.tail.train()
        net.dropout.train()
        order = torch.randperm(n, device=device)
        picked = torch.randint(0, cache.shape[0], (n,), device=device)  # one cached version per photo this epoch
        # the second version: any other one, so the pair always differs
        other = (picked + torch.randint(1, max(cache.shape[0], 2), (n,), device=device)) % cache.shape[0]
        total, started = 0.0, time.time()
        for i in range(0, n, settings.batch):
            idx = order[i:i + settings.batch]
            g, s = genders[idx], scores[idx]
            versions = [picked[idx], other[idx]] if paired else [picked[idx]]
            batch = torch.cat([cache[v, idx] for v in versions])
            g2 = torch.cat([g] * len(versions))
            rows = torch.arange(len(g2), device=device)
            s2, p2 = torch.cat([s] * len(versions)), g2.float()
            if teacher is not None:
                w = settings.distill
                taught = torch.cat([teacher[v, idx] for v in versions])
                s2 = (1 - w) * s2 + w * taught[rows, 1 + g2]
                p2 = (1 - w) * p2 + w * torch.sigmoid(taught[:, 0])
            batch = batch.float()
            if settings.mixup > 0:
                batch, s2 = mix_same_gender(batch, s2, g, len(versions), settings.mixup)
            pooled = net.pooled(batch)
            out = net.heads(pooled)
            predicted = out[rows, 1 + g2]
            loss = torch.nn.functional.mse_loss(predicted, s2) + 0.5 * bce(out[:, 0], p2)
            if sorter is not None:
                loss = loss + bins * score_bins_loss(sorter(pooled), s2, g2)
            if settings.l1 > 0:
                loss = loss + settings.l1 * torch.mean(torch.abs(predicted - s2))
            if paired:
                loss = loss + settings.consistency * version_gap(predicted, out[:, 0], settings.consistency_gender)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            total += loss.item() * len(idx)
        log(f"  epoch {epoch + 1}/{settings.epochs}: loss {total / n:.4f} ({time.time() - started:.0f} s)")


SCORE_BINS = np.arange(1.0, 5.01, 0.25)  # bin centres on the raters' 1-5 scale
BIN_SIGMA = 0.25  # spread of the target: one bin's width, so neighbouring bins share the credit


def score_bins_loss(logits, scores, genders):
    """ComboLoss-style classification beside the regression: cross-entropy of the own gender's bins
    (`logits` [N, 2 x bins], man's then woman's) against a Gaussian over the bins centred on each
    photo's score, so scores near a bin edge are not forced into one class."""
    import torch

    centres = torch.as_tensor(SCORE_BINS, dtype=logits.dtype, device=logits.device)
    own = logits.view(len(scores), 2, len(centres))[torch.arange(len(scores), device=logits.device), genders]
    target = torch.softmax(-(centres - scores[:, None]) ** 2 / (2 * BIN_SIGMA ** 2), dim=1)
    return -(target * torch.log_softmax(own, dim=1)).sum(dim=1).mean()


def mix_same_gender(features, scores, genders, repeats: int, alpha: float):
    """Manifold mixup: each photo's cached features and score blended with another photo's of the same
    gender in the batch, weight ~ Beta(alpha, alpha); a photo without a same-gender partner stays as it
    is. `repeats` versions of the batch are stacked (consistency) and get the same blend."""
    import torch

    k = len(genders)
    partner = torch.randperm(k, device=genders.device)
    same = genders[partner] == genders
    partner = torch.where(same, partner, torch.arange(k, device=genders.device))
    lam = torch.distributions.Beta(alpha, alpha).sample((k,)).to(features.device)
    lam = torch.maximum(lam, 1 - lam)  # the photo itself keeps the larger share
    partner = torch.cat([partner + r * k for r in range(repeats)])
    lam = lam.repeat(repeats)
    mixed = lam[:, None, None, None] * features + (1 - lam[:, None, None, None]) * features[partner]
    return mixed, lam * scores + (1 - lam) * scores[partner]


def rank_boundaries(scores: np.ndarray, genders: np.ndarray,
                    shares: tuple[float, ...] = RANK_SHARES) -> dict[str, list[float]]:
    """Per gender, the quantiles of raw scores that give rank 1..5 its share in `shares`, so the
    ranks are used as intended even though human ratings cluster around 3. Equal shares put cuts
    where scores are densest; smaller shares at the ends put them where scores are sparse, so a
    score's frame-to-frame wobble crosses one less often (models/README.md)."""
    levels = np.cumsum(shares)[:4]
    result = {}
    for g, name in enumerate(GENDERS):
        predicted = scores[genders == g]
        if len(predicted) < 5:  # too few photos (smoke runs): fall back to the rating scale's steps
            result[name] = [1.8, 2.6, 3.4, 4.2]
        else:
            result[name] = [round(float(q), 4) for q in np.quantile(predicted, levels)]
    return result


def export(net, manifest: dict, out: Path, precision: str, calibration_crops: np.ndarray) -> Path:
    """Write the shipped model (int8 or float32) to `out` and a float32 copy to `out/float`."""
    from .backbone import IMAGENET_MEAN, IMAGENET_STD, FaceEnsemble
    from .export import tflite_model, write_models

    size = manifest["preprocess"]["input_size"]

    one = net.member(0) if isinstance(net, FaceEnsemble) else None
    write_models(out / "float", tflite_model(net, size, quantize=False), dict(manifest, precision="float32"),
                 None if one is None else tflite_model(one, size, quantize=False))
    if precision == "float":
        return write_models(out, tflite_model(net, size, quantize=False), dict(manifest, precision="float32"))
    # int8 weights and activations, float input and output; the crops set the activation ranges.
    # "mixed" keeps the blocks left at ImageNet weights in float32: at the highest resolutions, they
    # are where int8 loses most of r (models/README.md), and they cost the least to keep.
    calibration = normalise(calibration_crops, IMAGENET_MEAN, IMAGENET_STD)
    float_blocks = manifest["training"]["frozen_blocks"] if precision == "mixed" else 0
    label = f"int8, blocks 0-{float_blocks - 1} float32" if float_blocks else "int8"
    return write_models(out, tflite_model(net, size, quantize=True, calibration=calibration, float_blocks=float_blocks),
                        dict(manifest, precision=label))


def export_checkpoint(out: Path, data: Path, precision: str, config: Config, network: Path | None = None) -> Path:
    """Re-export `out/checkpoint.pt` (e.g. in another precision) without training again; with
    `network`, the network of that float32 models folder instead (`network_from_float`), whose
    rebuilt checkpoint is then written to `out` (so `kiosk average` can take it as a run)."""
    if network is not None:
        torch = training_stack()
        from .export import network_from_float

        net, manifest = network_from_float(network)
        out.mkdir(parents=True, exist_ok=True)
        torch.save({"state": net.state_dict(), "manifest": manifest}, out / "checkpoint.pt")
        return publish_split(net, manifest, out, precision, data, config)
    saved = load_checkpoint(out, f"`kiosk train DATA --out {out}` writes one (it is not kept in git), or pass "
                                 "--out with the folder of a training run")

    from .backbone import network

    net = network(saved["manifest"]["training"])
    net.load_state_dict(saved["state"])
    net.eval()
    return publish_split(net, saved["manifest"], out, precision, data, config)


def load_checkpoint(run: Path, hint: str) -> dict:
    """A training run's `checkpoint.pt` ({"state", "manifest"}), or one line ending with `hint`."""
    torch = training_stack()
    checkpoint = run / "checkpoint.pt"
    if not checkpoint.is_file():
        raise KioskError(f"{checkpoint}: no checkpoint; {hint}")
    return torch.load(checkpoint, map_location="cpu")


def publish_split(net, manifest: dict, out: Path, precision: str, data: Path, config: Config) -> Path:
    """`publish` with the training crops and validation photos of the run's own split of `data`."""
    t = manifest["training"]
    train_set, val_set = split(load_samples(data), t["val_fraction"], t["seed"])
    faces = face_crops(train_set, config, manifest["preprocess"]["input_size"])
    return publish(net, manifest, out, precision, faces, val_set, config, np.random.default_rng(t["seed"]))


def publish(net, manifest: dict, out: Path, precision: str, faces: Faces, val_set: list[Sample],
            config: Config, rng: np.random.Generator) -> Path:
    """Export both precisions, then fit each one's decision side through its own exported chain."""
    t, size = manifest["training"], manifest["preprocess"]["input_size"]
    pre = manifest["preprocess"]
    exposed = exposure_step(pre.get("exposure", "none"), pre.get("smooth", 0.0))
    calibration = exposed(faces.crops[rng.choice(len(faces.crops), min(200, len(faces.crops)), replace=False)])
    path = export(net, manifest, out, precision, calibration)
    log("rank boundaries and calibration through the exported chain")
    val_faces = face_crops(val_set, config, size) if val_set else None
    for folder in (out / "float", out):
        fit_verdict_scale(folder, config, faces, val_faces, t.get("calibration_slope", 1.0),
                          tuple(t.get("rank_shares", RANK_SHARES)))
    return path


# what the chain reads where a manifest leaves a preprocess key out (`Manifest.read`: its fields' defaults)
INPUT_DEFAULTS = {f.name: f.default for f in fields(Manifest) if f.default is not MISSING}


def same_photos_and_input(run: Path, theirs: dict, preprocess: dict, training: dict,
                          inputs: tuple[str, ...] = ("input_size", "mean", "std")) -> None:
    """Refuse another run's manifest (`theirs`, from folder `run`) that takes another input than
    `preprocess` says, or held out other validation photos than `training` did: its network would
    have trained on the photos `kiosk eval` scores."""
    def plain(pre: dict, key: str):  # a checkpoint's manifest keeps tuples where a manifest.json has lists
        value = pre.get(key, INPUT_DEFAULTS.get(key))
        return list(value) if isinstance(value, tuple) else value

    for key in inputs:
        if plain(theirs["preprocess"], key) != plain(preprocess, key):
            raise KioskError(f"{run}: preprocess.{key} is {plain(theirs['preprocess'], key)}, not "
                             f"{plain(preprocess, key)} as here; the runs must take the same input")
    t = theirs.get("training", {})
    for key, default in (("val_fraction", 0.15), ("seed", 0)):
        if t.get(key, default) != training.get(key, default):
            raise KioskError(f"{run}: trained with {key} {t.get(key, default)}, not {training.get(key, default)}: "
                             "it has seen this folder's validation photos; retrain it with the same --seed")


def same_blocks(run: Path, theirs: dict, training: dict) -> None:
    """Refuse another run whose blocks are built otherwise (`--antialias`): its weights would not make
    one network, or one file, with this run's."""
    def built(t: dict) -> str:
        start = t.get("antialias_from")
        return "without --antialias" if start is None else f"with --antialias from block {start}"

    other = built(theirs.get("training", {}))
    if other != built(training):
        raise KioskError(f"{run}: trained {other}, not {built(training)} as the first run: give runs built alike")


PARTNER = "partner_"  # prefix of a partner run's model names and files in a models folder


def join_partner(manifest: dict, folder: Path, partner: Path | None, training: dict) -> None:
    """Make the models of another training run (`partner`, a models folder of the same precision)
    the second member of `manifest`'s chain, which then runs them on every mirror image: its files
    are copied into `folder` as partner_*. None takes a partner out again. Both runs must have
    held out the same validation photos, or `kiosk eval` would score the partner's training photos."""
    import json
    import shutil

    for name, entry in [(n, e) for n, e in manifest["models"].items() if n.startswith(PARTNER)]:
        (folder / entry["file"]).unlink(missing_ok=True)
        del manifest["models"][name]
    manifest.pop("members", None)
    if partner is None:
        return
    try:
        theirs = json.loads((partner / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise KioskError(f"{partner}/manifest.json: cannot read it ({exc}); --partner needs a models folder "
                         "written by `kiosk train`") from None
    same_photos_and_input(partner, theirs, manifest["preprocess"], training)
    if theirs.get("precision") != manifest.get("precision"):
        raise KioskError(f"{partner}: {theirs.get('precision')} models, not {manifest.get('precision')} as here")
    own = list(manifest["models"])
    for name, entry in theirs["models"].items():
        shutil.copyfile(partner / entry["file"], folder / (PARTNER + entry["file"]))
        manifest["models"][PARTNER + name] = dict(entry, file=PARTNER + entry["file"],
                                                  **({} if "outputs" in entry else {"head": name}))
    manifest["members"] = [own, [PARTNER + n for n in theirs["models"]]]


def refit_verdict(models: Path, data: Path, config: Config, shares: tuple[float, ...] | None = None,
                  slope: float | None = None, mirror: bool | None = None,
                  extra_margins: tuple[float, ...] | None = None, gender_from: str | None = None,
                  exposure: str | None = None, partner: Path | str | None = None,
                  smooth: float | None = None) -> dict:
    """The decision side of a models folder fitted again without its checkpoint (the shipped files
    have none): mirror averaging on or off, the extra crop margins, which inputs decide the gender,
    the smoothing and the exposure step, a partner run's models on the mirror images (`partner`: its folder, or "none"
    to drop one), then rank boundaries at `shares` on the training split
    and the displayed score's calibration on the validation split, through the folder's own chain.
    The same split as the models were trained with (manifest `training`); the model files stay as
    they are. Its float32 copy in `float/`, if any, gets the same treatment. Returns the manifest."""
    import json

    if smooth is not None and not smooth_ok(smooth):  # checked before any manifest is written
        raise KioskError(f"refit: smooth {smooth:g} is not {SMOOTH_RANGE}")
    folders = [f for f in (models / "float", models) if (f / "manifest.json").is_file()]
    manifest = json.loads((models / "manifest.json").read_text(encoding="utf-8"))
    t = manifest.setdefault("training", {})
    shares = tuple(shares or t.get("rank_shares", RANK_SHARES))
    slope = t.get("calibration_slope", 1.0) if slope is None else slope
    train_set, val_set = split(load_samples(data), t.get("val_fraction", 0.15), t.get("seed", 0))
    size = manifest["preprocess"]["input_size"]
    faces = face_crops(train_set, config, size)
    val_faces = face_crops(val_set, config, size) if val_set else None
    for folder in folders:
        path = folder / "manifest.json"
        m = json.loads(path.read_text(encoding="utf-8"))
        if mirror is not None:
            m["preprocess"]["mirror"] = mirror
        if extra_margins is not None:
            m["preprocess"]["extra_margins"] = list(extra_margins)
        if gender_from is not None:
            m["preprocess"]["gender_from"] = gender_from
        if exposure is not None:
            m["preprocess"]["exposure"] = exposure
        if smooth is not None:
            m["preprocess"]["smooth"] = smooth
        if partner is not None:
            # the partner's files of this folder's precision: its own folder, or its float/ copy
            join_partner(m, folder, None if str(partner) == "none" else Path(partner) / folder.relative_to(models), t)
        m.setdefault("training", {}).update(rank_shares=list(shares), calibration_slope=slope)
        path.write_text(json.dumps(m, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        fit_verdict_scale(folder, config, faces, val_faces, slope, shares)
    return json.loads((models / "manifest.json").read_text(encoding="utf-8"))
