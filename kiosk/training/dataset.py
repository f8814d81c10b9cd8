"""Labelled faces for training: the SCUT-FBP5500 labels file or an operator's own photo folders."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from ..chain import GENDERS  # index = the gender model's label: 0 = man, 1 = woman (as the seed)
from ..photo import PHOTO_SUFFIXES
from ..errors import KioskError



@dataclass(frozen=True)
class Sample:
    path: Path
    gender: int
    score: float  # on the 1-5 human rating scale
    group: str  # stratum for the validation split (SCUT: AF/AM/CF/CM; folders: gender/rank)


def load_samples(source: Path) -> list[Sample]:
    """SCUT layout (`labels.txt` + `images/`) or the seed's layout (`man/1..5/`, `woman/1..5/`)."""
    source = Path(source)
    if (source / "labels.txt").is_file():
        return scut_samples(source)
    if any((source / g).is_dir() for g in GENDERS):
        return folder_samples(source)
    raise KioskError(f"{source}: expected labels.txt and images/ (SCUT-FBP5500) or folders "
                     "man/1..5 and woman/1..5 with photos")


def scut_samples(root: Path) -> list[Sample]:
    samples = []
    for n, line in enumerate((root / "labels.txt").read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            name, score = line.split()
            gender = {"F": 1, "M": 0}[name[1]]
            samples.append(Sample(root / "images" / name, gender, float(score), name[:2]))
        except (ValueError, KeyError, IndexError):
            raise KioskError(f"{root / 'labels.txt'}:{n}: expected '<AF|AM|CF|CM...>.jpg <score>', "
                             f"got {line!r}") from None
    return samples


def folder_samples(root: Path) -> list[Sample]:
    samples = []
    for gender, name in enumerate(GENDERS):
        for rank in range(1, 6):
            folder = root / name / str(rank)
            if not folder.is_dir():
                continue
            for path in sorted(folder.iterdir()):
                if path.suffix.lower() in PHOTO_SUFFIXES:
                    samples.append(Sample(path, gender, float(rank), f"{name}/{rank}"))
    if not samples:
        raise KioskError(f"{root}: no photos found under man/1..5 or woman/1..5")
    return samples


def split(samples: list[Sample], val_fraction: float, seed: int = 0) -> tuple[list[Sample], list[Sample]]:
    """A stable stratified split: each group's files ordered by a hash of their name."""
    train, val = [], []
    for group in sorted({s.group for s in samples}):
        members = sorted((s for s in samples if s.group == group),
                         key=lambda s: hashlib.sha1(f"{seed}:{s.path.name}".encode()).hexdigest())
        cut = round(len(members) * val_fraction)
        val += members[:cut]
        train += members[cut:]
    return train, val


HALVES = ("a", "b")


def half(val: list[Sample], which: str) -> list[Sample]:
    """Half of a validation split: "a" its even positions, "b" its odd ones. `split` lists each group's
    photos in turn, so each half holds every group alike: pick among candidates on one half, and judge
    the pick on the other, where picking cannot have flattered it."""
    return val[HALVES.index(which)::2]
