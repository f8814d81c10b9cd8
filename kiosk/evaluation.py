"""`kiosk eval`: how well the shipped chain does on labelled photos, through `kiosk score`'s path."""

from __future__ import annotations

import functools
import json
import time
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from .scoring import PhotoScorer
from .chain import GENDERS
from .faces import FaceStatus
from .photo import PhotoError, read_photo
from .training.dataset import Sample, half, load_samples, split


def select(data: Path, subset: str, manifest_training: dict) -> list[Sample]:
    """The photos to evaluate: the validation split the models were trained with (or half of it), all
    of them, or the ones they were trained on (`train`: to tell an offset the models learned from one the validation
    photos happen to have, never as a measure of accuracy)."""
    samples = load_samples(data)
    if subset == "all":
        return samples
    train, val = split(samples, manifest_training.get("val_fraction", 0.15), manifest_training.get("seed", 0))
    if subset.startswith("val-"):  # val-a / val-b: where `kiosk pairs` picks, and where the pick is judged
        return half(val, subset[len("val-"):])
    return train if subset == "train" else val


def true_ranks(samples: list[Sample]) -> np.ndarray:
    """Folder data carries ranks 1..5; SCUT's mean ratings become per-gender quintiles."""
    scores = np.array([s.score for s in samples])
    if np.all(scores == np.round(scores)):
        return scores.astype(int)
    ranks = np.zeros(len(samples), int)
    for g in range(2):
        mask = np.array([s.gender == g for s in samples])
        if mask.any():
            cuts = np.quantile(scores[mask], [0.2, 0.4, 0.6, 0.8])
            ranks[mask] = np.searchsorted(cuts, scores[mask], side="right") + 1
    return ranks


def as_greyscale(image: np.ndarray) -> np.ndarray:
    """The photo as an old black-and-white print would give it."""
    return cv2.cvtColor(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)


def shifted(image: np.ndarray) -> np.ndarray:
    """The framing moved by 4% of the photo's size, right and down (the subject stepped aside)."""
    h, w = image.shape[:2]
    matrix = np.float32([[1, 0, round(0.04 * w)], [0, 1, round(0.04 * h)]])
    return cv2.warpAffine(image, matrix, (w, h), borderMode=cv2.BORDER_REPLICATE)


def jpeg(image: np.ndarray, quality: int = 60) -> np.ndarray:
    return cv2.imdecode(cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])[1], cv2.IMREAD_COLOR)


def exposed(image: np.ndarray, gain: float) -> np.ndarray:
    return np.clip(image.astype(np.float32) * gain, 0, 255).astype(np.uint8)


def low_light(image: np.ndarray) -> np.ndarray:
    """Gamma 1.8 (a dim room) plus sensor noise (sigma 6 of 255), the same noise for the same photo."""
    dark = 255.0 * (image.astype(np.float32) / 255.0) ** 1.8
    noise = np.random.default_rng(image.size).normal(0, 6.0, image.shape)
    return np.clip(dark + noise, 0, 255).astype(np.uint8)


# Copies of a photo that a person could not tell apart from it: the verdict should not change.
INVISIBLE = {
    "shift 4%": shifted,
    "brightness +15%": lambda image: exposed(image, 1.15),
    "JPEG q60": jpeg,
    "mirror": lambda image: np.ascontiguousarray(image[:, ::-1]),
    "blur sigma 1": lambda image: cv2.GaussianBlur(image, (0, 0), 1.0),
}
# Light a booth meets: a backlit visitor and a dim room. The verdict should barely move.
LIGHT = {
    "under-exposed x0.5": lambda image: exposed(image, 0.5),
    "low light (gamma 1.8 + noise)": low_light,
}


def score_all(scorer: PhotoScorer, samples: list[Sample], transform=None) -> list:
    return [scorer.score_file(str(s.path), transform) for s in samples]


def changes(samples: list[Sample], base: list, other: list) -> dict:
    """How `other` (the same photos, altered or through other models) differs from `base`."""
    both = [i for i, (a, b) in enumerate(zip(base, other)) if a.status == b.status == "ok"]
    if not both:
        return {"photos": 0}
    shift = np.array([other[i].score - base[i].score for i in both])
    moved = np.array([other[i].rank != base[i].rank for i in both])
    groups = {}
    for group in sorted({s.group for s in samples}):
        mask = np.array([samples[i].group == group for i in both])
        if mask.any():
            groups[group] = round(float(moved[mask].mean()), 4)
    return {"photos": len(both),
            "ranks_changed": round(float(moved.mean()), 4),
            "score_shift": round(float(shift.mean()), 4),
            "score_shift_abs": round(float(np.abs(shift).mean()), 4),
            "genders_changed": round(float(np.mean([other[i].gender != base[i].gender for i in both])), 4),
            "ranks_changed_by_group": groups}


