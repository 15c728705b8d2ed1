"""The ``solarmaggan`` command line.

Subcommands::

    summary   build the seed's networks and print their layer tables and parameter counts
    info      describe an HDF5 pair file (as python -m data_prep info)
    toysun    write a synthetic toy-Sun pair file (as python -m data_prep toysun);
              toysun campaign OUT: instrument FITS files of the toy Sun and the truth
    prep      FITS files -> aligned, normalised HDF5 pairs (as python -m data_prep prep)
    train     train (or resume) a model on an HDF5 pair file, with a preset
    evaluate  the field's metrics of a trained model on an HDF5 split, or of generated
              magnetogram FITS files against true ones (--generated, --truth); report, figures
    generate  EUV FITS (EUVI or EUI/FSI far side, AIA near side; 304, or 304/195|193/171 sets for
              three-channel models) -> magnetogram FITS + PNG
    export    a trained generator -> SavedModel (serving) and TFLite, with parity checks
    synchronic  line-of-sight magnetograms (HMI, AI far side, ...) -> a full-Sun B_r map
              (CEA, Carrington or Stonyhurst) with SOURCE and AGE layers and a PNG
    pfss      a full-Sun B_r map -> the PFSS corona (sunkit-magex): source-surface field,
              current sheet, open-field map, summary and figures
    transport a full-Sun B_r map -> the same map evolved to a later time by surface flux
              transport (no TensorFlow)
    assimilate  observed and AI far-side magnetograms over time -> a sequence of full-Sun
              maps: SFT state updated by inverse variance, UNCERTAINTY and AGE layers
    regions   line-of-sight magnetograms and full-Sun maps -> tracked active regions with
              flux ranges and east-limb arrival forecasts (no TensorFlow)
    bulletin  tracked regions, their arrival forecasts and a full-Sun map -> the forecasters'
              bulletin: a figure, a self-contained HTML page and a JSON record (no TensorFlow)
    demo      every stage on the built-in toy Sun, on a CPU

``solarmaggan --version`` and ``--help`` answer without importing TensorFlow. Each command
checks its settings and paths first (a wrong path or setting is answered at once), then
loads TensorFlow without its start-up lines (``--verbose`` keeps them; see
``solarmaggan.console``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from data_prep.__main__ import (
    add_command,
    add_info_arguments,
    add_prep_arguments,
    add_campaign_arguments,
    add_campaign_command,
    add_toysun_arguments,
    route_campaign,
    preset_help,
    run_handler,
)
from data_prep.geometry import check_image_size
from data_prep.presets.schema import LR_SCHEDULES, NORMS, PRECISIONS, STRATEGIES
from data_prep.scheduler import add_scheduler_argument, check_scheduler
from solarmaggan._version import __version__
from solarmaggan.console import configure, load_tensorflow
from solarmaggan.fullsun import assimilation, pfss, synchronic, transport
from solarmaggan.regions import bulletin, catalogue


def layer_table(model) -> list[tuple[str, str, str, int]]:
    """(name, layer type, output shape without batch, parameters) for each layer of a model."""
    rows = []
    for layer in model.layers:
        shape = "x".join(str(n) for n in layer.output.shape[1:])
        rows.append((layer.name, type(layer).__name__, shape, layer.count_params()))
    return rows


def format_table(title: str, rows: list[tuple[str, str, str, int]]) -> str:
    """Render a layer table as Markdown."""
    lines = [f"### {title}", "", "| layer | type | output (H x W x C) | parameters |", "|---|---|---|---:|"]
    lines += [f"| {name} | {kind} | {shape} | {params:,} |" for name, kind, shape, params in rows]
    lines.append(f"| **total** | | | **{sum(row[3] for row in rows):,}** |")
    return "\n".join(lines)


def run_summary(args: argparse.Namespace) -> int:
    check_image_size(args.image_size)
    load_tensorflow()
    from solarmaggan.models import build_discriminator, build_generator, receptive_field

    generator = build_generator(
        args.image_size, args.input_channels, args.output_channels, depth=args.depth, norm=args.norm
    )
    discriminator = build_discriminator(
        args.image_size, args.input_channels, args.output_channels, norm=args.norm
    )
    patch = discriminator.output.shape[1:3]
    print(format_table(f"U-Net generator at {args.image_size} x {args.image_size}", layer_table(generator)))
    print()
    print(format_table(f"PatchGAN discriminator at {args.image_size} x {args.image_size}", layer_table(discriminator)))
    print()
    print(f"generator parameters:     {generator.count_params():,}")
    print(f"discriminator parameters: {discriminator.count_params():,}")
    print(f"patch map: {patch[0]} x {patch[1]}, receptive field {receptive_field(discriminator)} px")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="solarmaggan",
        description=(
            "Solar magnetograms from EUV images with the pix2pix conditional GAN of "
            "Kim et al. (2019, Nature Astronomy), in Keras 3 / TensorFlow."
        ),
    )
    parser.add_argument("--version", action="version", version=f"solarmaggan {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    summary = add_command(commands, "summary",
                          "print the layer tables and parameter counts of the networks")
    summary.add_argument("--image-size", type=int, default=1024,
                         help="pixels a side, a power of two >= 32")
    summary.add_argument("--input-channels", type=int, default=1, help="EUV channels")
    summary.add_argument("--output-channels", type=int, default=1, help="magnetogram channels")
    summary.add_argument("--depth", type=int, default=None,
                         help="U-Net levels (default: down to 4x4)")
    summary.add_argument("--norm", choices=NORMS, default="batch", help="normalisation layers")
    summary.set_defaults(handler=run_summary)

    add_info_arguments(add_command(commands, "info", "describe an HDF5 pair file"))
    add_toysun_arguments(add_command(commands, "toysun",
                                     "write a synthetic toy-Sun pair file (no downloads)"))
    add_campaign_arguments(add_campaign_command(commands, "solarmaggan"))
    add_prep_arguments(add_command(commands, "prep",
                                   "FITS files (AIA 304, HMI) -> aligned, normalised HDF5 pairs"))
    add_train_arguments(add_command(
        commands, "train", "train or resume a model on an HDF5 pair file (TensorBoard logs)"))
    add_evaluate_arguments(add_command(
        commands, "evaluate", "metrics of a trained model on an HDF5 split, or of generated "
        "magnetogram FITS files against the truth (report.json, figures)"))
    add_generate_arguments(add_command(
        commands, "generate", "EUV FITS files -> AI-generated magnetogram FITS and PNG"))
    add_export_arguments(add_command(
        commands, "export", "trained generator -> SavedModel and TFLite (saved_models/NAME)"))
    synchronic_command = add_command(
        commands, "synchronic", "line-of-sight magnetograms from any observers (observed and "
        "AI far side) -> a synchronic full-Sun B_r map (FITS + PNG)")
    synchronic.add_arguments(synchronic_command)
    synchronic_command.set_defaults(handler=synchronic.run)
    pfss_command = add_command(
        commands, "pfss", "a full-Sun B_r map -> the PFSS corona: source-surface field, current "
        "sheet, open-field map (sunkit-magex)")
    pfss.add_arguments(pfss_command)
    pfss_command.set_defaults(handler=pfss.run)
    transport_command = add_command(
        commands, "transport", "a full-Sun B_r map -> the same map evolved to a later time by "
        "surface flux transport (differential rotation, meridional flow, diffusion)")
    transport.add_arguments(transport_command)
    transport_command.set_defaults(handler=transport.run)
    assimilate_command = add_command(
        commands, "assimilate", "observed and AI far-side magnetograms over time -> a sequence of "
        "full-Sun maps (surface flux transport + per-pixel inverse-variance update)")
    assimilation.add_arguments(assimilate_command)
    assimilate_command.set_defaults(handler=assimilation.run)
    regions_command = add_command(
        commands, "regions", "line-of-sight magnetograms and full-Sun maps -> a tracked catalogue "
        "of active regions (regions.csv) and east-limb arrival forecasts (arrivals.csv)")
    catalogue.add_arguments(regions_command)
    regions_command.set_defaults(handler=catalogue.run)
    bulletin_command = add_command(
        commands, "bulletin", "regions.csv and arrivals.csv (solarmaggan regions) and a full-Sun "
        "map -> the forecasters' bulletin: bulletin.png, a self-contained bulletin.html, "
        "bulletin.json")
    bulletin.add_arguments(bulletin_command)
    bulletin_command.set_defaults(handler=bulletin.run)
    demo = add_command(commands, "demo", "the whole system on the built-in toy Sun (CPU)")
    demo.add_argument("--out", default="demo", help="output folder")
    demo.add_argument("--small", action="store_true",
                      help="64 x 64, shallow network, 60 steps: ~15 s (a plumbing check)")
    demo.add_argument("--seed", type=int, default=0, help="random seed of data and training")
    demo.add_argument("--quiet", action="store_true", help="no progress bars")
    demo.set_defaults(handler=run_demo_command)
    for command in commands.choices.values():
        command.add_argument("--verbose", action="store_true",
                             help="also show the libraries' start-up and log lines "
                                  "(or set SOLARMAGGAN_VERBOSE=1)")
    return parser


def run_demo_command(args: argparse.Namespace) -> int:
    load_tensorflow()
    from solarmaggan.demo import run_demo

    run_demo(args.out, small=args.small, seed=args.seed, progress=not args.quiet)
    return 0


def add_model_arguments(parser: argparse.ArgumentParser, batch_size: bool = True,
                        required: bool = True, ensemble: bool = False) -> None:
    """``--model`` (a run directory or generator file; with ``ensemble`` it may be given
    more than once) and, optionally, ``--batch-size``: the options shared by every command
    that runs a trained generator."""
    parser.add_argument("--model", required=required, action="append" if ensemble else "store",
                        help="run directory (its best generator) or generator .keras file "
                             "(config.json beside it)" + (
                                 "; repeat it for an ensemble (with --samples)" if ensemble
                                 else ""))
    if batch_size:
        parser.add_argument("--batch-size", type=int, default=4, help="images a batch")


def sample_count(text: str) -> int:
    """``--samples``: an integer >= 2 (argparse type)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer >= 2, got {text!r}") from None
    if value < 2:
        raise argparse.ArgumentTypeError(f"must be an integer >= 2, got {text!r}")
    return value


