"""Drawing the booth: preview, face boxes, hints, countdown, verdict. The render loop owns pygame;
this module only turns a `Scene` (what to show) into pixels."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pygame
import pygame.freetype

from . import texts
from .flow import Phase
from ..chain import Verdict
from ..faces import Detection, FaceBox
from .fonts import FontFile
from .qr import QrCode
from .stability import FaceState
from .view import View

BOX_COLOURS = {FaceState.SEVERAL: (230, 60, 60), FaceState.MOVING: (250, 200, 40),
               FaceState.STEADY: (40, 210, 90)}
RESULT_COLOUR = (110, 205, 255)  # its own: the result is no "moving" yellow
MESSAGE_COLOUR = (250, 200, 40)
# One band for every screen, of the canvas height: text changes between states, the layout does not.
# It holds the verdict (up to two lines, shrunk to fit), the score line and the disclaimer.
BAND = 0.26
SCORING_WORDS_AFTER_S = 0.3
WHITE, BLACK = (255, 255, 255), (0, 0, 0)


@dataclass(frozen=True)
class Scene:
    phase: Phase
    frame: np.ndarray | None  # BGR picture to show (live, or the captured one on the result screen)
    detection: Detection | None = None
    face: FaceState = FaceState.NONE
    countdown: int = 0
    message: str = ""
    verdict: Verdict | None = None
    result_box: FaceBox | None = None
    auto_trigger: bool = False
    hint: str = ""  # what the visitor should do now (the flow's `Booth.hint`)
    elapsed: float = 0.0  # seconds in this phase
    takeaway: QrCode | None = None  # the result's take-home card, when the booth's web pages offer one
    takeaway_note: str = ""  # how long the card is kept


class Renderer:
    def __init__(self, display: pygame.Surface, view: View, font: FontFile):
        self.display, self.view = display, view
        self.canvas = display if view.rotation == 0 else pygame.Surface(view.canvas_size)
        unit = min(view.canvas_size)
        pygame.freetype.init()
        self.font = font
        self.sizes = {name: max(8, round(unit * k))  # pixels; a line may also ask for a pixel size itself
                      for name, k in (("count", 0.12), ("big", 0.085), ("mid", 0.05), ("small", 0.028))}
        self._fonts: dict[int, pygame.freetype.Font] = {}
        self._fits: dict[str, tuple[list[str], int]] = {}
        self._screens = {Phase.IDLE: self._idle, Phase.LIVE: self._live, Phase.WAITING: self._live,
                         Phase.COUNTDOWN: self._countdown,
                         Phase.SCORING: self._scoring, Phase.RESULT: self._result, Phase.MESSAGE: self._message}
        self._texts: dict[tuple, pygame.Surface] = {}  # the same few strings are drawn every frame
        self._shades: dict[tuple, pygame.Surface] = {}
        self._qr: tuple[QrCode | None, pygame.Surface | None] = (None, None)

    def draw(self, scene: Scene) -> None:
        c = self.canvas
        c.fill(BLACK)
        if scene.phase is Phase.NO_CAMERA or scene.frame is None:
            self._centre_lines([(texts.CAMERA_LOST, "mid", WHITE),
                                (texts.CAMERA_LOST_DETAIL, "small", (160, 160, 160))])
        else:
            self._picture(scene.frame)
            self._screens[scene.phase](scene)
        if c is not self.display:
            self.display.blit(pygame.transform.rotate(c, -self.view.rotation), (0, 0))

    # One method per phase -------------------------------------------------------------------
    def _live(self, scene: Scene) -> None:
        self._boxes(scene)
        self._band([(scene.hint or texts.HINTS[scene.face], "mid", BOX_COLOURS.get(scene.face, WHITE))])

    def _countdown(self, scene: Scene) -> None:
        self._boxes(scene)
        # Below the face, not over it: the visitor is still framing themselves, and the hint says
        # what would spoil the capture.
        hint = scene.hint or texts.HINTS[scene.face]
        self._band([(str(scene.countdown), "count", WHITE), (hint, "mid", BOX_COLOURS.get(scene.face, WHITE))])

    def _scoring(self, scene: Scene) -> None:
        self._result_box(scene)
        # Scoring mostly takes well under this: the words would only flash.
        self._band([(scene.message or texts.SCORING, "mid", WHITE)] if scene.elapsed >= SCORING_WORDS_AFTER_S else [])

    def _message(self, scene: Scene) -> None:
        self._band([(scene.message, "mid", MESSAGE_COLOUR)])

    def _result(self, scene: Scene) -> None:
        self._result_box(scene)
        v = scene.verdict
        line = texts.SCORE_LINE.format(gender=texts.GENDER[v.gender], score=v.score, stars=texts.stars(v.rank))
        rest = [(line, "mid", WHITE), (texts.JUST_FOR_FUN, "small", (190, 190, 190))]
        room = self.view.canvas_size[1] * BAND * 0.95 - self._height(rest)
        if v.text not in self._fits:  # measured once per text, not every frame
            self._fits = {v.text: self._fitted(v.text, self.sizes["big"], self.sizes["small"], room)}
        verdict, px = self._fits[v.text]
        self._band([(part, px, RESULT_COLOUR) for part in verdict] + rest)
        if scene.takeaway is not None:
            self._takeaway(scene.takeaway, scene.takeaway_note)

    def _idle(self, scene: Scene) -> None:
        self.canvas.blit(self._shade(self.view.canvas_size, 170), (0, 0))
        steps = texts.IDLE_STEPS_AUTO if scene.auto_trigger else texts.IDLE_STEPS
        self._centre_lines([(texts.IDLE_TITLE, "big", RESULT_COLOUR)] + [(s, "mid", WHITE) for s in steps if s]
                           + [(texts.JUST_FOR_FUN, "small", (190, 190, 190))])

    def _takeaway(self, code: QrCode, note: str) -> None:
        """The take-home QR code in the top right corner, above the band, with what it is and how
        long the card is kept beneath it."""
        cw, ch = self.view.canvas_size
        if self._qr[0] is not code:  # scaled once per result, whole pixels per module: crisp edges
            n = code.modules.shape[0]
            k = max(3, round(min(cw, ch) * 0.24) // n)  # 3 pixels a module: the least a phone reads well
            grey = np.where(code.modules.T, 0, 255).astype(np.uint8)
            self._qr = (code, pygame.transform.scale(pygame.surfarray.make_surface(np.dstack([grey] * 3)),
                                                     (n * k, n * k)))
        qr = self._qr[1]
        lines = [(texts.TAKEAWAY_TITLE, "small", WHITE), (note, "small", (190, 190, 190))]
        pad = round(min(cw, ch) * 0.015)
        width = max(qr.get_width(), *(self._rendered(t, s, c).get_width() for t, s, c in lines)) + 2 * pad
        height = qr.get_height() + round(self._height(lines)) + 3 * pad
        left, top = cw - width - pad, pad
        self.canvas.blit(self._shade((width, height), 200), (left, top))
        self.canvas.blit(qr, qr.get_rect(midtop=(left + width // 2, top + pad)))
        self._stack(lines, top + qr.get_height() + 2 * pad, height - qr.get_height() - 3 * pad, left + width // 2)
    # Pieces ---------------------------------------------------------------------------------
    def _picture(self, frame: np.ndarray) -> None:
        picture = np.ascontiguousarray(self.view.picture(frame))
        x, y, w, h = self.view.picture_rect
        self.canvas.blit(pygame.image.frombuffer(picture, (w, h), "BGR"), (x, y))  # no copy

    def _boxes(self, scene: Scene) -> None:
        if scene.detection is None:
            return
        colour = BOX_COLOURS.get(scene.face)
        for box in scene.detection.faces:
            if colour:
                pygame.draw.rect(self.canvas, colour, self.view.box(box), width=max(3, self.view.canvas_size[0] // 320))

    def _result_box(self, scene: Scene) -> None:
        if scene.result_box is not None:
            pygame.draw.rect(self.canvas, RESULT_COLOUR, self.view.box(scene.result_box),
                             width=max(3, self.view.canvas_size[0] // 240))

    def _face(self, size: str | int) -> pygame.freetype.Font:
        px = self.sizes[size] if isinstance(size, str) else size
        if px not in self._fonts:
            self._fonts[px] = pygame.freetype.Font(self.font.path, px, font_index=self.font.index)
        return self._fonts[px]

    def _fitted(self, text: str, px: int, smallest: int, room: float) -> tuple[list[str], int]:
        """`text` in at most two lines across the canvas and `room` pixels high: at `px` if it fits,
        else smaller (down to `smallest`, which config's length limit keeps it from needing)."""
        width = self.view.canvas_size[0] * 0.92
        while True:
            font = self._face(px)
            lines = wrap(text, lambda part: font.get_rect(part).width <= width)
            if px <= smallest or (len(lines) <= 2 and self._height([(t, px, None) for t in lines]) <= room):
                return lines[:2], px
            px = max(smallest, round(px * 0.9))

    def _rendered(self, text: str, size: str | int, colour) -> pygame.Surface:
        key = (text, size, colour)
        if key not in self._texts:
            if len(self._texts) > 256:  # verdict lines carry scores: keep the cache bounded
                self._texts.clear()
            self._texts[key] = self._face(size).render(text, colour)[0]
        return self._texts[key]

    def _shade(self, size: tuple[int, int], alpha: int) -> pygame.Surface:
        key = (size, alpha)
        if key not in self._shades:
            self._shades[key] = pygame.Surface(size, pygame.SRCALPHA)
            self._shades[key].fill((0, 0, 0, alpha))
        return self._shades[key]

    def _text(self, text: str, size: str, colour, centre: tuple[int, int]) -> None:
        surface = self._rendered(text, size, colour)
        self.canvas.blit(surface, surface.get_rect(center=centre))

    def _band(self, lines: list[tuple[str, str, tuple]]) -> None:
        """Lines of text on a dark translucent band across the bottom of the canvas."""
        cw, ch = self.view.canvas_size
        band_h = round(ch * BAND)
        self.canvas.blit(self._shade((cw, band_h), 180), (0, ch - band_h))
        self._stack(lines, ch - band_h, band_h)

    def _centre_lines(self, lines: list[tuple[str, str, tuple]]) -> None:
        self._stack(lines, 0, self.view.canvas_size[1])

    def _line_heights(self, lines: list[tuple]) -> list[float]:
        return [self._face(size).get_sized_height() * 1.25 for _, size, _ in lines]

    def _height(self, lines: list[tuple]) -> float:
        return sum(self._line_heights(lines))

    def _stack(self, lines: list[tuple[str, str, tuple]], top: int, height: int, x: int | None = None) -> None:
        """Lines centred on `x` (the canvas's middle by default), stacked in the middle of `height`."""
        heights = self._line_heights(lines)
        y = top + (height - sum(heights)) / 2
        x = self.view.canvas_size[0] // 2 if x is None else x
        for (text, size, colour), h in zip(lines, heights):
            self._text(text, size, colour, centre=(x, round(y + h / 2)))
            y += h


def wrap(text: str, fits) -> list[str]:
    """Greedy line breaks at spaces (`fits(line)` says whether a line fits); a word too wide for a
    line by itself is broken between characters (Hangul reads fine so)."""
    lines: list[str] = []
    for word in text.split():
        candidate = f"{lines[-1]} {word}" if lines else word
        if lines and fits(candidate):
            lines[-1] = candidate
            continue
        while not fits(word) and len(word) > 1:
            cut = 1
            while fits(word[:cut + 1]):
                cut += 1
            lines.append(word[:cut])
            word = word[cut:]
        lines.append(word)
    return lines or [""]
