"""The scoring chain: the gender first, then the man or woman score, then the rank.

Interpreters are created and allocated once. Each call holds a lock: TFLite interpreters are not
safe to share unlocked, and one chain may be called from more than one thread (the booth's scoring
worker, `kiosk check`'s probes).
"""

from __future__ import annotations

import bisect
import hashlib
import json
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np

from .errors import KioskError
from .faces import FaceBox, crop_face
from .runtime import load_runtime, native_stderr_silenced

GENDERS = ("man", "woman")
GENDER_FROM = ("all", "plain")


class ModelError(KioskError):
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
    exposure: str = "none"  # "even" / "tone": crops go through `EXPOSURES[exposure]` first, as in training
    mirror: bool = False  # also run each crop's mirror image and average (test-time augmentation)
    calibration: tuple[float, float] = (1.0, 0.0)  # displayed score = slope x raw + intercept
    # more crops of each face, cut around the same box with these margins, averaged with it
    # (test-time augmentation: a second framing evens out how the box happens to sit on the face)
    extra_margins: tuple[float, ...] = ()
    # which inputs decide the gender: "all" of them, or "plain": each face's first crop as it is (no
    # mirror image, no extra margin). Where the gender has a model of its own, "plain" runs it once
    # per face instead of once per input; gender is rarely in doubt, the score is what wobbles.
    gender_from: str = "all"
    # the model files that take each input of a face in turn (as `Chain.inputs` orders them): input i
    # goes to members[i % len(members)], each member giving all three heads. One member (the
    # default: every file) runs the same network on everything; two put a second network on the
    # mirror images (an ensemble at the cost of the inputs there are anyway: models/README.md).
    members: tuple[tuple[str, ...], ...] = ()
    # Gaussian blur sigma, in input pixels, every crop gets before the exposure step (0 = none): copies
    # of a photo a person cannot tell apart (JPEG, slight blur, sensor noise) differ mostly in fine
    # detail, and the networks' reading of it made the score wobble (models/README.md, "Smoothing")
    smooth: float = 0.0

    @property
    def inputs_per_face(self) -> int:
        """Each crop (one per margin), and its mirror image where `mirror` is on."""
        return (2 if self.mirror else 1) * (1 + len(self.extra_margins))

    def member(self, index: int) -> tuple[str, ...]:
        """The model files that take input `index` of a face's inputs (`Chain.inputs`' order)."""
        return self.members[index % self.inputs_per_face % len(self.members)]

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
                           dict(data.get("training", {})), str(pre.get("exposure", "none")),
                           bool(pre.get("mirror", False)),
                           (float(data.get("calibration", {}).get("slope", 1.0)),
                            float(data.get("calibration", {}).get("intercept", 0.0))),
                           tuple(float(v) for v in pre.get("extra_margins", ())),
                           str(pre.get("gender_from", "all")),
                           tuple(tuple(str(n) for n in member) for member in data.get("members", ())),
                           smooth=float(pre.get("smooth", 0.0)))
        except FileNotFoundError:
            raise ModelError(f"{path} not found; run `kiosk train` or restore models/ from git") from None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelError(f"{path} is unreadable or incomplete ({type(exc).__name__}: {exc}); "
                             "restore models/ from git") from None
        for g, cuts in manifest.rank_boundaries.items():
            if len(cuts) != 4 or list(cuts) != sorted(cuts):
                raise ModelError(f"{path}: rank_boundaries.{g} must be 4 increasing numbers")
        if not manifest.members:
            manifest = replace(manifest, members=(tuple(manifest.files),))
        for member in manifest.members:
            unknown = [n for n in member if n not in manifest.files]
            if unknown:
                raise ModelError(f"{path}: members name {unknown}, which models does not list")
            given = {h for name in member for h in model_heads(name, manifest.files[name])}
            missing = {"gender_logit", "man", "woman"} - given
            if missing:
                raise ModelError(f"{path}: no model {'of member ' + str(list(member)) + ' ' if len(manifest.members) > 1 else ''}"
                                 f"gives {sorted(missing)}")
        if len(manifest.members) > manifest.inputs_per_face:
            raise ModelError(f"{path}: {len(manifest.members)} members but {manifest.inputs_per_face} input(s) a face "
                             "(turn preprocess.mirror on or add extra_margins), so some would never run")
        if not all(0 <= v <= 1 for v in manifest.extra_margins):
            raise ModelError(f"{path}: preprocess.extra_margins must be margins between 0 and 1")
        if not manifest.calibration[0] > 0:
            raise ModelError(f"{path}: calibration.slope must be positive")
        if manifest.gender_from not in GENDER_FROM:
            raise ModelError(f"{path}: preprocess.gender_from must be \"all\" or \"plain\", not {manifest.gender_from!r}")
        if not smooth_ok(manifest.smooth):
            raise ModelError(f"{path}: preprocess.smooth must be {SMOOTH_RANGE}, not {manifest.smooth:g}")
        if manifest.exposure not in EXPOSURES:
            raise ModelError(f"{path}: preprocess.exposure must be one of {', '.join(EXPOSURES)}, "
                             f"not {manifest.exposure!r}")
        return manifest


