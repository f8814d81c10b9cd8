"""`kiosk eval`: how well the shipped chain does on labelled photos, through `kiosk score`'s path."""

from __future__ import annotations

import json
import time
from pathlib import Path

import cv2
import numpy as np

from .scoring import PhotoScorer
from .chain import GENDERS
from .training.dataset import Sample, load_samples, split


def select(data: Path, subset: str, manifest_training: dict) -> list[Sample]:
    """The photos to evaluate: the validation split the models were trained with, or all of them."""
    samples = load_samples(data)
    if subset == "all":
        return samples
    _, val = split(samples, manifest_training.get("val_fraction", 0.15), manifest_training.get("seed", 0))
    return val


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


def evaluate(scorer: PhotoScorer, samples: list[Sample], grey: bool = False) -> dict:
    started = time.perf_counter()
    transform = as_greyscale if grey else None
    results = [scorer.score_file(str(s.path), transform) for s in samples]
    seconds = time.perf_counter() - started
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
    by_group = {}
    for group in sorted({s.group for s in samples}):
        idx = [i for i in found if samples[i].group == group]
        if len(idx) > 2:
            t = np.array([samples[i].score for i in idx])
            p = np.array([results[i].score for i in idx])
            by_group[group] = {"n": len(idx), "pearson_r": round(float(np.corrcoef(t, p)[0, 1]), 4),
                               "mae": round(float(np.abs(p - t).mean()), 4),
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
        "rank_shares": [round(float(np.mean(rank_pred == r)), 4) for r in range(1, 6)] if found else None,
        "rank_confusion": confusion.tolist(),
        "by_group": by_group,
        "seconds": round(seconds, 1),
    }


def report(metrics: dict) -> str:
    """The human-readable table `kiosk eval` prints."""
    lines = [f"photos            {metrics['photos']}  ({metrics['seconds']} s)",
             f"face found        {metrics['face_found']:.2%}  ({metrics['errors']} unreadable)"]
    if metrics["gender_accuracy"] is not None:
        lines += [f"gender accuracy   {metrics['gender_accuracy']:.2%}",
                  f"Pearson r         {metrics['pearson_r']}",
                  f"MAE / RMSE        {metrics['mae']} / {metrics['rmse']}",
                  "rank shares       " + "  ".join(f"{i}: {s:.0%}" for i, s in enumerate(metrics["rank_shares"], 1)),
                  "rank confusion (rows: true rank 1..5 by human rating, columns: booth rank 1..5)"]
        lines += ["  " + " ".join(f"{v:5d}" for v in row) for row in metrics["rank_confusion"]]
        for group, m in metrics["by_group"].items():
            lines.append(f"  {group:8s} n={m['n']:4d}  r {m['pearson_r']:.3f}  MAE {m['mae']:.3f}  "
                         f"gender {m['gender_accuracy']:.2%}")
    return "\n".join(lines)


def as_json(metrics: dict) -> str:
    return json.dumps(metrics)
