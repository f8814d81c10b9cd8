"""Export the trained FaceNet as the chain's TFLite model (three outputs), plus the manifest.

The network is rebuilt as a plain TensorFlow graph of constants (BatchNorm folded into the convs),
so the converter sees no Keras variables. torchvision pads stride-2 convs symmetrically by one
pixel; TensorFlow's "SAME" would pad bottom/right only, so those convs get an explicit pad.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import torch
from torch import nn

from .backbone import FaceNet, InvertedResidual

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

MODEL_FILE = "face.tflite"
# The model's outputs, each its own tensor so that int8 gives each its own scale.
OUTPUTS = ("gender_logit", "man", "woman")


def _fold(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> tuple[np.ndarray, np.ndarray]:
    scale = (bn.weight / torch.sqrt(bn.running_var + bn.eps)).detach()
    weight = (conv.weight.detach() * scale[:, None, None, None]).numpy()
    bias = (bn.bias.detach() - bn.running_mean * scale).numpy()
    return weight, bias


def _layers(module: nn.Module) -> list[Callable]:
    """The module as a list of TensorFlow functions, each closing over numpy constants."""
    import tensorflow as tf

    if isinstance(module, InvertedResidual):
        inner = _layers(module.conv)
        if not module.use_residual:
            return inner

        def residual(x, inner=inner):
            y = x
            for layer in inner:
                y = layer(y)
            return x + y
        return [residual]

    children = list(module.children())
    out: list[Callable] = []
    i = 0
    while i < len(children):
        child = children[i]
        if isinstance(child, nn.Conv2d):
            weight, bias = _fold(child, children[i + 1])
            out.append(_conv(tf, child, weight, bias))
            i += 2
            continue
        if isinstance(child, nn.ReLU6):
            out.append(tf.nn.relu6)
        elif isinstance(child, (nn.Sequential, InvertedResidual)):
            out.extend(_layers(child))
        else:
            raise TypeError(f"cannot export layer {child!r}")
        i += 1
    return out


def _conv(tf, conv: nn.Conv2d, weight: np.ndarray, bias: np.ndarray) -> Callable:
    stride = conv.stride[0]
    k = conv.kernel_size[0]
    depthwise = conv.groups > 1
    # torch [out, in/groups, k, k] -> tf [k, k, in, out] (regular) or [k, k, channels, 1] (depthwise)
    kernel = weight.transpose(2, 3, 0, 1) if depthwise else weight.transpose(2, 3, 1, 0)
    pad = (k - 1) // 2

    def apply(x):
        if pad:
            x = tf.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]])
        if depthwise:
            y = tf.nn.depthwise_conv2d(x, tf.constant(kernel), [1, stride, stride, 1], "VALID")
        else:
            y = tf.nn.conv2d(x, tf.constant(kernel), stride, "VALID")
        # Constants are made while tracing, so they are graph constants, not captured inputs.
        return tf.nn.bias_add(y, tf.constant(bias))
    return apply


def tflite_model(net: FaceNet, size: int, quantize: bool, calibration: Iterable[np.ndarray] | None = None) -> bytes:
    """`net` as one TFLite model (input: normalised RGB, NHWC) with three outputs: the gender logit
    and both genders' scores, so one run per crop gives the chain everything."""
    import tensorflow as tf

    net = net.eval()
    layers = _layers(net.frozen) + _layers(net.tail)
    head_w = net.heads.weight.detach().numpy()
    head_b = net.heads.bias.detach().numpy()

    @tf.function(input_signature=[tf.TensorSpec([1, size, size, 3], tf.float32, name="face")])
    def model(x):
        for layer in layers:
            x = layer(x)
        pooled = tf.reduce_mean(x, axis=[1, 2])
        return tuple(tf.matmul(pooled, tf.constant(head_w[i][:, None])) + tf.constant(head_b[i:i + 1])
                     for i in range(len(OUTPUTS)))

    converter = tf.lite.TFLiteConverter.from_concrete_functions([model.get_concrete_function()], model)
    if quantize:
        calibration = [] if calibration is None else list(calibration)
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([c[None].astype(np.float32)] for c in calibration)
    return converter.convert()


def output_names() -> dict[str, str]:
    """Each head's output tensor name: the converter names a function's outputs Identity,
    Identity_1, ... in order (tests/test_training.py checks each against PyTorch)."""
    return {head: "Identity" + (f"_{i}" if i else "") for i, head in enumerate(OUTPUTS)}


def write_models(out_dir: Path, blob: bytes, manifest: dict) -> Path:
    """Write face.tflite and manifest.json (with the file's SHA-256 and output names) into out_dir."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / MODEL_FILE).write_bytes(blob)
    files = {"face": {"file": MODEL_FILE, "sha256": hashlib.sha256(blob).hexdigest(), "outputs": output_names()}}
    manifest = dict(manifest, models=files)
    path = out_dir / "manifest.json"
    path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path
