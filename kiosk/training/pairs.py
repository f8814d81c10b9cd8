"""`kiosk pairs`: which two networks to ship in one file, picked on half of the validation photos.

Every network of the given runs scores each validation crop (and its mirror image, where the runs'
manifest says `mirror`) in float32, as it was trained (PyTorch, through the runs' smoothing and exposure step); each pair's mean output is then measured on
half A of the validation split, where the pick is made, and on half B, where it is not flattered by
the picking. The picked pair becomes a file with `kiosk average ... --of outputs`, and that file is
judged through the booth's whole chain with `kiosk eval --subset val-b`. One pass of each network
over the validation crops, no export: minutes where making and evaluating every pair's file would
take hours. The gender is read from every input and each face cut once, as `kiosk train` serves
them (`gender_from` and `extra_margins` are decision-side switches `kiosk refit` sets on a made file).
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np

from ..config import Config
from ..errors import KioskError
from .average import one_network, run_and_network
from .dataset import HALVES, half, load_samples, split
from .train import exposure_step, face_crops, load_checkpoint, same_blocks, same_photos_and_input, training_stack

BATCH = 32  # crops a forward pass: bounded memory whatever the split's size


def networks(runs: list[str]) -> list[tuple[str, object, dict]]:
    """(name, PyTorch network in eval mode, its run's manifest) for each network the runs name: RUN stands
    for each of its networks (RUN:1, RUN:2 ... where it holds several), RUN:N for one (`kiosk average`'s
    `one_network` checks N)."""
    from .backbone import network

    found = []
    for text in runs:
        folder, number = run_and_network(text)
        saved = load_checkpoint(folder, "give the folders `kiosk train --out` wrote")
        count = len(saved["manifest"]["training"].get("ensemble", ()))
        chosen = [number] if number is not None or not count else range(1, count + 1)
        for n in chosen:
            one = one_network(str(folder), saved, n)
            net = network(one["manifest"]["training"])
            net.load_state_dict(one["state"])
            # the run's own manifest: its split and input are the run's, whichever network
            found.append((str(folder) if n is None else f"{folder}:{n}", net.eval(), saved["manifest"]))
    return found


def validation_outputs(runs: list[str], data: Path, config: Config):
    """Each network's [gender logit, man score, woman score] per validation face (crop and mirror image
    averaged where the runs mirror), the faces' human scores and genders, which half ("a"/"b") each
    face is in, and whether mirror images were averaged in."""
    torch = training_stack()
    from ..chain import normalise

    found = networks(runs)
    if len({name for name, _, _ in found}) < 2:
        raise KioskError("pairs: give runs holding at least two networks between them")
    first = found[0][2]
    for name, _, manifest in found[1:]:  # a pair must make one file: same photos held out, same input
        same_photos_and_input(name, manifest, first["preprocess"], first["training"],
                              ("input_size", "mean", "std", "exposure", "mirror", "smooth"))
        same_blocks(name, manifest, first["training"])
    t, pre = first["training"], first["preprocess"]
    _, val = split(load_samples(data), t["val_fraction"], t["seed"])
    which = {id(s): h for h in HALVES for s in half(val, h)}
    try:
        faces = face_crops(val, config, pre["input_size"])
    except KioskError:  # its own line speaks of training photos
        raise KioskError(f"pairs: no face found in the {len(val)} validation photos of {data}") from None
    exposed = exposure_step(pre.get("exposure", "none"), pre.get("smooth", 0.0))(faces.crops)
    x = torch.from_numpy(normalise(exposed, pre["mean"], pre["std"])).permute(0, 3, 1, 2).contiguous()
    mirror = pre.get("mirror", True)
    outputs = {}
    with torch.no_grad():
        for name, net, _ in found:
            parts = [(net(b) + net(torch.flip(b, dims=[3]))) / 2 if mirror else net(b) for b in torch.split(x, BATCH)]
            outputs[name] = torch.cat(parts).numpy()
    human = np.array([s.score for s in faces.samples])
    gender = np.array([s.gender for s in faces.samples])
    halves = np.array([which[id(s)] for s in faces.samples])
    return outputs, human, gender, halves, mirror


def measures(output: np.ndarray, human: np.ndarray, gender: np.ndarray) -> tuple[float, float]:
    """Pearson r of the faces' own gender's score against the raters', and the gender accuracy, each
    call made by the chain's rule (`gender_of`: an exact tie is "unsure", so wrong here)."""
    from ..chain import GENDERS, gender_of

    score = np.where(gender == 1, output[:, 2], output[:, 1])
    p_woman = 1 / (1 + np.exp(-output[:, 0].astype(np.float64)))
    right = [gender_of(float(p)) == GENDERS[g] for p, g in zip(p_woman, gender)]
    return float(np.corrcoef(score, human)[0, 1]), float(np.mean(right))


def pair_report(runs: list[str], data: Path, config: Config) -> str:
    """Each network, then each pair (best first by r on half A), measured on half A and half B."""
    outputs, human, gender, halves, mirror = validation_outputs(runs, data, config)
    parts = {h: halves == h for h in HALVES}
    if min(p.sum() for p in parts.values()) < 3:
        raise KioskError(f"pairs: {len(human)} validation faces in {data} leave fewer than 3 a half; "
                         "give the data the runs were trained on, with a face in most photos")

    def line(name: str, output: np.ndarray) -> str:
        cells = []
        for h in HALVES:
            r, ok = measures(output[parts[h]], human[parts[h]], gender[parts[h]])
            cells.append(f"half {h.upper()}: r {r:.4f}, gender {100 * ok:.2f}%")
        return f"{name}  " + "  |  ".join(cells)

    names = list(outputs)
    pairs = [(a, b, (outputs[a] + outputs[b]) / 2) for a, b in itertools.combinations(names, 2)]
    pairs.sort(key=lambda p: -measures(p[2][parts["a"]], human[parts["a"]], gender[parts["a"]])[0])
    counts = ", ".join(f"half {h.upper()} {int(parts[h].sum())}" for h in HALVES)
    inputs = "each crop and its mirror image" if mirror else "each crop"
    lines = [f"validation faces: {len(human)} ({counts}); float32, {inputs}",
             "networks:", *(line(n, outputs[n]) for n in names),
             "pairs, best first by r on half A (pick there; judge its file with `kiosk eval --subset val-b`):",
             *(line(f"{a} + {b}", o) for a, b, o in pairs)]
    return "\n".join(lines)