def pooled(parts: list[dict]) -> dict:
    """The invisible copies together: one photo-copy pair counts once."""
    n = sum(p["photos"] for p in parts)
    groups = sorted({g for p in parts for g in p.get("ranks_changed_by_group", {})})
    return {"photos": n,
            "ranks_changed": round(sum(p["ranks_changed"] * p["photos"] for p in parts) / max(n, 1), 4),
            "score_shift_abs": round(sum(p["score_shift_abs"] * p["photos"] for p in parts) / max(n, 1), 4),
            "ranks_changed_by_group": {g: round(float(np.mean([p["ranks_changed_by_group"][g] for p in parts
                                                               if g in p["ranks_changed_by_group"]])), 4)
                                       for g in groups}}


def stability(scorer: PhotoScorer, samples: list[Sample], base: list, other_scorer: PhotoScorer | None) -> dict:
    """The verdict under invisible changes, under bad light, on pressing twice in the booth, and
    through the other precision's models."""
    invisible = {name: changes(samples, base, score_all(scorer, samples, t)) for name, t in INVISIBLE.items()}
    light = {name: changes(samples, base, score_all(scorer, samples, t)) for name, t in LIGHT.items()}
    result = {"invisible": invisible, "invisible_pooled": pooled(list(invisible.values())), "light": light,
              "booth_presses": booth_presses(scorer, samples, scorer.config),
              "backlit_booth": backlit_booth(scorer, samples, scorer.config)}
    if other_scorer is not None:
        result["other_precision"] = dict(changes(samples, base, score_all(other_scorer, samples)),
                                         precision=other_scorer.chain.manifest.precision)
    return result


def placed(photo: np.ndarray, width: int, height: int) -> tuple[np.ndarray, int, int]:
    """The photo as the booth camera would frame a visitor standing close: 80% of the frame's height,
    centred; (scaled photo, x, y of its top left corner)."""
    side = round(0.8 * height)
    k = side / photo.shape[0]
    scaled = cv2.resize(photo, (round(photo.shape[1] * k), side), interpolation=cv2.INTER_LINEAR)
    if scaled.shape[1] > width:
        cut = (scaled.shape[1] - width) // 2
        scaled = scaled[:, cut:cut + width]
    return scaled, (width - scaled.shape[1]) // 2, (height - side) // 2


def booth_frame(photo: np.ndarray, width: int, height: int, background: float = 128) -> np.ndarray:
    """The photo framed as the booth camera sees a visitor (see `placed`) on a plain background; float32
    where the background is brighter than the camera can show (a window, see `backlit`)."""
    scaled, x0, y0 = placed(photo, width, height)
    frame = np.full((height, width, 3), background, np.float32 if background > 255 else np.uint8)
    frame[y0:y0 + scaled.shape[0], x0:x0 + scaled.shape[1]] = scaled
    return frame


def still_visitor(frame: np.ndarray, rng: np.random.Generator, sway_px: float = 1.5, noise: float = 3.0):
    """One camera frame of a visitor standing still: a sway of a pixel or two and sensor noise."""
    dx, dy = rng.uniform(-sway_px, sway_px, size=2)
    moved = cv2.warpAffine(frame, np.float32([[1, 0, dx], [0, 1, dy]]), frame.shape[1::-1],
                           borderMode=cv2.BORDER_REPLICATE)
    grain = noise * sensor_grain(frame.shape, rng)
    grain += moved
    return np.clip(grain, 0, 255, out=grain).astype(np.uint8)


GRAIN_SLACK = 64  # offsets per axis into one stored noise field: 4096 different grains a frame size


@functools.lru_cache(maxsize=4)
def _grain_field(shape: tuple) -> np.ndarray:
    h, w = shape[:2]
    return np.random.default_rng(0).standard_normal((h + GRAIN_SLACK, w + GRAIN_SLACK) + tuple(shape[2:]),
                                                    dtype=np.float32)


def sensor_grain(shape: tuple, rng: np.random.Generator) -> np.ndarray:
    """Unit Gaussian noise of `shape` for one frame: a window at a random offset into a field drawn once,
    as drawing a whole frame's noise afresh took most of `kiosk eval`'s booth measures' time."""
    dy, dx = rng.integers(0, GRAIN_SLACK, size=2)
    return _grain_field(tuple(shape))[dy:dy + shape[0], dx:dx + shape[1]]


