"""`kiosk average`: the weights of several training runs averaged into one network (a "model soup").

Runs fine-tuned from the same ImageNet weights (and, with the same `--seed`, the same head
initialisation) stay close enough in weight space that their mean is itself a good network; unlike
an ensemble (`kiosk refit --partner`) it costs the chain one network's runs, so a photo and its mirror
image still meet the same weights. BatchNorm's running statistics are averaged like the weights:
measured again on the training crops through the averaged network they read worse (a run averaged
with itself went from r 0.917 to 0.913 on plain crops, 0.914 on the training's kinds of versions).
"""

from __future__ import annotations

from pathlib import Path

from ..config import Config
from ..errors import KioskError
from .train import load_checkpoint, publish_split, same_photos_and_input, training_stack


def block_keys(state: dict) -> dict:
    """A FaceNet state dict keyed by MobileNetV2 block ("features.N...") whatever part was frozen."""
    out = {}
    for key, value in state.items():
        part, _, rest = key.partition(".")
        out["features." + rest if part in ("frozen", "tail") else key] = value
    return out


def average_states(states: list[dict], frozen_blocks: int) -> dict:
    """The element-wise mean of FaceNet state dicts (any frozen split), keyed for `frozen_blocks`."""
    keyed = [block_keys(s) for s in states]
    if any(k.keys() != keyed[0].keys() for k in keyed):
        raise KioskError("average: the runs' networks differ in their layers; only `kiosk train` runs average")

    def own(key: str) -> str:  # block_keys undone for this frozen split
        if not key.startswith("features."):
            return key
        block = int(key.split(".")[1])
        return ("frozen." if block < frozen_blocks else "tail.") + key[len("features."):]

    # BatchNorm's batch counters are integers: the first run's are kept
    return {own(key): sum(k[key] for k in keyed) / len(keyed) if first.is_floating_point() else first
            for key, first in keyed[0].items()}


def average_runs(runs: list[Path], out: Path, data: Path, precision: str, config: Config) -> Path:
    torch = training_stack()
    from .backbone import FaceNet, mobilenet_v2_features

    if len(runs) < 2:
        raise KioskError("average: give at least two training runs' folders")
    saved = [load_checkpoint(run, "average the folders `kiosk train --out` wrote") for run in runs]
    first = saved[0]["manifest"]
    for run, s in zip(runs[1:], saved[1:]):
        same_photos_and_input(run, s["manifest"], first["preprocess"], first["training"],
                              ("input_size", "mean", "std", "exposure"))
    frozen = min(s["manifest"]["training"]["frozen_blocks"] for s in saved)
    net = FaceNet(mobilenet_v2_features(), frozen)
    net.load_state_dict(average_states([s["state"] for s in saved], frozen))
    net.eval()

    averaged = [{"run": str(run), "frozen_blocks": s["manifest"]["training"]["frozen_blocks"],
                 "date": s["manifest"]["training"].get("date")} for run, s in zip(runs, saved)]
    manifest = dict(first, training=dict(first["training"], frozen_blocks=frozen, averaged=averaged))
    out.mkdir(parents=True, exist_ok=True)
    torch.save({"state": net.state_dict(), "manifest": manifest}, out / "checkpoint.pt")
    return publish_split(net, manifest, out, precision, data, config)
