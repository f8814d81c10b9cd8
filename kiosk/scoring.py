"""Scoring photo files: the seed's upload flow (largest face -> gender -> score -> rank), no web page.

`kiosk score` and `kiosk eval` both go through `PhotoScorer.score_file`, so evaluation measures
exactly what an operator runs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass

from .chain import Chain, ModelError
from .config import Config
from .faces import FaceDetector, largest_face_crop
from .photo import Photo, PhotoError, printable, read_photo


@dataclass(frozen=True)
class PhotoResult:
    path: str
    status: str  # "ok" | "no_face" | "error"
    faces: int = 0
    box: list[int] | None = None
    gender: str | None = None
    p_woman: float | None = None
    rank: int | None = None
    score: float | None = None
    text: str | None = None
    error: str | None = None

    def json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    def line(self) -> str:
        """The human-readable line `kiosk score` prints."""
        if self.status == "error":
            return f"{self.path}: error: {self.error}"
        if self.status == "no_face":
            return f"{self.path}: 얼굴을 찾지 못했습니다 (no face found)"
        several = f", {self.faces} faces, scored the largest" if self.faces > 1 else ""
        return (f"{self.path}: {self.text}  ({self.gender}, p_woman {self.p_woman:.2f}, "
                f"score {self.score:.2f}, rank {self.rank}/5{several})")


class PhotoScorer:
    def __init__(self, config: Config):
        self.config = config
        self.chain = Chain(config.models_dir, config.wording.rank_texts, config.models.threads)
        self.detector = FaceDetector(config.detection)

    def score_file(self, path: str, transform=None) -> PhotoResult:
        """Score one photo file; `transform` (image -> image) lets evaluation alter it first."""
        return self.score(path, printable(path), transform)

    def score(self, source: str | bytes, name: str, transform=None) -> PhotoResult:
        """Score a photo file or a photo's bytes (an upload); `name` is what the result calls it."""
        return self._scored(name, self._read(source), transform)

    def score_with_photo(self, source: str | bytes, name: str) -> tuple[PhotoResult, Photo | None]:
        """`score`, and the decoded photo too (the upload page draws the box on it)."""
        photo = self._read(source)
        return self._scored(name, photo), photo if isinstance(photo, Photo) else None

    def score_files(self, found: list[tuple[str, str | None]]) -> Iterator[PhotoResult]:
        """Score `photo.find_photos`'s list in order, one photo read ahead: the decoder process
        decodes the next photo while this one is detected and scored."""
        with ThreadPoolExecutor(max_workers=1) as reader:
            ahead: Future | None = None
            for i, (path, problem) in enumerate(found):
                photo = ahead.result() if ahead is not None else self._read(path, problem)
                ahead = reader.submit(self._read, *found[i + 1]) if i + 1 < len(found) else None
                yield self._scored(printable(path), photo)

    def _read(self, source: str | bytes, problem: str | None = None) -> Photo | PhotoError:
        if problem is not None:
            return PhotoError(problem)
        try:
            return read_photo(source, self.config.photos)
        except PhotoError as exc:
            return exc

    def _scored(self, name: str, photo: Photo | PhotoError, transform=None) -> PhotoResult:
        if isinstance(photo, PhotoError):
            return PhotoResult(name, "error", error=str(photo))
        if transform is not None:
            photo = Photo(transform(photo.image), photo.scale)
        m = self.chain.manifest
        detection, crop = largest_face_crop(photo.image, self.detector, m.crop_margin, m.input_size)
        if crop is None:
            return PhotoResult(name, "no_face")
        try:
            v = self.chain.score(crop, *self.chain.extra_crops(photo.image, detection.chosen))
        except ModelError as exc:
            return PhotoResult(name, "error", faces=len(detection.faces), error=str(exc))
        box = detection.chosen.scaled(photo.scale).as_list()  # in the upright original's pixels
        return PhotoResult(name, "ok", len(detection.faces), box, v.gender,
                           round(v.p_woman, 4), v.rank, round(v.score, 4), v.text)