def press(scorer: PhotoScorer, live, camera: Callable[[], np.ndarray], frames: int, detect_width: int):
    """One press: `frames` camera frames through the live loop's own path (LiveDetector on the small
    grey frame, the crop from the full frame, the chain averaging them); (verdict or None, the inner
    face brightness of each frame with a face, in the grey frame)."""
    from .booth.exposure import face_brightness
    from .cameras import make_frame

    crops, bright = [], []
    for _ in range(frames):
        frame = make_frame(camera(), detect_width, 0.0)
        found = live.detect(frame.grey)
        if found.chosen is not None:
            bright.append(face_brightness(frame.grey, found.chosen))
            crops += scorer.chain.crops(frame.image, found.chosen.scaled(frame.detect_scale))
    return (scorer.chain.score(*crops) if crops else None), bright


def visitors(samples: list[Sample], config):
    """Each readable photo with its own random draws, the same in every run: (photo, generator)."""
    for n, sample in enumerate(samples):
        try:
            photo = read_photo(sample.path, config.photos).image
        except PhotoError:
            continue
        yield photo, np.random.default_rng(n)


def booth_presses(scorer: PhotoScorer, samples: list[Sample], config) -> dict:
    """Each photo as a visitor standing still in front of the booth, who presses twice: each press
    scores `capture_frames` new frames (see `press`). How often do the two presses give different ranks?"""
    from .booth.live import LiveDetector

    c, frames = config.camera, config.booth.capture_frames
    differ, shifts, pressed = [], [], 0
    for photo, rng in visitors(samples, config):
        scene = booth_frame(photo, c.width, c.height)
        live = LiveDetector(scorer.detector, config.live)
        verdicts = [press(scorer, live, lambda: still_visitor(scene, rng), frames, c.detect_width)[0]
                    for _ in range(2)]
        if None not in verdicts:
            pressed += 1
            differ.append(verdicts[0].rank != verdicts[1].rank)
            shifts.append(abs(verdicts[0].score - verdicts[1].score))
    return {"photos": pressed, "frames_per_press": frames,
            "capture_ms": round(1000 * frames / c.fps),
            "ranks_differ": round(float(np.mean(differ)), 4) if differ else None,
            "score_shift_abs": round(float(np.mean(shifts)), 4) if shifts else None}


# A visitor with a bright window behind: the window is WINDOW in the photo's units (0-255), and the
# camera's own metering, exposing for the window, gives the scene BACKLIT_GAIN: the window shows at
# 240 and the face two stops under its brightness in good light. A steered exposure of EV stops
# multiplies that by 2**EV (what ExposureValue asks of the automatic exposure, taken as reached at
# once; the window clips). One stop under (0.5) the verdict barely moves unsteered (models/README.md).
WINDOW, BACKLIT_GAIN = 960.0, 0.25
STEER_FRAMES = 60  # 2 s at 30 fps of a visitor standing in front of the booth before pressing


def backlit(scene: np.ndarray, ev: float) -> np.ndarray:
    """The camera's picture of a backlit `scene` (float32, see booth_frame) exposed `ev` stops over its metering."""
    return np.clip(scene * (BACKLIT_GAIN * 2.0 ** ev), 0, 255)


