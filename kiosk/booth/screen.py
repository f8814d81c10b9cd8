"""Drawing the booth: preview, face boxes, hints, countdown, verdict. The render loop owns pygame;
this module only turns a `Scene` (what to show) into pixels."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pygame
import pygame.freetype

from .flow import Phase
from ..chain import Verdict
from ..faces import Detection, FaceBox
from .fonts import FontFile
from .qr import QrCode
from .stability import FaceState
from .view import View
from ..texts import CAMERA_LOST_DETAIL, Texts

BOX_COLOURS = {FaceState.SEVERAL: (230, 60, 60), FaceState.MOVING: (250, 200, 40),
               FaceState.STEADY: (40, 210, 90)}
RESULT_COLOUR = (110, 205, 255)  # its own: the result is no "moving" yellow
MESSAGE_COLOUR = (250, 200, 40)
# One band for every screen, of the canvas height: text changes between states, the layout does not.
# It holds the verdict (up to two lines, shrunk to fit), the score line and the disclaimer.
BAND = 0.26
TOP_BAR = 0.1  # of the canvas height: the event's logo and title, on the idle and result screens
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


@dataclass(frozen=True)
class Look:
    """What stays the same all day: the words, the privacy and AI notice, the event's branding."""
    words: Texts = Texts.of()
    notice: str = ""
    title: str = ""
    logo: pygame.Surface | None = None


