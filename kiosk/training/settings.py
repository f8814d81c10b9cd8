"""What a training run is asked to do, with its defaults. Kept free of torch and TensorFlow so the
`kiosk` command can show these defaults without loading the training stack."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# Blocks 0..10 stay frozen at their ImageNet weights; their output is cached once per augmented
# crop, and only blocks 11..18 are fine-tuned. Measured on the validation split: r 0.913 with
# blocks 11..18 trained vs 0.905 with 14..18 (models/README.md).
FROZEN_BLOCKS = 11


@dataclass(frozen=True)
class TrainSettings:
    data: Path
    out: Path
    epochs: int = 16
    copies: int = 6  # cached versions of each training crop: plain, flipped, then random augmentations
    batch: int = 32
    lr: float = 6e-4
    val_fraction: float = 0.15
    limit: int = 0  # use only this many photos (smoke tests)
    precision: str = "int8"  # of the shipped models; a float32 copy always goes to <out>/float/
    seed: int = 0
    frozen_blocks: int = FROZEN_BLOCKS  # blocks 0..N-1 keep ImageNet weights and are cached
    mirror: bool = True  # the chain averages each crop with its mirror image (manifest preprocess.mirror)
    calibration_slope: float = 1.0  # displayed score vs human rating on the validation split
    exposure: str = "even"  # "even": every crop's face brought to one brightness (kiosk.chain.even_exposure)
    # weight of the squared difference between the outputs for two random versions of the same photo
    # (each step sees each photo twice): 0 = off, each step one version per photo
    consistency: float = 0.0
