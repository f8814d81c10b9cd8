"""The one place that imports a TFLite interpreter: LiteRT, else tflite-runtime, else TensorFlow.

LiteRT (`ai-edge-litert`) is the default dependency: on this project's models, one thread, it ran
the float model as fast as tflite-runtime and the int8 model ~19x faster (`kiosk bench` shows it).
tflite-runtime stops at Python 3.11; TensorFlow is only a last resort for development machines.
"""

from __future__ import annotations

import contextlib
import importlib
import os
from dataclasses import dataclass
from typing import Any

from .errors import KioskError

CANDIDATES = (
    ("ai-edge-litert", "ai_edge_litert.interpreter", "ai_edge_litert"),
    ("tflite-runtime", "tflite_runtime.interpreter", "tflite_runtime"),
    ("tensorflow", "tensorflow.lite", "tensorflow"),
)


@dataclass(frozen=True)
class Runtime:
    name: str
    version: str
    interpreter: Any  # the Interpreter class

    def __str__(self) -> str:
        return f"{self.name} {self.version}"


_loaded: dict[str | None, Runtime] = {}


def load_runtime(prefer: str | None = None) -> Runtime:
    """The first importable runtime (or exactly `prefer`); raises KioskError saying what to install."""
    if prefer in _loaded:
        return _loaded[prefer]
    tried = []
    for name, module, package in CANDIDATES:
        if prefer and name != prefer:
            continue
        try:
            mod = importlib.import_module(module)
        except ImportError as exc:
            tried.append(f"{name} ({exc.name or exc})")
            continue
        version = getattr(importlib.import_module(package), "__version__", None) or _dist_version(name)
        runtime = Runtime(name, version, mod.Interpreter)
        _loaded[prefer] = runtime
        return runtime
    raise KioskError("no TFLite runtime could be imported (tried " + ", ".join(tried) +
                       "); install one: pip install ai-edge-litert")


def _dist_version(name: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(name if name != "tensorflow" else "tensorflow-cpu")
    except metadata.PackageNotFoundError:
        return "unknown"


@contextlib.contextmanager
def native_stderr_silenced():
    """TFLite's C++ side prints an INFO line per interpreter straight to fd 2; the booth's log is
    for outcomes, so it is hidden while interpreters are created (Python exceptions still surface)."""
    try:
        saved = os.dup(2)
    except OSError:  # no stderr at all: nothing to hide
        yield
        return
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