class Renderer:
    def __init__(self, display: pygame.Surface, view: View, font: FontFile, look: Look = Look()):
        self.display, self.look = display, look
        self.base = self.view = view  # base: set by the owner (the fill crop follows the face); view: as drawn
        self.words = look.words
        self.canvas = display if view.rotation == 0 else pygame.Surface(view.canvas_size)
        unit = min(view.canvas_size)
        pygame.freetype.init()
        self.font = font
        self.sizes = {name: max(8, round(unit * k))  # pixels; a line may also ask for a pixel size itself
                      for name, k in (("count", 0.12), ("big", 0.085), ("mid", 0.05), ("small", 0.028))}
        self._fonts: dict[int, pygame.freetype.Font] = {}
        self._fits: dict[tuple, tuple[list[str], int]] = {}
        self._screens = {Phase.IDLE: self._idle, Phase.LIVE: self._live, Phase.WAITING: self._live,
                         Phase.COUNTDOWN: self._countdown,
                         Phase.SCORING: self._scoring, Phase.RESULT: self._result, Phase.MESSAGE: self._message}
        self._texts: dict[tuple, pygame.Surface] = {}  # the same few strings are drawn every frame
        self._shades: dict[tuple, pygame.Surface] = {}
        self._logos: dict[int, pygame.Surface] = {}
        self._qr: tuple[QrCode | None, pygame.Surface | None] = (None, None)

    def draw(self, scene: Scene) -> None:
        c = self.canvas
        c.fill(BLACK)
        if scene.phase is Phase.PAUSED:  # over the live picture, or black without one
            self._paused(scene)
        elif scene.phase is Phase.NO_CAMERA or scene.frame is None:
            self._centre_lines([(self.words["camera_lost"], "mid", WHITE),
                                (CAMERA_LOST_DETAIL, "small", (160, 160, 160))])
        else:
            self.view = self.base
            if scene.phase in (Phase.SCORING, Phase.RESULT):
                self.view = self._clear_of_the_band(scene.result_box)
            self._picture(scene.frame)
            self._screens[scene.phase](scene)
        if c is not self.display:
            self.display.blit(pygame.transform.rotate(c, -self.view.rotation), (0, 0))

    # One method per phase -------------------------------------------------------------------
    def _live(self, scene: Scene) -> None:
        self._boxes(scene)
        hint = (scene.hint or self.words.hint(scene.face), "mid", BOX_COLOURS.get(scene.face, WHITE))
        self._band([hint] + self._notice())

    def _countdown(self, scene: Scene) -> None:
        self._boxes(scene)
        # Below the face, not over it: the visitor is still framing themselves, and the hint says
        # what would spoil the capture.
        hint = scene.hint or self.words.hint(scene.face)
        self._band([(str(scene.countdown), "count", WHITE), (hint, "mid", BOX_COLOURS.get(scene.face, WHITE))])

    def _scoring(self, scene: Scene) -> None:
        self._result_box(scene)
        self._top_bar()
        # Scoring mostly takes well under this: the words would only flash.
        words = scene.message or self.words["scoring"]
        self._band([(words, "mid", WHITE)] if scene.elapsed >= SCORING_WORDS_AFTER_S else [])

    def _message(self, scene: Scene) -> None:
        self._band([(scene.message, "mid", MESSAGE_COLOUR)])

    def _result(self, scene: Scene) -> None:
        self._result_box(scene)
        self._top_bar()
        v = scene.verdict
        line = self.words.score_line(v.gender, v.score, v.rank)
        rest = [(line, "mid", WHITE), (self.words["just_for_fun"], "small", (190, 190, 190))]
        room = self.view.canvas_size[1] * BAND * 0.95 - self._height(rest)
        verdict, px = self._fit(v.text, self.sizes["big"], self.sizes["small"], room)
        self._band([(part, px, RESULT_COLOUR) for part in verdict] + rest)
        if scene.takeaway is not None:
            self._takeaway(scene.takeaway, scene.takeaway_note)

    def _idle(self, scene: Scene) -> None:
        self.canvas.blit(self._shade(self.view.canvas_size, 170), (0, 0))
        self._top_bar()
        steps = self.words.idle_steps(scene.auto_trigger)
        self._centre_lines([(self.words["idle_title"], "big", RESULT_COLOUR)] + [(s, "mid", WHITE) for s in steps]
                           + [(self.words["just_for_fun"], "small", (190, 190, 190))] + self._notice())

    def _notice(self) -> list[tuple]:
        return [(self.look.notice, "small", (200, 200, 200))] if self.look.notice else []

    def _takeaway(self, code: QrCode, note: str) -> None:
        """The take-home QR code in the top right corner (below the event's title, if any), with what
        it is and how long the card is kept beside it: one row, so it stays above the face, which
        the result screen keeps in the middle."""
        cw, ch = self.view.canvas_size
        if self._qr[0] is not code:  # scaled once per result, whole pixels per module: crisp edges
            n = code.modules.shape[0]
            k = max(3, round(min(cw, ch) * 0.24) // n)  # 3 pixels a module: the least a phone reads well
            grey = np.where(code.modules.T, 0, 255).astype(np.uint8)
            self._qr = (code, pygame.transform.scale(pygame.surfarray.make_surface(np.dstack([grey] * 3)),
                                                     (n * k, n * k)))
        qr = self._qr[1]
        lines = [(self.words["takeaway_title"], "small", WHITE), (note, "small", (190, 190, 190))]
        pad = round(min(cw, ch) * 0.015)
        words_w = max(self._rendered(t, size, c).get_width() for t, size, c in lines)
        width, height = words_w + qr.get_width() + 3 * pad, qr.get_height() + 2 * pad
        left, top = cw - width - pad, self._bar_height() + pad
        self.canvas.blit(self._shade((width, height), 200), (left, top))
        self._stack(lines, top, height, left + pad + words_w // 2)
        self.canvas.blit(qr, (left + words_w + 2 * pad, top + pad))

    def _paused(self, scene: Scene) -> None:
        if scene.frame is not None:
            self._picture(scene.frame)
            self.canvas.blit(self._shade(self.view.canvas_size, 200), (0, 0))
        self._centre_lines([(self.words["paused"], "big", WHITE),
                            (self.words["paused_detail"], "mid", (190, 190, 190))])

    # Pieces ---------------------------------------------------------------------------------
    def _clear_of_the_band(self, face: FaceBox | None) -> View:
        """The view with the picture moved up just enough that the band below leaves the face
        uncovered (the scoring and result screens: the face is what the verdict is about)."""
        view = self.base
        if face is None:
            return view
        _, y, _, h = view.box(face)
        band_top = view.canvas_size[1] * (1 - BAND) - self.sizes["small"]
        return replace(view, lift=max(0, min(round(y + h - band_top), y)))

    def _top_bar(self) -> None:
        """The event's logo and title across the top (idle and result screens), when configured."""
        look = self.look
        bar_h = self._bar_height()
        if not bar_h:
            return
        cw, ch = self.view.canvas_size
        self.canvas.blit(self._shade((cw, bar_h), 150), (0, 0))
        x = round(bar_h * 0.15)
        if look.logo is not None:
            logo = self._logo(round(bar_h * 0.8))
            self.canvas.blit(logo, (x, (bar_h - logo.get_height()) // 2))
            x += logo.get_width() + x
        if look.title:
            lines, px = self._fit(look.title, self.sizes["mid"], self.sizes["small"], bar_h, width=cw - x - 20)
            surface = self._rendered(lines[0], px, WHITE)
            self.canvas.blit(surface, surface.get_rect(midleft=(x, bar_h // 2)))

    def _bar_height(self) -> int:
        """The top bar's height in pixels; 0 without a title or logo."""
        if not (self.look.title or self.look.logo):
            return 0
        cw, ch = self.view.canvas_size
        return round(ch * TOP_BAR) if cw >= ch else round(cw * TOP_BAR * 1.2)

    def _logo(self, height: int) -> pygame.Surface:
        if height not in self._logos:
            logo = self.look.logo
            width = max(1, round(logo.get_width() * height / logo.get_height()))
            self._logos[height] = pygame.transform.smoothscale(logo, (width, height))
        return self._logos[height]

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

    def _fit(self, text: str, px: int, smallest: int, room: float = float("inf"),
             width: float | None = None) -> tuple[list[str], int]:
        """`_fitted`, measured once per text and size, not every frame (bounded: score lines change)."""
        key = (text, px, smallest, room, width)
        if key not in self._fits:
            if len(self._fits) > 64:
                self._fits.clear()
            self._fits[key] = self._fitted(text, px, smallest, room, width)
        return self._fits[key]

    def _fitted(self, text: str, px: int, smallest: int, room: float,
                width: float | None = None) -> tuple[list[str], int]:
        """`text` in at most two lines across the canvas and `room` pixels high: at `px` if it fits,
        else smaller (down to `smallest`, which config's length limit keeps it from needing)."""
        width = width or self.view.canvas_size[0] * 0.92
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
        self._stack(self._within_width(lines), ch - band_h, band_h)

    def _centre_lines(self, lines: list[tuple[str, str, tuple]]) -> None:
        self._stack(self._within_width(lines), 0, self.view.canvas_size[1])

    def _within_width(self, lines: list[tuple]) -> list[tuple]:
        """Each line as drawn: wrapped onto a second line and drawn smaller where it is too wide (a
        long override, an English text, a narrow portrait screen), never cut off."""
        out = []
        for text, size, colour in lines:
            px = self.sizes[size] if isinstance(size, str) else size
            parts, fitted = self._fit(text, px, max(8, round(px * 0.6)))
            out += [(part, fitted, colour) for part in parts]
        return out

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
