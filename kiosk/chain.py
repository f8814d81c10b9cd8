"""The scoring chain: gender model first, then the man or woman score model, then the rank.

Interpreters are created and allocated once. Each call holds a lock, so a worker thread can score
while the render thread draws; TFLite interpreters themselves are not safe to share unlocked.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from .runtime import load_runtime, native_stderr_silenced

GENDERS = ("man", "woman")


class ModelError(RuntimeError):
    """Models missing, corrupt or inconsistent with their manifest; worded for the operator."""


@dataclass(frozen=True)
class Manifest:
    input_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    crop_margin: float
    rank_boundaries: dict[str, tuple[float, ...]]  # per gender: 4 score cuts between ranks 1..5
    files: dict[str, dict[str, str]]  # head -> {"file": ..., "sha256": ...}
    precision: str = "float32"
    training: dict = field(default_factory=dict)  # how they were trained (val split for `kiosk eval`)
    exposure: str = "none"  # "even": crops go through `even_exposure` first, as in training

    @classmethod
    def read(cls, models_dir: Path) -> "Manifest":
        path = Path(models_dir) / "manifest.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            pre = data["preprocess"]
            manifest = cls(int(pre["input_size"]), tuple(pre["mean"]), tuple(pre["std"]),
                           float(pre["crop_margin"]),
                           {g: tuple(float(v) for v in data["rank_boundaries"][g]) for g in GENDERS},
                           {h: dict(v) for h, v in data["models"].items()}, str(data.get("precision", "float32")),
                           dict(data.get("training", {})), str(pre.get("exposure", "none")))
        except FileNotFoundError:
            raise ModelError(f"{path} not found; run `kiosk train` or restore models/ from git") from None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelError(f"{path} is unreadable or incomplete ({type(exc).__name__}: {exc}); "
                             "restore models/ from git") from None
        for g, cuts in manifest.rank_boundaries.items():
            if len(cuts) != 4 or list(cuts) != sorted(cuts):
                raise ModelError(f"{path}: rank_boundaries.{g} must be 4 increasing numbers")
        missing = {"gender", "man", "woman"} - set(manifest.files)
        if missing:
            raise ModelError(f"{path}: models {sorted(missing)} are not listed")
        if manifest.exposure not in ("none", "even"):
            raise ModelError(f"{path}: preprocess.exposure must be \"none\" or \"even\", not {manifest.exposure!r}")
        return manifest


EXPOSURE_TARGET = 0.65  # face centre median brightness after `even_exposure` (SCUT faces: 0.48..0.80)
_LEVELS = np.arange(256, dtype=np.float32) / 255.0


def even_exposure(crop: np.ndarray) -> np.ndarray:
    """The crop with a gamma curve that brings the face centre's median brightness to a fixed level.

    A backlit face (x0.5) or a dim room (gamma 1.8) then reaches the models much as an evenly lit one
    does; gamma changes cancel exactly, exposure changes nearly. Training and the chain both apply it
    (manifest `preprocess.exposure`), so the models never see anything else.
    """
    size = crop.shape[0]
    inner = crop[size // 4: size - size // 4, size // 4: size - size // 4]  # inside the Haar box
    luma = inner @ np.array([0.299, 0.587, 0.114], np.float32)
    median = float(np.clip(np.median(luma) / 255.0, 0.04, 0.96))
    gamma = float(np.clip(np.log(EXPOSURE_TARGET) / np.log(median), 0.33, 3.0))
    table = np.round(255.0 * _LEVELS ** gamma).astype(np.uint8)
    return cv2.LUT(np.ascontiguousarray(crop), table)


def normalise(crops: np.ndarray, mean, std) -> np.ndarray:
    """RGB uint8 crops -> float32 as the models were trained: x/255, minus mean, over std."""
    return ((crops.astype(np.float32) / 255.0 - np.asarray(mean, np.float32))
            / np.asarray(std, np.float32))


def rank_of(score: float, cuts: tuple[float, ...]) -> int:
    return bisect.bisect_right(cuts, score) + 1


@dataclass(frozen=True)
class Verdict:
    gender: str
    p_woman: float
    score: float
    rank: int
    text: str


class Chain:
    """Loads the three models once and scores face crops."""

    def __init__(self, models_dir: Path, rank_texts: tuple[str, ...], threads: int = 1,
                 runtime: str | None = None):
        self.manifest = Manifest.read(models_dir)
        self.runtime = load_runtime(runtime)
        self.rank_texts = rank_texts
        self._lock = threading.Lock()
        self._models = {head: self._load(Path(models_dir), head, threads) for head in ("gender", *GENDERS)}

    def _load(self, models_dir: Path, head: str, threads: int):
        entry = self.manifest.files[head]
        path = models_dir / entry["file"]
        try:
            blob = path.read_bytes()
        except OSError as exc:
            raise ModelError(f"{path}: cannot read model ({exc.strerror or exc}); restore models/ from git") from None
        if hashlib.sha256(blob).hexdigest() != entry["sha256"]:
            raise ModelError(f"{path}: content does not match manifest.json (corrupt or replaced); "
                             "restore models/ from git or retrain")
        try:
            with native_stderr_silenced():
                interpreter = self.runtime.interpreter(model_content=blob, num_threads=threads)
                interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"{path}: {self.runtime} cannot load it ({exc})") from None
        size = self.manifest.input_size
        shape = tuple(interpreter.get_input_details()[0]["shape"])
        if shape != (1, size, size, 3):
            raise ModelError(f"{path}: input shape {shape} does not match manifest size {size}")
        return (interpreter, interpreter.get_input_details()[0]["index"],
                interpreter.get_output_details()[0]["index"])

    def _run(self, head: str, x: np.ndarray) -> float:
        interpreter, inp, out = self._models[head]
        interpreter.set_tensor(inp, x)
        interpreter.invoke()
        value = float(interpreter.get_tensor(out).reshape(-1)[0])
        if not np.isfinite(value):
            raise ModelError(f"the {head} model returned {value}")
        return value

    def predict(self, crops: list[np.ndarray]) -> tuple[float, float]:
        """p_woman and score for one or more crops of the same face, averaged, so one blink or odd
        frame does not decide: gender first, then the chosen gender's score model on each crop."""
        m = self.manifest
        if m.exposure == "even":
            crops = [even_exposure(c) for c in crops]
        inputs = [normalise(c[None], m.mean, m.std) for c in crops]
        with self._lock:
            p_woman = float(np.mean([self._run("gender", x) for x in inputs]))
            head = GENDERS[int(p_woman >= 0.5)]
            score = float(np.mean([self._run(head, x) for x in inputs]))
        return p_woman, score

    def verdict(self, p_woman: float, score: float) -> Verdict:
        """Gender, rank and text from the model outputs."""
        gender = GENDERS[int(p_woman >= 0.5)]
        rank = rank_of(score, self.manifest.rank_boundaries[gender])
        return Verdict(gender, p_woman, score, rank, self.rank_texts[rank - 1])

    def score(self, *crops: np.ndarray) -> Verdict:
        return self.verdict(*self.predict(list(crops)))