def add_sampling_arguments(parser: argparse.ArgumentParser) -> None:
    """``--samples``, ``--dropout`` and ``--seed``: per-pixel uncertainty from samples
    (Monte Carlo dropout and/or an ensemble of the ``--model`` runs; solarmaggan.sampling)."""
    parser.add_argument("--samples", type=sample_count, default=None, metavar="N",
                        help="draw N magnetograms an input (dropout active, and/or one "
                             "--model after another) and report their spread")
    parser.add_argument("--dropout", action=argparse.BooleanOptionalAction, default=None,
                        help="dropout active while sampling (default: when the models have it)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the dropout masks")


def resolve_models(models: list[str]) -> list[str]:
    """Check every ``--model`` of a command before TensorFlow loads."""
    from solarmaggan.model_files import resolve_model_path

    for model in models:
        resolve_model_path(model)
    return models


def existing_file(path: str, what: str) -> Path:
    """``path`` as a Path; FileNotFoundError naming it unless it is a file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such {what}" if not path.exists()
                                else f"{path}: not a file ({what} expected)")
    return path


def check_pair_file(path: str) -> None:
    """Refuse, before TensorFlow loads, a missing or unreadable HDF5 pair file."""
    from data_prep.pairs import PairFile

    with PairFile(existing_file(path, "pair file")):
        pass


def add_export_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser, batch_size=False)
    parser.add_argument("--format", default="all",
                        choices=["savedmodel", "tflite", "tflite-fp16", "tflite-int8", "all"])
    parser.add_argument("--out", default=None, help="export folder (saved_models/<run name>)")
    parser.add_argument("--which", choices=["best", "last"], default="best",
                        help="a run directory's best or last generator (best)")
    parser.add_argument("--samples", type=export_samples, default=None, metavar="N",
                        help="passes of the magnetogram_samples signature (Monte Carlo "
                             "dropout; default 10 for models with dropout; 0: no such "
                             "signature)")
    parser.set_defaults(handler=run_export)


def export_samples(text: str) -> int:
    """``export --samples``: 0 (no samples signature) or an integer >= 2 (argparse type)."""
    return 0 if text.strip() == "0" else sample_count(text)


def run_export(args: argparse.Namespace) -> int:
    from solarmaggan.model_files import resolve_model_path

    resolve_model_path(args.model, args.which)
    load_tensorflow()
    from solarmaggan.export import export

    manifest = export(args.model, args.out, args.format, args.which, samples=args.samples)
    print(f"exported {manifest['source_model']} to {manifest['out']}")
    for name, size in manifest["files_bytes"].items():
        print(f"  {name}: {size / 2**20:.1f} MiB")
    print("  parity (max |difference| vs Keras, normalised units): " + ", ".join(
        f"{key} {value:.2e}" for key, value in manifest["parity_max_abs"].items()))
    for kind, meaning in manifest["inference"].items():
        print(f"  {kind}: {meaning}")
    return 0


def add_evaluate_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser, required=False, ensemble=True)  # with --data: the HDF5 mode
    parser.add_argument("--data", help="HDF5 pair file (with --model)")
    parser.add_argument("--generated", metavar="DIR",
                        help="FITS mode, with --truth instead of --model/--data: folder of "
                             "magnetogram FITS files written by `solarmaggan generate`")
    parser.add_argument("--truth", metavar="DIR",
                        help="FITS mode: folder, searched recursively, of true line-of-sight "
                             "magnetogram FITS files (any detector; matched by observer and "
                             "time; other files skipped)")
    parser.add_argument("--tolerance-s", type=float, default=None,
                        help="FITS mode: largest generated-truth time difference, s "
                             "(default 60)")
    parser.add_argument("--split", default="test", choices=["train", "val", "test"],
                        help="the split to evaluate (HDF5 mode)")
    parser.add_argument("--out", required=True, help="folder for report.json and figures")
    parser.add_argument("--examples", type=int, default=4, help="example rows in examples.png")
    parser.add_argument("--disk-fraction", type=float, default=None,
                        help="pixels within this fraction of R_sun count (default: the "
                             "model's data.disk_rsun, 0.95 in every preset; FITS mode 0.95)")
    parser.add_argument("--bin-factor", type=int, default=8, help="binning for binned metrics")
    parser.add_argument("--active-threshold", type=float, default=50.0, dest="active_threshold_gauss",
                        help="active regions: binned pixels whose unsigned field is at least this, G")
    parser.add_argument("--flux-threshold", type=float, default=10.0, dest="flux_threshold_gauss",
                        help="fluxes count pixels whose unsigned field exceeds this, G (as the original)")
    parser.add_argument("--deproject", action="store_true", help="fluxes de-projected by 1/mu")
    parser.add_argument("--tensorboard", action="store_true", help="also write OUT/logs")
    add_sampling_arguments(parser)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(handler=run_evaluate)


def run_evaluate(args: argparse.Namespace) -> int:
    if args.generated is not None or args.truth is not None:
        return run_evaluate_fits(args)
    if args.model is None or args.data is None:
        raise ValueError("--model and --data (an HDF5 split) are required, or --generated and "
                         "--truth (magnetogram FITS files)")
    if args.tolerance_s is not None:
        raise ValueError("--tolerance-s is for FITS files (--generated and --truth)")
    models = resolve_models(args.model)
    if len(models) > 1 and args.samples is None:
        raise ValueError("several --model (an ensemble) need --samples")
    check_pair_file(args.data)
    load_tensorflow()
    from solarmaggan.evaluate import evaluate, large_scale_table, summary_table, uncertainty_table

    report = evaluate(
        models, args.data, args.out, split=args.split, batch_size=args.batch_size,
        examples=args.examples, tensorboard=args.tensorboard, progress=not args.quiet,
        disk_fraction=args.disk_fraction, bin_factor=args.bin_factor,
        active_threshold_gauss=args.active_threshold_gauss,
        flux_threshold_gauss=args.flux_threshold_gauss, deproject=args.deproject,
        samples=args.samples, dropout=args.dropout, seed=args.seed,
    )
    print(summary_table(report))
    print(large_scale_table(report))
    if "uncertainty" in report:
        print(uncertainty_table(report))
    print(f"report: {args.out}/report.json; figures: {', '.join(report['figures'])}")
    return 0


def run_evaluate_fits(args: argparse.Namespace) -> int:
    """``evaluate --generated DIR --truth DIR``: generated magnetogram FITS files against
    the truth (see solarmaggan.evaluate_fits); inputs checked before TensorFlow loads."""
    from solarmaggan.evaluate_fits import read_inputs

    if args.model is not None or args.data is not None:
        raise ValueError("--generated and --truth (FITS files) exclude --model and --data "
                         "(an HDF5 split)")
    if args.generated is None or args.truth is None:
        raise ValueError("--generated and --truth go together")
    if args.dropout is not None:
        raise ValueError("--dropout is for sampling a model (--model and --data); the FITS "
                         "mode reads the samples generate --samples --keep-samples wrote")
    read_inputs(args.generated, args.truth)
    load_tensorflow()
    from solarmaggan.evaluate import group_table, large_scale_table, summary_table, uncertainty_table
    from solarmaggan.evaluate_fits import evaluate_fits

    report = evaluate_fits(
        args.generated, args.truth, args.out, disk_fraction=args.disk_fraction,
        bin_factor=args.bin_factor, examples=args.examples, progress=not args.quiet,
        tolerance_s=args.tolerance_s, samples=args.samples,
        tensorboard=args.tensorboard, active_threshold_gauss=args.active_threshold_gauss,
        flux_threshold_gauss=args.flux_threshold_gauss, deproject=args.deproject,
    )
    print(summary_table(report))
    print(large_scale_table(report))
    print(group_table(report))
    if "uncertainty" in report:
        print(uncertainty_table(report))
    for entry in report["unmatched"]:
        print(f"unmatched: {entry['reason']}")
    print(f"{len(report['per_image'])} pairs, {len(report['unmatched'])} generated files "
          f"unmatched; {len(report['truth_unused'])} true magnetograms unused, "
          f"{len(report['truth_skipped'])} other files in {args.truth} skipped")
    print(f"report: {args.out}/report.json; figures: {', '.join(report['figures'])}")
    return 0


def add_generate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", metavar="INPUT",
                        help="EUVI, EUI/FSI (level 2) or AIA FITS files or folders: 304 A for "
                             "a one-channel model; 304, 195 (EUVI) or 193 (AIA) and 171 A for "
                             "a three-channel model (grouped by header time)")
    add_model_arguments(parser, ensemble=True)
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    parser.add_argument("--off-disk", choices=["nan", "zero"], default="nan",
                        help="value beyond the disk")
    parser.add_argument("--no-quicklook", action="store_true", help="no PNG")
    parser.add_argument("--any-wavelength", action="store_true",
                        help="accept any wavelength (one-channel models)")
    parser.add_argument("--tolerance-s", type=float, default=None,
                        help="three-channel models: largest time difference within a set of "
                             "files, seconds (default: the model's pair_tolerance_s; EUVI 171 "
                             "is often taken only every 2 hours)")
    parser.add_argument("--histogram-reference", metavar="AIA_FITS", default=None,
                        help="match far-side intensities (EUVI, EUI/FSI) to this AIA image's "
                             "on-disk histogram instead of scaling their median (one-channel "
                             "models)")
    parser.add_argument("--reference-archive", metavar="PATH", nargs="+", default=None,
                        help="models with the reference pair (AISFM 3.0): SDO/AIA + HMI files "
                             "or folders; each input takes the most recent pair in which the "
                             "same part of the Sun faced Earth, rotated to its time and view")
    parser.add_argument("--reference-max-offset", metavar="DEG", type=float, default=15.0,
                        help="models with the reference pair: how far the pair's Earth-facing "
                             "central meridian may lie from the input's disk centre, degrees "
                             "(default 15, for a pair a day or more; about 6.6 N for one pair "
                             "every N days)")
    parser.add_argument("--no-reference", action="store_true",
                        help="models with the reference pair: run without one (its channels "
                             "0, as for a part of the Sun never seen from Earth)")
    add_sampling_arguments(parser)
    parser.add_argument("--keep-samples", action="store_true",
                        help="with --samples: also write the samples (SAMPLES extension)")
    add_scheduler_argument(parser)
    parser.add_argument("--workers", type=int, default=None,
                        help="--scheduler dask: worker processes of the local cluster (default: "
                             "all cores); with 'processes' generate runs in this process, on "
                             "every core")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(handler=run_generate)


def run_generate(args: argparse.Namespace) -> int:
    from data_prep.pairing import require_fits_files

    models = resolve_models(args.model)
    if len(models) > 1 and args.samples is None:
        raise ValueError("several --model (an ensemble) need --samples")
    if args.keep_samples and args.samples is None:
        raise ValueError("--keep-samples needs --samples")
    require_fits_files(args.inputs)
    if args.histogram_reference is not None:
        require_fits_files([args.histogram_reference])
    if args.reference_archive is not None:
        require_fits_files(args.reference_archive, "reference archive")
    check_scheduler(args.scheduler)
    load_tensorflow()
    from solarmaggan.generate import generate

    report = generate(models, args.inputs, args.out, batch_size=args.batch_size,
                      overwrite=args.overwrite, off_disk=args.off_disk,
                      quicklook=not args.no_quicklook, any_wavelength=args.any_wavelength,
                      progress=not args.quiet, tolerance_s=args.tolerance_s,
                      samples=args.samples, dropout=args.dropout,
                      keep_samples=args.keep_samples, seed=args.seed,
                      histogram_reference=args.histogram_reference,
                      reference_archive=args.reference_archive, no_reference=args.no_reference,
                      reference_max_offset_deg=args.reference_max_offset,
                      scheduler=args.scheduler, workers=args.workers)
    print(f"{len(report['written'])} magnetograms written to {args.out}, "
          f"{len(report['skipped'])} already there, {len(report['failed'])} failed")
    for failure in report["failed"]:
        print(f"solarmaggan generate: error: {failure['reason']}", file=sys.stderr)
    if not report["failed"]:
        return 0
    return 1 if report["written"] or report["skipped"] else 2  # 2: nothing could be used


# command-line shortcuts for common training settings: option -> (section.key, type,
# allowed values)
TRAIN_SHORTCUTS = {
    "steps": ("training.steps", int, None),
    "batch_size": ("training.batch_size", int, None),
    "precision": ("training.precision", str, PRECISIONS),
    "steps_per_execution": ("training.steps_per_execution", int, None),
    "lr_schedule": ("training.lr_schedule", str, LR_SCHEDULES),
    "decay_steps": ("training.decay_steps", int, None),
    "seed": ("training.seed", int, None),
    "validation_every": ("training.validation_every", int, None),
    "validation_pairs": ("training.validation_pairs", int, None),
    "checkpoint_every": ("training.checkpoint_every", int, None),
    "strategy": ("training.strategy", str, STRATEGIES),
}


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", default="quick", help=preset_help())
    parser.add_argument("--data", required=True,
                        help="HDF5 pair file (solarmaggan prep / toysun); its image size and "
                             "solar radius become data.image_size and data.radius_px")
    parser.add_argument("--run-dir", required=True,
                        help="run directory: config, checkpoints, best generator, logs/")
    parser.add_argument("--resume", action="store_true",
                        help="require a checkpoint to continue from (re-running resumes anyway)")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override any preset setting, e.g. --set model.depth=6 (repeatable)")
    for option, (key, kind, choices) in TRAIN_SHORTCUTS.items():
        parser.add_argument("--" + option.replace("_", "-"), type=kind, choices=choices,
                            help=f"sets {key} (default: the preset's)")
    parser.add_argument("--xla", action=argparse.BooleanOptionalAction, default=None,
                        help="XLA-compile the training step (training.xla)")
    parser.add_argument("--deterministic", action=argparse.BooleanOptionalAction, default=None,
                        help="deterministic TensorFlow ops (training.deterministic)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(handler=run_train)


def train_overrides(args: argparse.Namespace) -> list[str]:
    """``--set`` overrides followed by those of the shortcut options that were given."""
    overrides = list(args.set)
    for option, (key, _, _) in TRAIN_SHORTCUTS.items():
        value = getattr(args, option)
        if value is not None:
            overrides.append(f"{key}={json.dumps(value)}")
    for option in ("xla", "deterministic"):
        if getattr(args, option) is not None:
            overrides.append(f"training.{option}={json.dumps(getattr(args, option))}")
    return overrides


def run_train(args: argparse.Namespace) -> int:
    from solarmaggan.config import check_data, resolve_config

    check_pair_file(args.data)
    config = resolve_config(args.preset, train_overrides(args), data_file=args.data)
    check_data(args.data, config)
    load_tensorflow()
    from solarmaggan.training import train

    summary = train(config, args.data, args.run_dir, resume=args.resume, progress=not args.quiet)
    best = summary["best"]
    print(f"finished at step {summary['step']}; best validation pixel_cc "
          f"{best['pixel_cc']:.4f} at step {best['step']}; run directory {summary['run_dir']}")
    print(f"TensorBoard: tensorboard --logdir {summary['run_dir']}/logs")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(route_campaign(argv))
    if args.command is None:
        parser.print_help()
        return 0
    configure(args.verbose)
    return run_handler(args, "solarmaggan")


if __name__ == "__main__":
    sys.exit(main())
