"""What a training run is asked to do, with its defaults. Kept free of torch and TensorFlow so the
`kiosk` command can show these defaults without loading the training stack."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# Blocks 0..6 stay frozen at their ImageNet weights; their output is cached once per augmented
# crop, and blocks 7..18 are fine-tuned. Measured on the validation split with this recipe: r 0.917,
# invisible changes moving 9.7% of ranks with blocks 7..18 trained, against r 0.910 and 15.5% with
# 11..18 (models/README.md); 14..18 read r 0.905 in an older recipe.
FROZEN_BLOCKS = 7
# Ranks 1..5 for 6/26/38/20/10% of the training faces: the cuts sit where scores are sparser than at
# equal fifths, so the wobble between near-identical shots crosses one less often (models/README.md:
# 8/24/36/20/12% moved 9.7% of ranks under invisible changes, these 7.3%; each share stays in 5-40%).
# The top share is larger because training-set scores are spread wider at the top than unseen faces'
# (the model fits its training photos): 8% there left only ~4% of unseen men in rank 5.
RANK_SHARES = (0.06, 0.26, 0.38, 0.20, 0.10)
SHARE_LIMITS = (0.05, 0.40)  # each rank's share (issue 10): no verdict vanishes or dominates
# MobileNetV2's ImageNet weights were published for 96..224; being convolutional they also run at 256,
# which is measured rather than shipped (models/README.md)
INPUT_SIZES = (128, 160, 192, 224, 256)
# int8; "mixed": int8 but the frozen blocks float32; float: float32 (the chain runs any of them)
PRECISIONS = ("int8", "mixed", "float")
# the names of kiosk.chain.EXPOSURES, spelled out so the CLI starts without OpenCV
EXPOSURE_STEPS = ("even", "tone", "none")


def parse_rank_shares(text: str) -> tuple[float, ...]:
    """"10,25,30,25,10" (percent, ranks 1..5) -> fractions; ValueError worded for the command line."""
    try:
        shares = tuple(float(v) / 100 for v in text.split(","))
    except ValueError:
        raise ValueError(f"rank shares {text!r}: give five percentages separated by commas, "
                         "e.g. 10,25,30,25,10") from None
    lo, hi = SHARE_LIMITS
    if len(shares) != 5 or abs(sum(shares) - 1) > 1e-6 or not all(lo <= v <= hi for v in shares):
        raise ValueError(f"rank shares {text!r}: five percentages, each {lo:.0%}..{hi:.0%}, adding up to 100")
    return shares


@dataclass(frozen=True)
class TrainSettings:
    data: Path
    out: Path
    epochs: int = 16
    copies: int = 8  # cached versions of each training crop: plain, flipped, then random augmentations
    batch: int = 32
    lr: float = 6e-4
    weight_decay: float = 1e-4  # AdamW's, on the trained blocks and the heads
    dropout: float = 0.2  # before the heads
    # weight of the own gender's mean absolute error added to its squared error (0 = squared only)
    l1: float = 0.0
    # manifold mixup on the cached features: each batch blended with a shuffled copy of itself (same
    # gender's pairs only, Beta(mixup, mixup) weights); 0 = off
    mixup: float = 0.0
    # weight of a ComboLoss-style term: a training-only head sorts each photo's score into bins for its
    # gender, against a Gaussian around the score (score_bins_loss); 0 = off. One network is trained
    # per weight, all on the same cached versions, and more than one make an ensemble in one file,
    # outputs averaged (what `kiosk average --of outputs` makes of separate runs): the shipped models
    # are the two networks of (0, 0.2), better than either alone (models/README.md)
    bins: tuple[float, ...] = (0.0, 0.2)
    val_fraction: float = 0.15
    limit: int = 0  # use only this many photos (smoke tests)
    precision: str = "mixed"  # of the shipped models (PRECISIONS); a float32 copy always goes to <out>/float/
    seed: int = 0
    # another draw of the same recipe on the same split (`run_seed`): the networks' initial heads, the
    # versions' random changes and the batches' order; 0 = the seed's own, as every run before it
    draw: int = 0
    frozen_blocks: int = FROZEN_BLOCKS  # blocks 0..N-1 keep ImageNet weights and are cached
    mirror: bool = True  # the chain averages each crop with its mirror image (manifest preprocess.mirror)
    # displayed score vs human rating on the validation split: 0.9 unsqueezes the scores at no cost in
    # MAE; 1 (the raters' scale) costs about 0.02 of MAE (models/README.md)
    calibration_slope: float = 0.9
    # "tone": every crop's face brought to one brightness and contrast (kiosk.chain.tone_exposure), which
    # undoes a dim room's tone curve as well; the shipped file's step since 2026-12-07 (models/README.md)
    exposure: str = "tone"
    # Gaussian blur sigma (input pixels) every crop gets before the exposure step, in training and service
    # (manifest preprocess.smooth). 0: the shipped networks were trained so; their file is served at 0.7,
    # set by `kiosk refit --smooth` (models/README.md, "Smoothing the crops")
    smooth: float = 0.0
    # weight of the squared difference between the outputs for two random versions of the same photo
    # (each step sees each photo twice): 0 = off, each step one version per photo
    consistency: float = 0.0
    # the gender logit's share in that difference (logits span ~10x the scores): 0 asks only the score
    # to hold still; two draws so kept the gender but lost the steadiness (models/README.md)
    consistency_gender: float = 0.1
    # the stride-2 steps of the fine-tuned blocks (7 and 14 with 7 frozen) low-passed first
    # (backbone.BlurPool; manifest training.antialias_from): MobileNetV2 aliases, so a crop moved by one
    # pixel moved the shipped networks' score by most of their wobble between near-identical photos;
    # off: one draw with it was no steadier under those photos and read lower in r (models/README.md)
    antialias: bool = False
    # share of faces (of the training split, per gender) given each rank 1..5; the cuts between ranks
    # are the matching quantiles of the exported chain's scores (`rank_boundaries`)
    rank_shares: tuple[float, ...] = RANK_SHARES
    # side of the square crop the models take: MobileNetV2's cost grows with its square (160 px: half
    # the multiply-adds of 224), so a smaller input pays for the chain's mirror and extra crops
    input_size: int = 224
    # more crops per face for the chain (manifest preprocess.extra_margins): none, since a second crop
    # at 32% margin bought 1.5 points of invisible changes for twice the model runs (models/README.md)
    extra_margins: tuple[float, ...] = ()
    # which inputs decide the gender (manifest preprocess.gender_from): every input, each crop and its
    # mirror image, their logits averaged; free with kiosk train's one-file layout, and on the shipped
    # ensemble it got 494 of 495 validation genders right against "plain"'s 492 (models/README.md)
    gender_from: str = "all"
    # "auto": a CUDA GPU when PyTorch sees one, else the CPU ("cpu", "cuda" to insist)
    device: str = "auto"
    # networks trained first (other seeds) whose mean outputs on each cached version the shipped one
    # also learns from (distillation): 0 = off
    teachers: int = 0
    distill: float = 0.5  # weight of the teachers' outputs in the targets, the rest the raters' score
    # False: stop after OUT/checkpoint.pt (a GPU machine without TensorFlow); `kiosk export` finishes
    export: bool = True

    @property
    def antialias_from(self) -> int | None:
        """The first block `--antialias` may blur (manifest training.antialias_from): the first fine-tuned."""
        return self.frozen_blocks if self.antialias else None