EXPOSURE_TARGET = 0.67  # face centre median brightness after `even_exposure` (SCUT faces: 0.48..0.80)
# The spread of the face centre's log brightness (10th to 90th percentile) that `tone_exposure` brings
# every face to: the median over a quarter of the SCUT training crops (their 10th..90th: 0.37..1.32).
TONE_SPREAD = 0.63
_LEVELS = np.arange(256, dtype=np.float32)
_LOG_LEVELS = np.log(np.maximum(_LEVELS, 0.5) / 255.0)  # 0 taken as half a level: finite
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def even_exposure(crop: np.ndarray) -> np.ndarray:
    """The crop with a gain that brings the face centre's median brightness to a fixed level.

    A backlit face (x0.5) then reaches the models as an evenly lit one does, up to 8-bit rounding;
    a dim room (gamma 1.8) partly. Training and the chain both apply it (manifest
    `preprocess.exposure`), so the models never see anything else.
    """
    median = float(np.median(face_centre(crop) @ _LUMA)) / 255.0
    gain = float(np.clip(EXPOSURE_TARGET / max(median, 1e-3), 1 / 3, 3.0))
    table = np.clip(np.round(_LEVELS * gain), 0, 255).astype(np.uint8)
    return cv2.LUT(np.ascontiguousarray(crop), table)


def tone_exposure(crop: np.ndarray) -> np.ndarray:
    """The crop with the face centre's log brightness brought to a fixed median and spread.

    A gain and a gamma are both straight lines in log brightness, so this undoes an exposure change
    and a dim room's tone curve alike (up to 8-bit rounding and noise), where `even_exposure` undoes
    only the gain; the price is that a face's own contrast is evened too.
    """
    low, median, high = np.percentile(np.log(np.maximum(face_centre(crop) @ _LUMA, 1.0) / 255.0), (10, 50, 90))
    power = float(np.clip(TONE_SPREAD / max(high - low, 1e-3), 0.5, 2.0))
    table = np.clip(np.round(255.0 * np.exp(np.log(EXPOSURE_TARGET) + power * (_LOG_LEVELS - median))), 0, 255)
    return cv2.LUT(np.ascontiguousarray(crop), table.astype(np.uint8))