def backlit_booth(scorer: PhotoScorer, samples: list[Sample], config) -> dict:
    """Each photo as a visitor in front of a bright window, pressing once with the camera left to its
    own metering and once after the face-priority exposure (booth/exposure.py) had `STEER_FRAMES`
    frames to steer it; both compared with a press of the same visitor in good light."""
    from .booth.exposure import FaceExposure
    from .booth.live import LiveDetector
    from .cameras import make_frame

    c, frames = config.camera, config.booth.capture_frames
    sides = {name: {"brightness": [], "verdicts": []} for name in ("lit", "metered", "steered")}
    evs, last_change_s = [], []

    def take(name: str, camera: Callable[[], np.ndarray]) -> None:
        verdict, brightness = press(scorer, LiveDetector(scorer.detector, config.live), camera, frames, c.detect_width)
        sides[name]["brightness"] += brightness
        sides[name]["verdicts"].append(verdict)

    for photo, rng in visitors(samples, config):
        lit, scene = booth_frame(photo, c.width, c.height), booth_frame(photo, c.width, c.height, WINDOW)
        take("lit", lambda: still_visitor(lit, rng))
        metered = backlit(scene, 0.0)  # the exposure holds through a press: one picture, new noise a frame
        take("metered", lambda: still_visitor(metered, rng))
        # Steering sees only the small grey frame (picamera2's lores stream): simulated at that size.
        small = make_frame(scene, c.detect_width, 0.0).grey
        sway = 1.5 * small.shape[1] / c.width
        exposure, live = FaceExposure(c.face_exposure_ev), LiveDetector(scorer.detector, config.live)
        ev, changed = 0.0, 0.0
        for i in range(STEER_FRAMES):
            grey = still_visitor(backlit(small, ev), rng, sway)
            seen = live.detect(grey)
            wanted = exposure.update(grey, seen.chosen if seen.status is FaceStatus.ONE else None, i / c.fps)
            if wanted is not None:
                ev, changed = wanted, i / c.fps
        steered = backlit(scene, ev)
        take("steered", lambda: still_visitor(steered, rng))
        evs.append(ev)
        last_change_s.append(changed)

    def summary(name: str) -> dict:
        side = sides[name]
        pairs = [(r, v) for r, v in zip(sides["lit"]["verdicts"], side["verdicts"]) if r is not None and v is not None]
        shift = np.array([v.score - r.score for r, v in pairs])
        taken = frames * len(side["verdicts"])
        result = {"frames_with_face": round(len(side["brightness"]) / max(taken, 1), 4),
                  "face_brightness_quartiles": (np.percentile(side["brightness"], [25, 50, 75]).round(1).tolist()
                                                if side["brightness"] else None)}
        if name != "lit" and pairs:
            result |= {"scored": len(pairs), "score_shift": round(float(shift.mean()), 4),
                       "score_shift_abs": round(float(np.abs(shift).mean()), 4),
                       "ranks_changed": round(float(np.mean([v.rank != r.rank for r, v in pairs])), 4)}
        return result

    return {"photos": len(evs), "max_ev": c.face_exposure_ev, **{name: summary(name) for name in sides},
            "ev_median": round(float(np.median(evs)), 2) if evs else None,
            "last_change_s_median": round(float(np.median(last_change_s)), 2) if evs else None}


def near_boundary(scorer: PhotoScorer, results: list, within: float = 0.05) -> float:
    """Share of verdicts whose raw score lies within `within` of a rank boundary of its gender."""
    chain = scorer.chain
    ok = [r for r in results if r.status == "ok"]
    near = [min(abs(chain.raw_score(r.score) - c) for c in chain.boundaries(r.gender)) < within  # "unsure" too
            for r in ok]
    return round(float(np.mean(near)), 4) if near else 0.0


def evaluate(scorer: PhotoScorer, samples: list[Sample], grey: bool = False,
             other_scorer: PhotoScorer | None = None, variants: bool = True) -> dict:
    """Accuracy on `samples`; with `variants`, also the stability measures (see `stability`)."""
    started = time.perf_counter()
    transform = as_greyscale if grey else None
    results = score_all(scorer, samples, transform)
    found = [i for i, r in enumerate(results) if r.status == "ok"]
    truth = np.array([samples[i].score for i in found])
    predicted = np.array([results[i].score for i in found])
    genders_ok = [results[i].gender == GENDERS[samples[i].gender] for i in found]
    rank_truth = true_ranks(samples)[found]
    rank_pred = np.array([results[i].rank for i in found])
    confusion = np.zeros((5, 5), int)
    for t, p in zip(rank_truth, rank_pred):
        confusion[t - 1, p - 1] += 1
    err = predicted - truth
    extra = {}
    if variants and found and not grey:
        extra = stability(scorer, samples, results, other_scorer)
        extra["near_boundary"] = near_boundary(scorer, results)
    seconds = time.perf_counter() - started
    by_group = {}
    for group in sorted({s.group for s in samples}):
        idx = [i for i in found if samples[i].group == group]
        if len(idx) > 2:
            t = np.array([samples[i].score for i in idx])
            p = np.array([results[i].score for i in idx])
            by_group[group] = {"n": len(idx), "pearson_r": round(float(np.corrcoef(t, p)[0, 1]), 4),
                               # the raters' mean: a bias can be the photos' (a subset rated lower) as
                               # much as the models' (compare --subset train, the photos they learned)
                               "rated": round(float(t.mean()), 4),
                               "mae": round(float(np.abs(p - t).mean()), 4),
                               # above 0: the booth scores this group higher than its raters did
                               "bias": round(float((p - t).mean()), 4),
                               "gender_accuracy": round(float(np.mean([results[i].gender == GENDERS[samples[i].gender]
                                                                       for i in idx])), 4)}
    return {
        "photos": len(samples),
        "face_found": round(len(found) / max(len(samples), 1), 4),
        "errors": sum(r.status == "error" for r in results),
        "gender_accuracy": round(float(np.mean(genders_ok)), 4) if found else None,
        "pearson_r": round(float(np.corrcoef(truth, predicted)[0, 1]), 4) if len(found) > 2 else None,
        "mae": round(float(np.abs(err).mean()), 4) if found else None,
        "rmse": round(float(np.sqrt((err ** 2).mean())), 4) if found else None,
        "bias": round(float(err.mean()), 4) if found else None,
        # predicted = slope x human + intercept: below 1, the displayed scores are squeezed to the middle
        "slope": round(float(np.polyfit(truth, predicted, 1)[0]), 4) if len(found) > 2 else None,
        "rank_shares": [round(float(np.mean(rank_pred == r)), 4) for r in range(1, 6)] if found else None,
        "rank_confusion": confusion.tolist(),
        "by_group": by_group,
        "seconds": round(seconds, 1),
        **extra,
    }


