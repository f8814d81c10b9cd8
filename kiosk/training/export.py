"""Export the trained FaceNet as the chain's TFLite model (three outputs), plus the manifest.

The network is rebuilt as a plain TensorFlow graph of constants (BatchNorm folded into the convs),
so the converter sees no Keras variables. torchvision pads stride-2 convs symmetrically by one
pixel; TensorFlow's "SAME" would pad bottom/right only, so those convs get an explicit pad.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import torch
from torch import nn

from ..errors import KioskError
from .backbone import FaceEnsemble, FaceNet, InvertedResidual, network

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
        if module.blur is not None:  # the blur takes the stride between the depthwise and the projection
            return _layers(module.conv[:module.split]) + [_blur_pool(tf)] + _layers(module.conv[module.split:])
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


BLUR_SCOPE = "blur"  # names `backbone.BlurPool`'s op, so `network_from_float` tells it from the learnt convs
BLUR = (np.outer([1, 2, 1], [1, 2, 1]) / 16).astype(np.float32)


def _blur_pool(tf) -> Callable:
    """`backbone.BlurPool` in TensorFlow: the same padding, its two 2x2 means as the one 3x3 kernel
    they make, at stride 2: one depthwise conv, which TFLite runs far faster than padding and pooling."""
    def apply(x):
        kernel = np.repeat(BLUR[:, :, None, None], x.shape[-1], axis=2)
        with tf.name_scope(BLUR_SCOPE):
            x = tf.pad(x, [[0, 0], [1, 0], [1, 0], [0, 0]])
            return tf.nn.depthwise_conv2d(x, tf.constant(kernel), [1, 2, 2, 1], "VALID")
    return apply


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


def tflite_model(net: FaceNet | FaceEnsemble, size: int, quantize: bool,
                 calibration: Iterable[np.ndarray] | None = None, float_blocks: int = 0) -> bytes:
    """`net` as one TFLite model (input: normalised RGB, NHWC) with three outputs: the gender logit
    and both genders' scores (an ensemble's: each the mean of its members'), so one run per crop
    gives the chain everything. With `quantize`, int8, except MobileNetV2's first `float_blocks`
    blocks (all frozen, so shared by an ensemble's members), which stay float32."""
    import tensorflow as tf

    net = net.eval()
    frozen = [_layers(block) for block in net.frozen.children()]
    if float_blocks > len(frozen):
        raise ValueError(f"float_blocks {float_blocks}: only the {len(frozen)} frozen blocks can stay float32")
    branches = [([_layers(block) for block in tail.children()],
                 heads.weight.detach().numpy(), heads.bias.detach().numpy()) for tail, heads in net.branches()]

    def run(x, blocks, first: int, scope: str):
        for i, layers in enumerate(blocks, first):
            # the scope names each op, so the float blocks' ops can be told apart after conversion
            with tf.name_scope(f"{FLOAT_SCOPE if i < float_blocks else scope}{i}"):
                for layer in layers:
                    x = layer(x)
        return x

    @tf.function(input_signature=[tf.TensorSpec([1, size, size, 3], tf.float32, name="face")])
    def model(x):
        shared = run(x, frozen, 0, "block")
        outputs = []
        for m, (blocks, head_w, head_b) in enumerate(branches):
            prefix = f"{MEMBER}{m}_" if m else ""
            pooled = tf.reduce_mean(run(shared, blocks, len(frozen), prefix + "block"), axis=[1, 2])
            heads = []
            for i, name in enumerate(OUTPUTS):
                # an ensemble's heads are inner ops: their scope says whose and which (network_from_float)
                with tf.name_scope(f"{prefix}head_{name}") if len(branches) > 1 else contextlib.nullcontext():
                    heads.append(tf.matmul(pooled, tf.constant(head_w[i][:, None])) + tf.constant(head_b[i:i + 1]))
            outputs.append(heads)
        if len(outputs) == 1:
            return tuple(outputs[0])
        return tuple(tf.add_n([o[i] for o in outputs]) / len(outputs) for i in range(len(OUTPUTS)))

    converter = tf.lite.TFLiteConverter.from_concrete_functions([model.get_concrete_function()], model)
    if quantize:
        calibration = [] if calibration is None else list(calibration)
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([c[None].astype(np.float32)] for c in calibration)
        if float_blocks:
            return _int8_but_scope(tf, converter, calibration[:1])
    return converter.convert()


FLOAT_SCOPE = "float"
MEMBER = "member"  # an ensemble's second and later members' scopes: member1_block7, member1_head_man...


def _int8_but_scope(tf, converter, sample: list[np.ndarray]) -> bytes:
    """The converter's int8 model with the ops of the `FLOAT_SCOPE` blocks left in float32. TFLite's
    quantization debugger is the converter's way of leaving chosen ops unquantized; the rest is
    calibrated as in a plain int8 conversion (measured in models/README.md)."""
    int8 = tf.lite.Interpreter(model_content=converter.convert())
    names = [d["name"] for d in int8.get_tensor_details() if d["name"].startswith(FLOAT_SCOPE)]
    options = tf.lite.experimental.QuantizationDebugOptions(denylisted_nodes=names)
    debugger = tf.lite.experimental.QuantizationDebugger(
        converter=converter, debug_dataset=lambda: ([c[None].astype(np.float32)] for c in sample),
        debug_options=options)
    return debugger.get_nondebug_quantized_model()


def network_from_float(folder: Path) -> tuple[FaceNet | FaceEnsemble, dict]:
    """The network of a float32 models folder (its face.tflite and manifest) rebuilt in PyTorch, so a
    network whose training checkpoint is gone (the shipped one: checkpoints stay out of git) can be
    exported again, e.g. in another precision. Each conv takes the file's weights, BatchNorm folded
    in (its BatchNorm then passes values through), and each head its output's matmul; an ensemble's
    (manifest `training.ensemble`) later members' convs and heads are told apart by their scopes."""
    import tensorflow as tf

    try:
        manifest = json.loads((folder / "manifest.json").read_text())
        entry = manifest["models"]["face"]
        interpreter = tf.lite.Interpreter(model_path=str(folder / entry["file"]))
    except (OSError, ValueError, KeyError) as e:
        raise KioskError(f"{folder}: not a models folder with one face model ({e}); "
                         "give the float32 copy a training run writes, e.g. models/float") from None
    if manifest.get("precision") != "float32":
        raise KioskError(f"{folder}: precision is {manifest.get('precision')!r}; "
                         "give its float32 copy (its float/ folder)")
    net = network(manifest["training"]).eval()
    ops = interpreter._get_ops_details()  # the only way TFLite lists a model's ops and their weights
    names = {d["index"]: d["name"] for d in interpreter.get_tensor_details()}

    def member(op: dict) -> int:  # whose op: tflite_model's scopes name an ensemble's later members
        found = re.match(MEMBER + r"(\d+)_", names[op["outputs"][0]])
        return int(found.group(1)) if found else 0

    convs = sorted((op for op in ops if op["op_name"] in ("CONV_2D", "DEPTHWISE_CONV_2D")
                    and f"/{BLUR_SCOPE}/" not in names[op["outputs"][0]]), key=member)
    modules = [*net.frozen.modules()] + [m for tail, _ in net.branches() for m in tail.modules()]
    layers = [m for m in modules if isinstance(m, (nn.Conv2d, nn.BatchNorm2d))]
    if len(convs) != len(layers) // 2:
        raise KioskError(f"{folder}: {len(convs)} convolutions, not the {len(layers) // 2} of "
                         f"{len(net.branches())} MobileNetV2 tail(s) as its manifest says")
    with torch.no_grad():
        for conv, bn, op in zip(layers[::2], layers[1::2], convs):
            weight = interpreter.get_tensor(op["inputs"][1])
            # TFLite keeps [out, k, k, in] for a conv and [1, k, k, channels] for a depthwise one
            depthwise = op["op_name"] == "DEPTHWISE_CONV_2D"
            weight = weight.transpose(3, 0, 1, 2) if depthwise else weight.transpose(0, 3, 1, 2)
            if weight.shape != tuple(conv.weight.shape):
                raise KioskError(f"{folder}: a convolution of shape {weight.shape}, not {tuple(conv.weight.shape)}")
            conv.weight.copy_(torch.from_numpy(weight.copy()))
            bn.weight.fill_(1.0)
            bn.bias.copy_(torch.from_numpy(_bias(interpreter, op, len(weight))))
            bn.running_mean.zero_()
            bn.running_var.fill_(1 - bn.eps)  # so the folded scale is exactly 1
        tensor_head = {name: head for head, name in entry["outputs"].items()}
        branches = net.branches()
        for op in (op for op in ops if op["op_name"] == "FULLY_CONNECTED"):
            name = names[op["outputs"][0]]
            scoped = re.match(r"(?:" + MEMBER + r"\d+_)?head_(\w+?)/", name)
            head = scoped.group(1) if len(branches) > 1 and scoped else tensor_head.get(name)
            if head not in OUTPUTS:
                raise KioskError(f"{folder}: cannot tell which head {name!r} is; export the file again")
            heads = branches[member(op)][1]
            heads.weight[OUTPUTS.index(head)] = torch.from_numpy(interpreter.get_tensor(op["inputs"][1]).reshape(-1).copy())
            heads.bias[OUTPUTS.index(head)] = float(_bias(interpreter, op, 1)[0])
    return net, {k: v for k, v in manifest.items() if k not in ("models", "precision")}


def _bias(interpreter, op: dict, n: int) -> np.ndarray:
    """An op's bias, or zeros where the converter dropped an all-zero one (its input index is then -1)."""
    inputs = op["inputs"]
    if len(inputs) < 3 or inputs[2] < 0:
        return np.zeros(n, np.float32)
    return interpreter.get_tensor(inputs[2]).reshape(-1).copy()


def output_names() -> dict[str, str]:
    """Each head's output tensor name: the converter names a function's outputs Identity,
    Identity_1, ... in order (tests/test_training.py checks each against PyTorch)."""
    return {head: "Identity" + (f"_{i}" if i else "") for i, head in enumerate(OUTPUTS)}


SEED_WAY_FILE = "one_network.tflite"


def write_models(out_dir: Path, blob: bytes, manifest: dict, seed_way: bytes | None = None) -> Path:
    """Write face.tflite and manifest.json (with the file's SHA-256 and output names) into out_dir.
    `seed_way`: an ensemble's float32 copy also gets its first member alone, listed as `seed_way`:
    `kiosk bench` times the seed's way (one float32 MobileNetV2 a step) on it, not on the ensemble."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / MODEL_FILE).write_bytes(blob)
    files = {"face": {"file": MODEL_FILE, "sha256": hashlib.sha256(blob).hexdigest(), "outputs": output_names()}}
    manifest = {k: v for k, v in manifest.items() if k != "seed_way"}
    (out_dir / SEED_WAY_FILE).unlink(missing_ok=True)
    if seed_way is not None:
        (out_dir / SEED_WAY_FILE).write_bytes(seed_way)
        manifest["seed_way"] = {"file": SEED_WAY_FILE, "sha256": hashlib.sha256(seed_way).hexdigest(),
                                "outputs": output_names()}
    manifest = dict(manifest, models=files)
    path = out_dir / "manifest.json"
    path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path