def face_centre(crop: np.ndarray) -> np.ndarray:
    """The middle half of a face crop: inside the Haar box, so skin and features, not background."""
    size = crop.shape[0]
    return crop[size // 4: size - size // 4, size // 4: size - size // 4]


EXPOSURES = {"none": lambda crop: crop, "even": even_exposure, "tone": tone_exposure}  # manifest preprocess.exposure
MAX_SMOOTH = 3.0  # preprocess.smooth: past this a 224-pixel face is a blur
SMOOTH_RANGE = f"a blur sigma from 0 to {MAX_SMOOTH:g} pixels"  # what every check of it says


def smooth_ok(sigma: float) -> bool:
    return 0 <= sigma <= MAX_SMOOTH


def smoothed(crop: np.ndarray, sigma: float) -> np.ndarray:
    """The crop low-passed by a Gaussian of `sigma` pixels (manifest `preprocess.smooth`; 0: as it is)."""
    return cv2.GaussianBlur(crop, (0, 0), sigma) if sigma > 0 else crop


def input_step(exposure: str, smooth: float):
    """A crop as the models take it, before `normalise`: smoothed, then the exposure step (so its
    brightness percentiles are read from the smoothed face). The chain and training both use it."""
    step = EXPOSURES[exposure]
    return lambda crop: step(smoothed(crop, smooth))


def normalise(crops: np.ndarray, mean, std) -> np.ndarray:
    """RGB uint8 crops (any leading shape, colour last) -> float32 as the models were trained:
    x/255, minus mean, over std.

    One per-pixel affine map in OpenCV (x * 1/(255 std) - mean/std): numpy's broadcast over a last
    axis of 3 took 0.96 ms a crop, a sixth of the chain's own time; this takes 0.2 ms."""
    std, mean = np.asarray(std, np.float32), np.asarray(mean, np.float32)
    affine = np.hstack([np.diag(1.0 / (255.0 * std)), (-mean / std)[:, None]]).astype(np.float32)
    x = crops.astype(np.float32)
    return cv2.transform(x.reshape(-1, x.shape[-2], 3), affine).reshape(x.shape)


def rank_of(score: float, cuts: tuple[float, ...]) -> int:
    return bisect.bisect_right(cuts, score) + 1


UNSURE = "unsure"  # the gender when p_woman is exactly 0.5: see `gender_of`


def gender_of(p_woman: float) -> str:
    """"woman" above 0.5, "man" below. Exactly 0.5 (the averaged gender logit is exactly 0, which
    int8 outputs can give) means the models cannot tell: "unsure", scored by both score models."""
    return GENDERS[int(p_woman > 0.5)] if p_woman != 0.5 else UNSURE


def logit(p: float) -> float:
    p = min(max(p, 1e-7), 1 - 1e-7)
    return float(np.log(p / (1 - p)))


@dataclass(frozen=True)
class Verdict:
    gender: str  # "man", "woman" or UNSURE
    p_woman: float
    score: float  # on the raters' 1-5 scale, calibrated (manifest `calibration`)
    rank: int
    text: str


class Chain:
    """Loads the models once and scores face crops.

    A model file may give one head (the seed's layout: gender, man and woman models, each run on
    its own) or all three at once (`face.tflite`, outputs listed in the manifest): then one run per
    crop gives the gender logit and both scores.
    """

    def __init__(self, models_dir: Path, rank_texts: tuple[str, ...], threads: int = 1,
                 runtime: str | None = None):
        self.manifest = Manifest.read(models_dir)
        self.runtime = load_runtime(runtime)
        self.rank_texts = rank_texts
        self._lock = threading.Lock()
        self._models = {name: self._load(Path(models_dir), name, threads) for name in self.manifest.files}

    def _load(self, models_dir: Path, name: str, threads: int):
        entry = self.manifest.files[name]
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
        outputs = {d["name"]: d["index"] for d in interpreter.get_output_details()}
        if "outputs" not in entry:  # the seed's layout: one output, the head the file is named for
            return (interpreter, interpreter.get_input_details()[0]["index"],
                    {entry.get("head", name): next(iter(outputs.values()))})
        unknown = set(entry["outputs"].values()) - outputs.keys()
        if unknown:
            raise ModelError(f"{path}: has no outputs {sorted(unknown)} that manifest.json lists; retrain or re-export")
        return (interpreter, interpreter.get_input_details()[0]["index"],
                {head: outputs[tensor] for head, tensor in entry["outputs"].items()})

    def _run(self, name: str, x: np.ndarray) -> dict[str, float]:
        """One model on one input: {head: value}, the seed's gender probability as a logit."""
        interpreter, inp, outputs = self._models[name]
        interpreter.set_tensor(inp, x)
        interpreter.invoke()
        values = {}
        for head, index in outputs.items():
            value = float(interpreter.get_tensor(index).reshape(-1)[0])
            if not np.isfinite(value):
                raise ModelError(f"the {name} model returned {value}")
            values[head] = value
        if "gender" in values:  # the seed's layout gives p_woman: averaged as a logit like the rest
            values["gender_logit"] = logit(values.pop("gender"))
        return values

    def _heads(self, x: np.ndarray, wanted: set[str], known: dict[str, float],
               member: tuple[str, ...]) -> dict[str, float]:
        """`known` completed with the `wanted` heads, running only the models of `member` that give
        missing ones."""
        for name in member:
            missing = wanted - known.keys()
            if missing & set(model_heads(name, self.manifest.files[name])):
                known.update(self._run(name, x))
        return known

    def crops(self, image_bgr: np.ndarray, box: FaceBox) -> list[np.ndarray]:
        """The crops of the face in `box` the models take: one per margin of the manifest."""
        m = self.manifest
        return [crop_face(image_bgr, box, margin, m.input_size) for margin in (m.crop_margin, *m.extra_margins)]

    def extra_crops(self, image_bgr: np.ndarray, box: FaceBox) -> list[np.ndarray]:
        """The crops beside the one cut with `crop_margin` (which callers often have already)."""
        m = self.manifest
        return [crop_face(image_bgr, box, margin, m.input_size) for margin in m.extra_margins]

    def inputs(self, crops: list[np.ndarray]) -> list[np.ndarray]:
        """The model inputs for crops of one face: smoothed, exposure evened, and each crop's mirror image."""
        m = self.manifest
        step = input_step(m.exposure, m.smooth)
        crops = [step(c) for c in crops]
        if m.mirror:  # a face and its mirror image get the same verdict, and noise averages out
            crops = [v for c in crops for v in (c, c[:, ::-1])]
        return [normalise(c[None], m.mean, m.std) for c in crops]

    def predict(self, crops: list[np.ndarray]) -> tuple[float, float]:
        """p_woman and raw score for one or more crops of the same face (and their mirror images),
        averaged, so one blink or odd frame does not decide: the gender logits first (of every input,
        or of the plain ones: manifest `gender_from`), then the chosen gender's score on each input
        (both genders' on a tie). `crops` come a face at a time, each face's `crops()` in order."""
        inputs = self.inputs(crops)
        with self._lock:
            outs = [self._heads(x, {"gender_logit"}, {}, self.manifest.member(i)) if self._decides_gender(i) else {}
                    for i, x in enumerate(inputs)]
            p_woman = float(1 / (1 + np.exp(-np.mean([o["gender_logit"] for o in outs if "gender_logit" in o]))))
            gender = gender_of(p_woman)
            heads = set(GENDERS) if gender == UNSURE else {gender}
            outs = [self._heads(x, heads, o, self.manifest.member(i)) for i, (x, o) in enumerate(zip(inputs, outs))]
        score = float(np.mean([o[h] for o in outs for h in heads]))
        return p_woman, score

    def _decides_gender(self, index: int) -> bool:
        """Whether input `index` (as `inputs` orders them) counts for the gender."""
        m = self.manifest
        return m.gender_from == "all" or index % m.inputs_per_face == 0  # the face's first crop as it is

    def boundaries(self, gender: str) -> tuple[float, ...]:
        cuts = self.manifest.rank_boundaries
        if gender == UNSURE:
            return tuple(float(v) for v in np.mean([cuts[g] for g in GENDERS], axis=0))
        return cuts[gender]

    def displayed(self, raw: float) -> float:
        """The raw score on the raters' 1-5 scale (calibration fitted on the validation split)."""
        slope, intercept = self.manifest.calibration
        return min(max(slope * raw + intercept, 1.0), 5.0)

    def raw_score(self, displayed: float) -> float:
        slope, intercept = self.manifest.calibration
        return (displayed - intercept) / slope

    def verdict(self, p_woman: float, score: float) -> Verdict:
        """Gender, rank and text from the model outputs (`score` raw, as `predict` gives it)."""
        gender = gender_of(p_woman)
        rank = rank_of(score, self.boundaries(gender))
        return Verdict(gender, p_woman, self.displayed(score), rank, self.rank_texts[rank - 1])

    def score(self, *crops: np.ndarray) -> Verdict:
        return self.verdict(*self.predict(list(crops)))


def model_heads(name: str, entry: dict) -> list[str]:
    """The heads a model file gives (the chain's names): those its manifest entry lists, or the one
    it is named for (or its entry's `head`: a partner's "partner_gender" gives "gender"), where the
    seed's "gender" file gives p_woman, read as `gender_logit`."""
    heads = list(entry.get("outputs", {entry.get("head", name): None}))
    return ["gender_logit" if h == "gender" else h for h in heads]