def report(metrics: dict) -> str:
    """The human-readable table `kiosk eval` prints."""
    lines = [f"photos            {metrics['photos']}  ({metrics['seconds']} s)",
             f"face found        {metrics['face_found']:.2%}  ({metrics['errors']} unreadable)"]
    if metrics["gender_accuracy"] is not None:
        lines += [f"gender accuracy   {metrics['gender_accuracy']:.2%}",
                  f"Pearson r         {metrics['pearson_r']}",
                  f"MAE / RMSE        {metrics['mae']} / {metrics['rmse']}  (bias {metrics['bias']:+.4f})",
                  f"slope             {metrics['slope']}  (predicted vs human score; 1 = not squeezed)",
                  "rank shares       " + "  ".join(f"{i}: {s:.0%}" for i, s in enumerate(metrics["rank_shares"], 1)),
                  "rank confusion (rows: true rank 1..5 by human rating, columns: booth rank 1..5)"]
        lines += ["  " + " ".join(f"{v:5d}" for v in row) for row in metrics["rank_confusion"]]
        for group, m in metrics["by_group"].items():
            lines.append(f"  {group:8s} n={m['n']:4d}  r {m['pearson_r']:.3f}  MAE {m['mae']:.3f}  "
                         f"bias {m['bias']:+.3f}  rated {m['rated']:.3f}  gender {m['gender_accuracy']:.2%}")
    if "invisible" in metrics:
        lines += stability_report(metrics)
    return "\n".join(lines)


def stability_report(metrics: dict) -> list[str]:
    def row(name: str, c: dict) -> str:
        groups = "  ".join(f"{g} {v:.0%}" for g, v in c.get("ranks_changed_by_group", {}).items())
        shift = f"shift {c['score_shift']:+.3f}, " if "score_shift" in c else ""
        return (f"  {name:30s} ranks changed {c['ranks_changed']:6.1%}  ({shift}|shift| {c['score_shift_abs']:.3f})"
                f"  {groups}")

    lines = ["same photo, copies a person could not tell apart (rank changes vs the original):"]
    lines += [row(name, c) for name, c in metrics["invisible"].items()]
    lines.append(row("all five together", metrics["invisible_pooled"]))
    lines.append("bad light:")
    lines += [row(name, c) for name, c in metrics["light"].items()]
    if "other_precision" in metrics:
        o = metrics["other_precision"]
        lines.append(f"{o['precision']} copy of the models:")
        lines.append(row(f"{o['precision']} instead", o))
    b = metrics["booth_presses"]
    if b["photos"]:
        lines.append(f"pressing twice in the booth ({b['frames_per_press']} frames a press, {b['capture_ms']} ms): "
                     f"ranks differ {b['ranks_differ']:.1%}, |shift| {b['score_shift_abs']:.3f}")
    lines += backlit_report(metrics["backlit_booth"])
    lines.append(f"verdicts within 0.05 of a rank boundary: {metrics['near_boundary']:.0%}")
    return lines


def backlit_report(b: dict) -> list[str]:
    if not b["photos"]:
        return []
    lines = [f"in the booth with a bright window behind (vs the same press in good light; face-priority exposure "
             f"up to {b['max_ev']:g} EV, median {b['ev_median']:+.2f} EV, "
             f"last change after {b['last_change_s_median']} s):"]
    sides = (("lit", "good light"), ("metered", "camera's own metering"), ("steered", "face-priority exposure"))
    for name, label in sides:
        s = b[name]
        line = (f"  {label:24s} frames with a face {s['frames_with_face']:6.1%}  "
                f"face brightness {s['face_brightness_quartiles']}")
        if "ranks_changed" in s:
            line += (f"  ranks changed {s['ranks_changed']:.1%} (shift {s['score_shift']:+.3f}, "
                     f"|shift| {s['score_shift_abs']:.3f})")
        lines.append(line)
    return lines


def as_json(metrics: dict) -> str:
    return json.dumps(metrics)
