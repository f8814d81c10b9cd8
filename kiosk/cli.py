"""The `kiosk` command: one subcommand per job an operator does."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from . import config as config_module
from .errors import KioskError, one_line
from .texts import LANGUAGES
from .training.settings import EXPOSURE_STEPS, INPUT_SIZES, PRECISIONS, TrainSettings, parse_rank_shares


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s", force=True)
    try:
        config = config_module.load(args.config)
    except config_module.ConfigError as exc:
        if args.command == "check":  # the preflight reports a broken config as one of its checks
            return _check(args, None, str(exc))
        return _failed(args, exc)
    try:
        return args.run(args, config)
    except KioskError as exc:  # the one place operator-facing errors are caught
        return _failed(args, exc)


def _failed(args, exc: KioskError) -> int:
    """Exit status 2 with the error's one line; a booth under systemd also shows it on screen,
    then backs off."""
    message = one_line(exc)
    print(f"kiosk: {message}", file=sys.stderr)
    if args.command == "run":
        from .booth.failsafe import show_error

        show_error(message, args.windowed, args.headless)
    return 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kiosk", description="faceeva kiosk: a face-scoring photo booth, for fun.")
    _common_options(parser, None, False)
    # The same options after the subcommand too (`kiosk config --config x`); there, absent means
    # "as given before it", so they must not set a default of their own.
    common = argparse.ArgumentParser(add_help=False)
    _common_options(common, argparse.SUPPRESS, argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, **kwargs) -> argparse.ArgumentParser:
        return sub.add_parser(name, parents=[common], **kwargs)  # each takes the common options too

    p = command("run", help="run the booth (fullscreen)")
    p.add_argument("--windowed", action="store_true", help="a window at [screen] width x height, for development")
    source = p.add_mutually_exclusive_group()  # both at once would leave one silently ignored
    source.add_argument("--camera", metavar="auto|picamera2|opencv|FILE|DIR",
                        help="camera source, overriding [camera] source")
    source.add_argument("--demo", action="store_true",
                        help="no camera: a built-in scene from a public-domain portrait (same as --camera demo)")
    p.add_argument("--headless", action="store_true",
                   help="draw on SDL's dummy driver, shown nowhere (tests); without it the booth refuses to run unseen")
    p.set_defaults(run=_run)

    p = command("screenshot", help="render one booth screen headless from the demo scene to a PNG")
    p.add_argument("--state", choices=("idle", "live", "hint", "countdown", "result", "result-long-text", "takeaway",
                                       "paused"),
                   required=True, help="takeaway: the result with its take-home QR code ([web] takeaway)")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--portrait", action="store_true",
                   help="a 1080x1920 portrait screen ([screen] rotation 90), saved upright")
    p.add_argument("--lang", choices=LANGUAGES, default=None, help="texts language, overriding [texts] language")
    p.set_defaults(run=_screenshot)

    p = command("export", help="re-export the models from OUT/checkpoint.pt (e.g. in another precision)")
    p.add_argument("data", type=Path, help="the training data (for int8 calibration crops)")
    p.add_argument("--out", type=Path, default=None, help="models folder holding checkpoint.pt (default: config's)")
    p.add_argument("--precision", choices=PRECISIONS, default=TrainSettings.precision)
    p.add_argument("--network", type=Path, default=None,
                   help="take the network from this float32 models folder (e.g. models/float) instead of "
                        "OUT/checkpoint.pt, and write it there as OUT/checkpoint.pt")
    p.set_defaults(run=_export)

    p = command("average", help="average training runs of the same split into one network (their weights: one "
                                "network's cost) or one model file (their outputs: --of outputs), then export it")
    p.add_argument("data", type=Path, help="the training data the runs were trained on (same split)")
    p.add_argument("runs", nargs="+", help="folders written by `kiosk train --out` (with checkpoint.pt); "
                   "FOLDER:N for network N (from 1) of a run that trained several")
    p.add_argument("--out", type=Path, required=True, help="where to write the averaged models")
    p.add_argument("--precision", choices=PRECISIONS, default=TrainSettings.precision)
    p.add_argument("--of", choices=("weights", "outputs"), default="weights",
                   help="weights: one network of the mean weights; outputs: an ensemble in one file, every run's "
                        "tail on the frozen blocks they share, outputs averaged (costs a tail per run)")
    p.set_defaults(run=_average)

    p = command("pairs", help="score every network of the runs on the validation photos and rank each pair "
                              "of them on half A (which two to ship in one file with `average --of outputs`)")
    p.add_argument("data", type=Path, help="the training data the runs were trained on (same split)")
    p.add_argument("runs", nargs="+", help="folders written by `kiosk train --out` (with checkpoint.pt): each "
                   "of a folder's networks, or FOLDER:N for network N (from 1) alone")
    p.set_defaults(run=_pairs)

    p = command("refit", help="fit a models folder's rank boundaries and displayed-score calibration again "
                              "(no checkpoint needed; the model files stay as they are)")
    p.add_argument("data", type=Path, help="the training data the models were trained on (same split)")
    p.add_argument("--models", type=Path, default=None, help="models folder (default: config's)")
    p.add_argument("--rank-shares", type=_rank_shares, default=None,
                   help="percent of faces given rank 1..5, e.g. 10,25,30,25,10 (default: the manifest's)")
    p.add_argument("--calibration-slope", type=float, default=None,
                   help="displayed score vs human rating on the validation split (default: the manifest's, else 1)")
    p.add_argument("--mirror", choices=("on", "off"), default=None,
                   help="average each crop with its mirror image (default: as the manifest says)")
    p.add_argument("--extra-margins", type=_margins, default=None,
                   help="more crops per face, cut around the same box with these margins (comma-separated, "
                        "e.g. 0.32; 'none' for none) and averaged (default: as the manifest says)")
    p.add_argument("--exposure", choices=EXPOSURE_STEPS, default=None,
                   help="bring each face to one brightness (even), or to one brightness and contrast (tone), "
                        "before the models, or neither (default: as the manifest says)")
    p.add_argument("--gender-from", choices=("all", "plain"), default=None,  # kiosk.chain.GENDER_FROM
                   help="the gender from every crop and mirror image (all) or from each face's first crop "
                        "only (plain: one gender-model run a face; default: as the manifest says)")
    p.add_argument("--smooth", type=_smooth, default=None,
                   help="Gaussian blur sigma in model-input pixels for every crop before the exposure step, "
                        "0 to 3 (0: none; default: as the manifest says)")
    p.add_argument("--partner", default=None,
                   help="models folder of another `kiosk train` run (same data and --seed) to run on the mirror "
                        "images, an ensemble at no extra model runs; 'none' takes one out (default: keep)")
    p.set_defaults(run=_refit)

    p = command("score", help="score photo files or folders, one line (or JSON object) per photo")
    p.add_argument("paths", nargs="+", help="image files or folders of images")
    p.add_argument("--json", action="store_true", help="JSON Lines output, one object per photo")
    p.set_defaults(run=_score)

    p = command("web", help="serve the upload page and POST /score (the seed's web app), no booth needed")
    p.add_argument("--host", default=None, help="address to listen on (default: [web] host)")
    p.add_argument("--port", type=int, default=None, help="port to listen on (default: [web] port)")
    p.set_defaults(run=_web)

    p = command("eval", help="measure the shipped models on labelled photos")
    p.add_argument("data", type=Path, help="folder with labels.txt + images/, or man/1..5 + woman/1..5")
    p.add_argument("--subset", choices=("val", "val-a", "val-b", "all", "train"), default="val",
                   help="val: the validation split recorded in the manifest (default); val-a / val-b: its "
                        "even / odd positions (`kiosk pairs` picks on val-a; judge the pick on val-b); all: "
                        "every photo; train: the photos the models were trained on (offsets, not accuracy)")
    p.add_argument("--grey", action="store_true", help="score greyscale copies (old black-and-white portraits)")
    p.add_argument("--no-variants", action="store_true",
                   help="skip the stability measures (altered copies, bad light, the float32 copy): 9x faster")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=_eval)

    p = command("check", help="preflight: runtime, models, font, camera, display, GPIO, config")
    p.add_argument("--json", action="store_true")
    p.add_argument("--camera", default=None, help="camera source to check, overriding [camera] source")
    p.add_argument("--headless", action="store_true", help="accept SDL's dummy driver as the display (tests)")
    p.set_defaults(run=_check)

    p = command("bench", help="measure detection, frame, chain and press-to-result times, and the seed's way")
    p.add_argument("--json", action="store_true")
    p.add_argument("--frames", type=int, default=450, help="render-loop frames to time")
    p.add_argument("--repeat", type=int, default=100, help="chain runs to time")
    p.add_argument("--web", action="store_true",
                   help="time the render loop while the booth's web server serves each take-home card to a phone "
                        "on 127.0.0.1")
    p.set_defaults(run=_bench)

    p = command("load", help="20 web clients uploading on 127.0.0.1 while the booth runs the demo: errors, "
                "memory, upload->verdict, frame times with and without the load")
    p.add_argument("--clients", type=int, default=20)
    p.add_argument("--seconds", type=float, default=60.0, help="how long the clients upload")
    p.add_argument("--baseline", type=float, default=20.0, help="seconds of frames timed first, without load")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=_load)

    p = command("soak", help="run the booth loop headless for a long time and check for leaks")
    p.add_argument("--frames", type=int, default=20000)
    p.add_argument("--cycles", type=int, default=200, help="captures that must each yield a result")
    p.add_argument("--camera", default=None, help="photo, folder or video to replay (default: the demo portrait)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=_soak)

    p = command("config", help="check the config file, or print the commented default")
    p.add_argument("--default", action="store_true", help="print the default config.toml")
    p.set_defaults(run=_config)

    p = command("train", help="train the face models from SCUT-FBP5500 or your own photo folders")
    p.add_argument("data", type=Path, help="folder with labels.txt + images/, or man/1..5 + woman/1..5")
    p.add_argument("--out", type=Path, default=None, help="where to write the models (default: models dir in config)")
    d = TrainSettings(Path(), Path())  # the defaults live there only
    p.add_argument("--epochs", type=int, default=d.epochs, help="default: %(default)s")
    p.add_argument("--copies", type=int, default=d.copies,
                   help="cached augmented versions of each training crop (default: %(default)s)")
    p.add_argument("--limit", type=int, default=d.limit, help="use only the first N photos (quick trials)")
    p.add_argument("--val-fraction", type=float, default=d.val_fraction, help="default: %(default)s")
    p.add_argument("--precision", choices=PRECISIONS, default=d.precision,
                   help="shipped models' precision, default %(default)s (mixed: int8 but the frozen blocks "
                        "float32; a float32 copy always goes to OUT/float)")
    p.add_argument("--seed", type=int, default=d.seed,
                   help="also picks the validation photos held out (default: %(default)s)")
    p.add_argument("--draw", type=int, default=d.draw,
                   help="another draw of the same recipe on the same validation split: other initial heads, "
                        "random versions and batch order (default: %(default)s, the seed's own)")
    p.add_argument("--frozen-blocks", type=int, default=d.frozen_blocks,
                   help="MobileNetV2 blocks kept at ImageNet weights (default: %(default)s)")
    p.add_argument("--exposure", choices=EXPOSURE_STEPS, default=d.exposure,
                   help="bring each face to one brightness (even), or to one brightness and contrast "
                        "(tone: undoes a dim room's tone curve too), before the models, in training and "
                        "service (default: %(default)s)")
    p.add_argument("--smooth", type=_smooth, default=d.smooth,
                   help="Gaussian blur sigma in model-input pixels for every crop before the exposure step, "
                        "0 to 3, in training and service (default: %(default)s: none)")
    p.add_argument("--antialias", action="store_true", default=d.antialias,
                   help="the fine-tuned blocks' stride-2 steps low-passed first (BlurPool), against "
                        "MobileNetV2's aliasing (off by default: one draw was no steadier and less accurate)")
    p.add_argument("--calibration-slope", type=float, default=d.calibration_slope,
                   help="displayed score vs human rating on the validation split (default: %(default)s)")
    p.add_argument("--rank-shares", type=_rank_shares, default=d.rank_shares,
                   help="percent of faces given rank 1..5 (default: "
                        + ",".join(f"{v * 100:g}" for v in d.rank_shares) + ")")
    p.add_argument("--consistency", type=float, default=d.consistency,
                   help="weight of a loss that asks two random versions of a photo for the same outputs "
                        "(0 = off; each step then sees each photo once instead of twice; default: %(default)s)")
    p.add_argument("--consistency-gender", type=float, default=d.consistency_gender,
                   help="share of that loss given to the gender logit's difference (0 = the score's only; "
                        "default: %(default)s)")
    p.add_argument("--weight-decay", type=float, default=d.weight_decay, help="AdamW's (default: %(default)s)")
    p.add_argument("--dropout", type=float, default=d.dropout, help="before the heads (default: %(default)s)")
    p.add_argument("--l1", type=float, default=d.l1,
                   help="weight of the score's absolute error added to its squared error (default: %(default)s)")
    p.add_argument("--mixup", type=float, default=d.mixup,
                   help="blend each photo's cached features and score with another's of the same gender, "
                        "Beta(M, M) weights (0 = off; default: %(default)s)")
    p.add_argument("--bins", type=_bins_weights, default=d.bins,
                   help="weight of a training-only head that sorts each score into 0.25-wide bins "
                        "(ComboLoss-style; 0 = off); one network per weight, comma-separated, trained on the same "
                        "cached versions, and more than one averaged in one file, each costing the chain a tail "
                        "(default: " + ",".join(f"{w:g}" for w in d.bins) + ", the shipped models' two networks; "
                        "0 for one network)")
    p.add_argument("--input-size", type=int, choices=INPUT_SIZES, default=d.input_size,
                   help="side of the face crop the models take, in pixels (default: %(default)s; 160 runs in "
                        "about half the time)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default=d.device,
                   help="where the cached features and training live (default: %(default)s, a CUDA GPU "
                        "if PyTorch sees one)")
    p.add_argument("--teachers", type=int, default=d.teachers,
                   help="first train N more networks and distil their mean outputs into this one "
                        "(0 = off; each costs about one run's training time; default: %(default)s)")
    p.add_argument("--distill", type=float, default=d.distill,
                   help="with --teachers, the teachers' share of the targets, the rest the raters' "
                        "score (default: %(default)s)")
    p.add_argument("--checkpoint-only", action="store_true",
                   help="stop after OUT/checkpoint.pt, e.g. on a GPU machine without TensorFlow; "
                        "`kiosk export DATA --out OUT` makes the models from it")
    p.set_defaults(run=_train)
    return parser


def _common_options(parser: argparse.ArgumentParser, config_default, verbose_default) -> None:
    parser.add_argument("--config", type=Path, default=config_default,
                        help="config file (default: /etc/faceeva/config.toml if it exists, else the built-in defaults)")
    parser.add_argument("--verbose", action="store_true", default=verbose_default, help="debug logging")


def _train(args, config) -> int:
    from .training.train import train

    train(TrainSettings(data=args.data, out=args.out or config.models_dir, epochs=args.epochs, copies=args.copies,
                        limit=args.limit, val_fraction=args.val_fraction, precision=args.precision,
                        seed=args.seed, draw=args.draw, frozen_blocks=args.frozen_blocks, exposure=args.exposure,
                        smooth=args.smooth, antialias=args.antialias,
                        calibration_slope=args.calibration_slope, consistency=args.consistency,
                        consistency_gender=args.consistency_gender,
                        rank_shares=args.rank_shares, input_size=args.input_size, device=args.device,
                        teachers=args.teachers, distill=args.distill, export=not args.checkpoint_only,
                        weight_decay=args.weight_decay, dropout=args.dropout, l1=args.l1, mixup=args.mixup,
                        bins=args.bins),
          config)
    return 0


def _bins_weights(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give one weight or more, comma-separated, e.g. 0,0.2") from None


def _rank_shares(text: str) -> tuple[float, ...]:
    try:
        return parse_rank_shares(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _refit(args, config) -> int:
    from .training.train import refit_verdict

    mirror = None if args.mirror is None else args.mirror == "on"
    manifest = refit_verdict(args.models or config.models_dir, args.data, config, args.rank_shares,
                             args.calibration_slope, mirror, args.extra_margins, args.gender_from, args.exposure,
                             args.partner, args.smooth)
    print(json.dumps({k: manifest[k] for k in ("rank_boundaries", "calibration")}
                     | {k: manifest["preprocess"].get(k)
                        for k in ("mirror", "extra_margins", "gender_from", "exposure", "smooth")}
                     | {"members": manifest.get("members")}))
    return 0


def _smooth(text: str) -> float:
    from .chain import SMOOTH_RANGE, smooth_ok

    try:
        sigma = float(text)
    except ValueError:
        sigma = -1.0
    if not smooth_ok(sigma):
        raise argparse.ArgumentTypeError(f"{text!r}: give {SMOOTH_RANGE}, e.g. 0.7")
    return sigma


def _margins(text: str) -> tuple[float, ...]:
    try:
        margins = () if text == "none" else tuple(float(v) for v in text.split(","))
    except ValueError:
        margins = (-1.0,)
    if not all(0 <= v <= 1 for v in margins):
        raise argparse.ArgumentTypeError(f"{text!r}: give margins between 0 and 1 separated by commas, or none")
    return margins


def _score(args, config) -> int:
    from .photo import find_photos
    from .scoring import PhotoScorer

    scorer = PhotoScorer(config)
    # A terminal or pipe that cannot show a character gets an escape, never a traceback mid-batch.
    sys.stdout.reconfigure(errors="backslashreplace")
    failed = False
    for result in scorer.score_files(find_photos(args.paths)):
        failed |= result.status == "error"
        print(result.json() if args.json else result.line(), flush=True)
    return 1 if failed else 0


def _web(args, config) -> int:
    from .web.server import serve

    host, port = args.host or config.web.host, args.port or config.web.port
    logging.getLogger("kiosk").info("web: upload page on http://%s:%d/ (POST /score for scripts)", host, port)
    serve(config, host, port)
    return 0


def _eval(args, config) -> int:
    import dataclasses

    from .evaluation import as_json, evaluate, report, select
    from .scoring import PhotoScorer

    scorer = PhotoScorer(config)
    other = None
    if not args.no_variants and (config.models_dir / "float" / "manifest.json").is_file():
        other = PhotoScorer(dataclasses.replace(config, models=dataclasses.replace(
            config.models, dir=str(config.models_dir / "float"))))
    metrics = evaluate(scorer, select(args.data, args.subset, scorer.chain.manifest.training), grey=args.grey,
                       other_scorer=other, variants=not args.no_variants)
    print(as_json(metrics) if args.json else report(metrics))
    return 0


def _config(args, config) -> int:
    if args.default:
        print(config_module.render_default(), end="")
    else:
        source = str(config_module.find(args.config) or "built-in defaults")
        config_module.check_files(config, source)
        print(f"{source}: valid")
    return 0


def _run(args, config) -> int:
    from .booth.app import App
    from .booth.failsafe import show_error

    source = "demo" if args.demo else (args.camera or config.camera.source)
    app = App(config, source, windowed=args.windowed, headless=args.headless)
    log = logging.getLogger("kiosk")
    log.info("booth running: camera %s, %s, trigger %s", source, app.runtime, config.booth.trigger)
    web = None
    if config.web.enabled:
        from .web.service import WebService

        web = WebService(config, app).start()
        if web:
            log.info("web: pages on http://%s:%d/", config.web.host, web.port)
    try:
        return app.run()
    except Exception as exc:  # a bug: say so on screen rather than leave it black, then let systemd restart
        log.exception("booth crashed")
        show_error(f"crashed: {type(exc).__name__}: {one_line(exc)}", args.windowed, args.headless)
        return 1
    finally:
        if web:
            web.stop()


def _screenshot(args, config) -> int:
    import dataclasses

    from .tools.shots import screenshot

    if args.portrait:
        config = dataclasses.replace(config, screen=dataclasses.replace(config.screen, width=1920, height=1080,
                                                                        rotation=90))
    if args.lang:
        config = dataclasses.replace(config, texts=dataclasses.replace(config.texts, language=args.lang))
    print(screenshot(config, args.state, args.out))
    return 0


def _bench(args, config) -> int:
    import json

    from .tools.bench import bench, report

    result = bench(config, frames=args.frames, repeat=args.repeat, web=args.web)
    print(json.dumps(result) if args.json else report(result))
    return 0


def _load(args, config) -> int:
    import json

    from .tools.load import checks, load, report

    result = load(config, args.clients, args.seconds, args.baseline, warmup_s=min(10.0, args.seconds / 6))
    print(json.dumps(result) if args.json else report(result))
    return 0 if all(ok for _, ok, _ in checks(result)) else 1


def _soak(args, config) -> int:
    import json

    from .cameras.demo import PORTRAIT
    from .tools.soak import soak, table, verdict

    report = soak(config, args.camera or str(PORTRAIT), args.frames, args.cycles)
    problems = verdict(report)
    print(json.dumps(report) if args.json else table(report))
    for problem in problems:
        print(f"kiosk: soak failed: {problem}", file=sys.stderr)
    return 1 if problems else 0


def _check(args, config, config_error: str = "") -> int:
    from .tools.check import report, run_checks

    results = run_checks(config, config_error, args.camera, args.headless)
    print(report(results, args.json))
    return 0 if all(r.ok for r in results) else 1


def _average(args, config) -> int:
    from .training.average import average_runs

    print(average_runs(args.runs, args.out, args.data, args.precision, config, args.of))
    return 0


def _pairs(args, config) -> int:
    from .training.pairs import pair_report

    print(pair_report(args.runs, args.data, config))
    return 0


def _export(args, config) -> int:
    from .training.train import export_checkpoint

    print(export_checkpoint(args.out or config.models_dir, args.data, args.precision, config, args.network))
    return 0
