"""config.toml: one option table that both validates the file and writes its commented default.

Every option the booth reads is a field of one of the frozen section dataclasses below. Each field's
metadata says what it means and what values are allowed, so the documentation in config.toml is
generated from the same table that validates it and cannot drift from the code.
"""

from __future__ import annotations

import dataclasses
import difflib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import texts
from .errors import KioskError, one_line

PACKAGE_DIR = Path(__file__).resolve().parent
# Where the booth looks for its config when --config is not given; without it, the built-in defaults
# (the same values as the repo's config.toml, which is generated from this table).
SYSTEM_CONFIG = Path("/etc/faceeva/config.toml")
MAX_CONFIG_BYTES = 1_000_000  # a config is a few kB; a device or a huge file is a mistake
URL = "empty or an http:// or https:// address"
MIN_ADMIN_TOKEN = 24  # characters: a guessable password on the visitors' own Wi-Fi would hand them the booth
MAX_TEXT = texts.MAX_VERDICT


class ConfigError(KioskError):
    """A config problem, worded as the one line the operator sees."""


def option(default: Any, help: str, *, low=None, high=None, choices=None, length=None, kind=None):
    """A config field with what it means and what values are allowed ("an absolute path" as `kind`:
    a string starting with / and without NUL)."""
    meta = {"help": help, "low": low, "high": high, "choices": choices, "length": length, "kind": kind}
    if isinstance(default, (list, tuple)):
        return field(default=tuple(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class DetectionConfig:
    scale_factor: float = option(1.1, "Haar pyramid step; smaller finds more faces but is slower.", low=1.01, high=2.0)
    min_neighbors: int = option(5, "Haar votes a face needs; higher means fewer false faces.", low=1, high=20)
    min_face: float = option(0.1, "Smallest face, as a fraction of the image's shorter side.", low=0.02, high=1.0)
    max_face: float = option(1.0, "Largest face, as a fraction of the image's shorter side.", low=0.05, high=1.0)
    max_side: int = option(640, "Photos are shrunk to this longest side before detection (speed).", low=120, high=4096)
    fallback_scale_factor: float = option(
        1.03, "When a photo shows no face, look once more with this finer step (photos only, not live).",
        low=1.01, high=2.0)
    fallback_min_neighbors: int = option(
        2, "Votes needed in that second look; 0 turns the second look off.", low=0, high=20)
    crop_margin: float = option(
        0.25, "Training only (kiosk train): margin added on each side of the face box before the crop, "
        "as a fraction of the box. The booth and kiosk score use the margin the models were trained "
        "with, from models/manifest.json.", low=0.0, high=1.0)


@dataclass(frozen=True)
class LiveConfig:
    scale_factor: float = option(1.15, "Haar pyramid step for the live camera frames.", low=1.01, high=2.0)
    min_neighbors: int = option(4, "Haar votes a live face needs.", low=1, high=20)
    min_face: float = option(0.15, "Smallest live face, as a fraction of the detection frame's shorter side "
                             "(a visitor close to the booth is far larger).", low=0.02, high=1.0)
    max_face: float = option(1.0, "Largest live face, as a fraction of the detection frame's shorter side.",
                             low=0.05, high=1.0)
    full_every: int = option(6, "Search the whole frame every N frames (new faces); in between, only around "
                             "the last face, which is many times cheaper.", low=1, high=60)
    track_margin: float = option(0.5, "How far around the last face to look, as a fraction of its size.",
                                 low=0.1, high=2.0)


@dataclass(frozen=True)
class ModelsConfig:
    dir: str = option("", "Folder with manifest.json and the .tflite models it lists; empty means the models "
                      "shipped with the booth; a relative path is relative to this config file's folder.")
    threads: int = option(1, "CPU threads each TFLite interpreter may use.", low=1, high=8)


@dataclass(frozen=True)
class VerdictConfig:
    rank_texts: tuple[str, ...] = option(
        (), "Text shown for ranks 1 to 5, worst to best (five strings; long ones are wrapped onto two lines and "
        "drawn smaller); empty means [texts] rank_1 to rank_5 of the chosen language.", length=5, high=MAX_TEXT)


def _texts_section() -> type:
    """[texts]: the language and one override per visitor-facing text, generated from the texts table
    so a text added there is an option here (and in the generated config.toml)."""
    fields = [("language", str, option("ko", "Language of every text on screen and on the web pages.",
                                       choices=texts.LANGUAGES))]
    for key, korean in texts.KO.items():
        most = texts.MAX_VERDICT if key in texts.RANK_KEYS else texts.MAX_LENGTH
        fields.append((key, str, option("", f"Replaces {korean!r} (en: {texts.EN[key]!r}); empty keeps the "
                                        "language's own.", high=most)))
    section = dataclasses.make_dataclass("TextsConfig", fields, frozen=True)
    section.__module__ = __name__
    return section


TextsConfig = _texts_section()


@dataclass(frozen=True)
class PhotosConfig:
    """Photos people hand the booth (`kiosk score`, photo replay, uploads): bounds checked from each
    file's header before any decoding, so no file can exhaust a Pi's memory."""
    max_megapixels: float = option(
        12.0, "Photos above this size are decoded reduced (JPEG) or shrunk after decoding; faces are "
        "found just as well (detection runs on a 640-pixel copy) and the box is still given in the "
        "original's pixels.", low=1.0, high=200.0)
    memory_mb: int = option(
        256, "Most memory decoding one photo may take, estimated from its header; a photo that would "
        "need more is refused with a one-line error. The decoder process is capped to it too. The "
        "default suits a 1 GB Pi.", low=32, high=4096)
    max_file_mb: int = option(32, "Larger files are refused unread.", low=1, high=1024)
    timeout_s: float = option(20.0, "Longest time decoding one photo may take before it is given up.",
                              low=1.0, high=600.0)


@dataclass(frozen=True)
class WebConfig:
    """The web pages: `kiosk web` alone, or the booth's own server with take-home cards (see README, Web)."""
    host: str = option("127.0.0.1", "Address kiosk web (and the booth's server) listens on; 0.0.0.0 for "
                       "phones on the booth's Wi-Fi.")
    port: int = option(8080, "Port kiosk web (and the booth's server) listens on.", low=1, high=65535)
    max_upload_mb: int = option(10, "Largest upload accepted (answered 413 above it).", low=1, high=32)
    rate_per_minute: int = option(10, "Uploads one client address may make per minute (answered 429 above it).",
                                  low=1, high=600)
    concurrency: int = option(1, "Uploads scored at the same time; the booth keeps the other cores.",
                              low=1, high=4)
    queue: int = option(8, "Uploads that may wait for their turn; more are answered 429 at once.", low=0, high=64)
    enabled: bool = option(False, "Serve these pages from inside kiosk run too (a thread of the booth process, on "
                           "host and port), for visitors' phones on the booth's Wi-Fi.")
    upload: bool = option(True, "Serve the upload page and POST /score (kiosk web, and the booth when enabled).")
    takeaway: bool = option(False, "Take-home: the result screen shows a QR code for the visitor's result card (their "
                            "captured picture and verdict), kept in memory only, never on disk (needs enabled).")
    takeaway_minutes: int = option(10, "Minutes a take-home card can be opened before it is forgotten.", low=1, high=120)
    takeaway_max_cards: int = option(50, "Most take-home cards held at once; the oldest is forgotten first.",
                                     low=1, high=1000)
    takeaway_max_mb: int = option(64, "Most memory the take-home cards may hold, in MB; the oldest is forgotten "
                                  "first.", low=4, high=1024)
    url: str = option("", "Address phones open for a card, e.g. http://10.42.0.1:8080; empty: the address of "
                      "interface, else host (127.0.0.1 when host is 0.0.0.0), with port.", kind=URL)
    interface: str = option("", "Network interface whose IPv4 address goes into the QR's URL when url is empty, "
                            "e.g. wlan0 for the booth's own hotspot.")
    admin_token: str = option(
        "", "Password of the operator's page /admin in the running booth; empty: no such page. At least "
        f"{MIN_ADMIN_TOKEN} characters, random (e.g. the output of: openssl rand -hex 16); anyone on the "
        "booth's network who knows it can pause the booth.")


@dataclass(frozen=True)
class CameraConfig:
    source: str = option("auto", 'Where frames come from: "auto" (picamera2, then OpenCV), "picamera2", '
                         '"opencv", or a path to a photo, a folder of photos or a video (replayed in a loop).')
    width: int = option(1280, "Width of the picture stream shown on screen.", low=160, high=4096)
    height: int = option(720, "Height of the picture stream shown on screen.", low=120, high=3072)
    fps: int = option(30, "Frames per second asked of the camera; the screen follows it.", low=5, high=60)
    detect_width: int = option(320, "Width of the small greyscale frame the live face detection runs on.",
                               low=160, high=1280)
    opencv_index: int = option(0, "Device number for a USB webcam through OpenCV (/dev/videoN).", low=0, high=63)
    swap_rb: bool = option(False, "Swap red and blue if faces look blue (some picamera2 firmware).")
    autofocus: bool = option(True, "Continuous autofocus, where the camera module has it.")
    face_exposure_ev: float = option(2.0, "Face-priority exposure (picamera2): most stops the booth may expose "
                                     "above or below the camera's own metering so a single visitor's face is "
                                     "exposed right (a bright window behind them); 0 turns it off.",
                                     low=0.0, high=4.0)
    stall_s: float = option(2.0, "Seconds without a new frame before the camera counts as lost.", low=0.2, high=60.0)
    retry_max_s: float = option(10.0, "Longest wait between attempts to reopen a lost camera.", low=0.5, high=300.0)
    photo_s: float = option(10.0, "When the source is a folder of photos: seconds each photo stays as the camera's "
                            "picture before the next (N or the right arrow key steps at once).", low=0.5, high=3600.0)


@dataclass(frozen=True)
class ScreenConfig:
    width: int = option(1920, "Window size for --windowed and screenshots; fullscreen uses the display's size.",
                        low=160, high=7680)
    height: int = option(1080, "Window height for --windowed and screenshots.", low=120, high=4320)
    fullscreen: bool = option(True, "Fill the whole screen (false is the same as --windowed).")
    rotation: int = option(0, "Rotate the picture clockwise for a portrait-mounted screen.", choices=(0, 90, 180, 270))
    mirror: bool = option(True, "Show the preview mirrored, as people expect of a mirror.")
    fill: str = option("auto", "Crop the camera picture to fill the screen, following the face (on), or show all "
                       "of it with black bars (off); auto: on for a portrait screen (rotation 90 or 270).",
                       choices=("auto", "on", "off"))
    font: str = option("", "Path to a font with Hangul glyphs; empty means find an installed one "
                       "(fonts-nanum, fonts-noto-cjk).")
    allow_quit: bool = option(False, "Let Esc or Q, or closing the window, quit the booth (leave off at events).")


@dataclass(frozen=True)
class BoothConfig:
    trigger: str = option("button", "What starts a capture: the button, a steady face by itself, or both.",
                          choices=("button", "auto", "both"))
    countdown_s: int = option(3, "Countdown seconds after a press (0 captures at once).", low=0, high=10)
    press_wait_s: float = option(5.0, "Seconds a press without a steady single face waits for one (the screen "
                                 "says what to do) before it is dropped.", low=0.0, high=30.0)
    result_s: float = option(8.0, "Seconds the verdict stays on screen (a press returns earlier).", low=1.0, high=120.0)
    message_s: float = option(3.0, "Seconds a short message (e.g. no face at capture) stays on screen.",
                              low=0.5, high=30.0)
    idle_after_s: float = option(20.0, "Seconds without a face before the how-to screen appears.", low=1.0, high=3600.0)
    steady_s: float = option(1.0, "Seconds the same single face must hold still to count as steady.",
                             low=0.0, high=10.0)
    steady_min_overlap: float = option(0.5, "Overlap (intersection over union) between consecutive face boxes "
                                       "that still counts as the same face.", low=0.05, high=1.0)
    steady_max_size_change: float = option(0.25, "Largest change of the face box size, as a fraction, that still "
                                           "counts as holding still.", low=0.01, high=2.0)
    capture_frames: int = option(10, "The last frames before capture, scored and averaged, so one blink or one odd "
                                     "face box does not decide (10 at 30 fps span 0.33 s; each costs the chain's "
                                     "runs at capture, no waiting).", low=1, high=20)
    save_captures: bool = option(False, "Write captured photos to captures_dir (off: faces stay in memory only).")
    captures_dir: str = option("/var/lib/faceeva/captures", "Folder for saved captures when save_captures is on.",
                               kind="an absolute path")
    max_captures: int = option(200, "Most saved captures kept; the oldest are deleted first.", low=1, high=100000)


@dataclass(frozen=True)
class ButtonConfig:
    gpio: bool = option(True, "Use a push button on a GPIO pin (keyboard Space/Enter and touch always work).")
    pin: int = option(17, "BCM number of the GPIO pin the button connects to ground (header pin 11 for 17).",
                      low=2, high=27)
    pull_up: bool = option(True, "Use the internal pull-up (button between the pin and ground).")
    bounce_s: float = option(0.05, "Debounce time in seconds.", low=0.0, high=1.0)
    led_pin: int = option(-1, "BCM pin of an LED that lights when a steady face is ready; -1 for none.",
                          low=-1, high=27)


@dataclass(frozen=True)
class LightConfig:
    pin: int = option(-1, "BCM pin switching a ring light or LED strip (through a relay or MOSFET) on for the "
                      "countdown and capture; -1 for none.", low=-1, high=27)
    when_steady: bool = option(False, "Also light up while a steady face waits for the press.")
    active_high: bool = option(True, "The pin goes high to switch the light on (false: low, for relay boards "
                               "that switch on low).")


@dataclass(frozen=True)
class BrandConfig:
    title: str = option("", "Event title shown at the top of the idle and result screens; empty for none.",
                        high=texts.MAX_LENGTH)
    logo: str = option("", "PNG or JPEG logo shown beside the title; empty for none; a relative path is relative "
                       "to this config file's folder.")


@dataclass(frozen=True)
class Config:
    detection: DetectionConfig = field(default_factory=DetectionConfig)
    live: LiveConfig = field(default_factory=LiveConfig)
    models: ModelsConfig = field(default_factory=ModelsConfig)
    verdict: VerdictConfig = field(default_factory=VerdictConfig)
    texts: TextsConfig = field(default_factory=TextsConfig)
    photos: PhotosConfig = field(default_factory=PhotosConfig)
    web: WebConfig = field(default_factory=WebConfig)
    camera: CameraConfig = field(default_factory=CameraConfig)
    screen: ScreenConfig = field(default_factory=ScreenConfig)
    booth: BoothConfig = field(default_factory=BoothConfig)
    button: ButtonConfig = field(default_factory=ButtonConfig)
    light: LightConfig = field(default_factory=LightConfig)
    brand: BrandConfig = field(default_factory=BrandConfig)

    @property
    def models_dir(self) -> Path:
        return Path(self.models.dir) if self.models.dir else shipped_models()

    @property
    def wording(self) -> texts.Texts:
        """Every text a visitor reads: [texts] language with its overrides, and [verdict] rank_texts."""
        overrides = {k: v for k, v in dataclasses.asdict(self.texts).items() if k != "language"}
        return texts.Texts.of(self.texts.language, overrides, self.verdict.rank_texts)


def shipped_models() -> Path:
    """The models inside the installed package (a wheel), or the repo's models/ in a source checkout."""
    packaged = PACKAGE_DIR / "models"
    return packaged if (packaged / "manifest.json").is_file() else PACKAGE_DIR.parent / "models"


SECTIONS: dict[str, type] = {f.name: f.default_factory for f in dataclasses.fields(Config)}


def find(path: Path | str | None = None) -> Path | None:
    """The config file to read: `path` (--config), else /etc/faceeva/config.toml if there is one, else
    None (the built-in defaults)."""
    if path is not None:
        return Path(path)
    return SYSTEM_CONFIG if SYSTEM_CONFIG.exists() else None


def load(path: Path | str | None = None, overrides: dict[str, dict[str, Any]] | None = None) -> Config:
    """Read and validate the config file `find(path)` chooses; raise ConfigError on any problem."""
    path = find(path)
    document = _read(path) if path is not None else {}
    for section, values in (overrides or {}).items():
        document.setdefault(section, {}).update(values)
    config = from_dict(document, str(path or "built-in defaults"))
    if path is not None:  # paths relative to the config file, not the cwd
        here = path.resolve().parent
        if config.models.dir and not Path(config.models.dir).is_absolute():
            config = dataclasses.replace(config, models=dataclasses.replace(config.models,
                                                                            dir=str(here / config.models.dir)))
        if config.brand.logo and not Path(config.brand.logo).is_absolute():
            config = dataclasses.replace(config, brand=dataclasses.replace(config.brand,
                                                                           logo=str(here / config.brand.logo)))
    return config


def _read(path: Path) -> dict[str, Any]:
    try:
        if not path.is_file():  # a FIFO or a device would block or never end
            what = "not found" if not path.exists() else "not a regular file"
            raise ConfigError(f"{path}: config file {what}; pass --config with an existing file")
        if path.stat().st_size > MAX_CONFIG_BYTES:
            raise ConfigError(f"{path}: config file larger than {MAX_CONFIG_BYTES} bytes; is it the right file?")
        text = path.read_text(encoding="utf-8-sig")  # Windows editors start UTF-8 with a BOM
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config file ({one_line(exc)})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({one_line(exc)})") from None
    except RecursionError:
        raise ConfigError(f"{path}: not valid TOML (arrays or tables nested too deeply)") from None


def check_files(config: Config, source: str) -> None:
    """The files the config names are there (`kiosk config`; the booth and `kiosk check` test what
    is in them)."""
    font = config.screen.font
    if font and not Path(font).is_file():
        raise ConfigError(f"{source}: [screen] font = {font!r} is not a file; give a .ttf/.ttc with Korean, "
                          "or leave it empty to find an installed one (fonts-nanum)")
    logo = config.brand.logo
    if logo and not Path(logo).is_file():
        raise ConfigError(f"{source}: [brand] logo = {logo!r} is not a file; give a PNG or JPEG, or leave it empty")
    if config.models.dir and not (Path(config.models.dir) / "manifest.json").is_file():
        raise ConfigError(f"{source}: [models] dir = {config.models.dir!r} holds no manifest.json; "
                          "leave it empty for the shipped models")


def from_dict(document: dict[str, Any], source: str = "config") -> Config:
    sections = {}
    for name, values in document.items():
        if name not in SECTIONS:
            raise ConfigError(f"{source}: unknown section [{name}]{_suggest(name, SECTIONS)}; "
                              f"allowed: {', '.join(SECTIONS)}")
        if not isinstance(values, dict):
            raise ConfigError(f"{source}: [{name}] must be a table of options, not a single value")
        sections[name] = _section(SECTIONS[name], name, values, source)
    config = Config(**sections)
    _check_together(config, source)
    return config


def _check_together(config: Config, source: str) -> None:
    """Rules between options, which the per-option table cannot express."""
    for name in ("detection", "live"):
        s = getattr(config, name)
        if s.min_face > s.max_face:
            raise ConfigError(f"{source}: [{name}] min_face = {s.min_face} is larger than max_face = {s.max_face}; "
                              "min_face must not exceed max_face")
    token = config.web.admin_token
    if token and (len(token) < MIN_ADMIN_TOKEN or not token.isascii() or not token.isprintable()):
        raise ConfigError(f"{source}: [web] admin_token must be at least {MIN_ADMIN_TOKEN} printable ASCII "
                          "characters (visitors share the booth's network); make one with: openssl rand -hex 16")
    for key, value in dataclasses.asdict(config.texts).items():
        wrong = value and key != "language" and texts.problem(key, value)
        if wrong:
            raise ConfigError(f"{source}: [texts] {key} = {value!r} is {wrong}; e.g. {texts.KO[key]!r}")
    b = config.button
    if b.gpio and b.led_pin == b.pin:
        raise ConfigError(f"{source}: [button] led_pin = {b.led_pin} is the button's pin; "
                          "wire the LED to another pin, or set led_pin = -1")
    light = config.light.pin
    if light >= 0 and light in ((b.pin, b.led_pin) if b.gpio else (b.led_pin,)):
        raise ConfigError(f"{source}: [light] pin = {light} is already the button's or its LED's pin; "
                          "wire the light to another pin, or set pin = -1")


def _section(cls: type, name: str, values: dict[str, Any], source: str):
    fields = {f.name: f for f in dataclasses.fields(cls)}
    checked = {}
    for key, value in values.items():
        if key not in fields:
            raise ConfigError(f"{source}: unknown key [{name}] {key}{_suggest(key, fields)}; "
                              f"allowed: {', '.join(fields)}")
        checked[key] = _check(fields[key], f"[{name}] {key}", value, source)
    return cls(**checked)


def _check(f: dataclasses.Field, where: str, value: Any, source: str) -> Any:
    meta, kind = f.metadata, type(f.default)
    allowed = describe(f)

    def fail() -> ConfigError:
        return ConfigError(f"{source}: {where} = {value!r} is not allowed; expected {allowed}")

    if kind is bool:
        if not isinstance(value, bool):
            raise fail()
        return value
    if kind is tuple:
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise fail()
        if meta["length"] is not None and len(value) != meta["length"] and not (not value and f.default == ()):
            raise fail()
        if meta["high"] is not None and any(len(v) > meta["high"] for v in value):
            raise fail()
        return tuple(value)
    if kind is str:
        if not isinstance(value, str) or (meta["choices"] and value not in meta["choices"]) or "\0" in value:
            raise fail()  # NUL: no file name can hold it, and open() raises ValueError
        if meta["kind"] == "an absolute path" and not value.startswith("/"):
            raise fail()
        if meta["kind"] == URL and value and not value.startswith(("http://", "https://")):
            raise fail()
        if meta["high"] is not None and len(value) > meta["high"]:
            raise fail()
        return value
    # Numbers: TOML ints are fine where floats are asked for, bools are not numbers here.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise fail()
    if kind is int and not isinstance(value, int):
        raise fail()
    if meta["choices"] and value not in meta["choices"]:
        raise fail()
    if value != value or (meta["low"] is not None and value < meta["low"]) or (
            meta["high"] is not None and value > meta["high"]):
        raise fail()
    return kind(value)


def describe(f: dataclasses.Field) -> str:
    """What a field accepts, in words, for error messages and the generated config.toml."""
    meta, kind = f.metadata, type(f.default)
    if kind is bool:
        return "true or false"
    if kind is tuple:
        n, most = meta["length"], meta["high"]
        strings = f"{n} non-empty strings" if n else "non-empty strings"
        return (f"a list of {strings}" + (f" of at most {most} characters" if most else "")
                + (", or [] for none" if n and f.default == () else ""))
    if meta["choices"]:
        return "one of " + ", ".join(f'"{c}"' if isinstance(c, str) else str(c) for c in meta["choices"])
    if kind is str:
        return meta["kind"] or ("a string" + (f" of at most {meta['high']} characters" if meta["high"] else ""))
    noun = "a whole number" if kind is int else "a number"
    if meta["low"] is not None and meta["high"] is not None:
        return f"{noun} from {meta['low']} to {meta['high']}"
    return noun


def render_default() -> str:
    """The commented default config.toml, generated from the option table."""
    lines = ["# faceeva kiosk configuration. Every option the booth reads is here with its default.",
             "# Generated by `kiosk config --default`; edit values, keep the keys.", ""]
    for name, cls in SECTIONS.items():
        lines.append(f"[{name}]")
        for f in dataclasses.fields(cls):
            lines.append(f"# {f.metadata['help']} Allowed: {describe(f)}.")
            lines.append(f"{f.name} = {_toml_value(f.default)}")
        lines.append("")
    return "\n".join(lines)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return "[\n" + "".join(f"    {_toml_value(v)},\n" for v in value) + "]"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(value)


def _suggest(word: str, candidates) -> str:
    close = difflib.get_close_matches(word, list(candidates), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""

