"""`kiosk average`: the weights of several training runs averaged into one network (a "model soup").

Runs fine-tuned from the same ImageNet weights (and, with the same `--seed`, the same head
initialisation) stay close enough in weight space that their mean is itself a good network; unlike
an ensemble (`kiosk refit --partner`) it costs the chain one network's runs, so a photo and its mirror
image still meet the same weights. BatchNorm's running statistics are averaged like the weights:
measured again on the training crops through the averaged network they read worse (a run averaged
with itself went from r 0.917 to 0.913 on plain crops, 0.914 on the training's kinds of versions).
"""

from __future__ import annotations

import datetime
from pathlib import Path

from ..config import Config
from ..errors import KioskError
from .train import load_checkpoint, publish_split, same_blocks, same_photos_and_input, training_stack


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


def ensemble_state(states: list[dict], frozen_blocks: int) -> dict:
    """A FaceEnsemble state dict: the first run's frozen blocks (refused unless every run's compute the
    same), then each run's tail from block `frozen_blocks` on and its heads."""
    import torch

    from .backbone import FaceNet, mobilenet_v2_features

    keyed = [block_keys(s) for s in states]
    shared = [FaceNet(mobilenet_v2_features(), frozen_blocks).eval() for _ in keyed]
    for net, k in zip(shared, keyed):
        net.load_state_dict(average_states([k], frozen_blocks))
    # a network rebuilt from a float32 file (`kiosk export --network`) has BatchNorm folded into its
    # weights, so the frozen blocks are compared by what they compute, not weight by weight
    probe = torch.randn(2, 3, 96, 96, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        reference = shared[0].frozen(probe)
        if any((net.frozen(probe) - reference).abs().max() > 1e-3 * reference.abs().max() for net in shared[1:]):
            raise KioskError(f"average --of outputs: the runs' blocks 0-{frozen_blocks - 1} differ; only runs that "
                             "left them at the ImageNet weights (`kiosk train --frozen-blocks`) share them")
    out = {key: value for key, value in shared[0].state_dict().items() if key.startswith("frozen.")}
    for m, net in enumerate(shared):
        for key, value in net.state_dict().items():
            part, _, rest = key.partition(".")
            if part in ("tail", "heads"):
                out[f"{'tails' if part == 'tail' else part}.{m}.{rest}"] = value
    return out


def run_record(name: str, training: dict, recipe: bool = True) -> dict:
    """How a manifest's `training.ensemble` or `training.averaged` names one run that went into it (the
    run's `training`), with its recipe where the run keeps its own tail."""
    record = {"run": name, "frozen_blocks": training["frozen_blocks"], "date": training.get("date")}
    if recipe:
        record["training"] = {k: v for k, v in training.items() if k not in ("data", "date")}
    return record


def outputs_averaged(training: dict, states: list[dict]):
    """The one-file network `training` (with its `ensemble` members) describes, holding `states`' tails
    on their shared frozen blocks, in eval mode."""
    from .backbone import network

    net = network(training)
    net.load_state_dict(ensemble_state(states, training["frozen_blocks"]))
    return net.eval()


def run_and_network(text: str) -> tuple[Path, int | None]:
    """A run as `kiosk average` names it: FOLDER, or FOLDER:N for network N (from 1) of a run that holds
    several (`kiosk train --bins 0,0.2` or an earlier `--of outputs`)."""
    folder, colon, number = text.rpartition(":")
    if colon and number.isdigit() and folder:
        return Path(folder), int(number)
    return Path(text), None


def one_network(name: str, saved: dict, number: int | None) -> dict:
    """`saved` (a checkpoint) as one network: as it is, or its network `number`, with that network's
    recipe as its manifest's `training`."""
    t = saved["manifest"]["training"]
    members = t.get("ensemble", ())
    if number is None:
        if members:  # (`kiosk pairs` names each of them itself)
            raise KioskError(f"{name} holds {len(members)} networks; give the runs it was made of, "
                             f"or one of its networks as {name}:1..{len(members)}")
        return saved
    if not 1 <= number <= len(members):
        raise KioskError(f"{name}:{number}: {name} holds "
                         + (f"networks 1..{len(members)}; name one as {name}:1..{len(members)}" if members
                            else "one network; name it without :N"))
    from .backbone import network

    whole = network(t)
    whole.load_state_dict(saved["state"])
    training = dict(members[number - 1]["training"], data=t.get("data"), date=members[number - 1]["date"])
    return {"state": whole.member(number - 1).state_dict(), "manifest": dict(saved["manifest"], training=training)}


def average_runs(runs: list[str], out: Path, data: Path, precision: str, config: Config,
                 of: str = "weights") -> Path:
    torch = training_stack()
    from .backbone import network

    if len(runs) < 2:
        raise KioskError("average: give at least two training runs' folders")
    named = [run_and_network(run) for run in runs]
    saved = [one_network(name, load_checkpoint(folder, "average the folders `kiosk train --out` wrote"), number)
             for name, (folder, number) in zip(runs, named)]
    first = saved[0]["manifest"]
    for run, s in zip(runs[1:], saved[1:]):
        same_photos_and_input(run, s["manifest"], first["preprocess"], first["training"],
                              ("input_size", "mean", "std", "exposure", "smooth"))
        same_blocks(run, s["manifest"], first["training"])
    frozen = min(s["manifest"]["training"]["frozen_blocks"] for s in saved)
    # each member of an ensemble keeps its own recipe: how to train it again
    runs_used = [run_record(str(run), s["manifest"]["training"], recipe=of == "outputs") for run, s in zip(runs, saved)]
    training = dict(first["training"], frozen_blocks=frozen, date=datetime.date.today().isoformat())
    states = [s["state"] for s in saved]
    if of == "outputs":
        training["ensemble"] = runs_used
        net = outputs_averaged(training, states)
    else:
        training["averaged"] = runs_used
        net = network(training)
        net.load_state_dict(average_states(states, frozen))
        net.eval()
    manifest = dict(first, training=training)
    out.mkdir(parents=True, exist_ok=True)
    torch.save({"state": net.state_dict(), "manifest": manifest}, out / "checkpoint.pt")
    return publish_split(net, manifest, out, precision, data, config)
