"""Command line of data_prep (no TensorFlow needed): ``python -m data_prep COMMAND``.

Commands:
    info FILE       describe an HDF5 pair file (shapes, channels, scaling, splits, times)
    toysun OUT      write a synthetic "toy Sun" pair file
    prep            FITS folders (AIA/EUVI, HMI) -> HDF5 pair file, with a preset
"""

from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m data_prep", description="Solar FITS files to HDF5 training pairs."
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    add_info_arguments(commands.add_parser("info", help="describe an HDF5 pair file"))
    add_toysun_arguments(commands.add_parser("toysun", help="write a synthetic toy-Sun pair file"))
    add_prep_arguments(commands.add_parser("prep", help="FITS files -> HDF5 pair file"))
    return parser


def add_prep_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", default="kim2019",
                        help="preset name (kim2019, quick) or JSON file (kim2019)")
    parser.add_argument("--euv", nargs="+", required=True,
                        help="EUV FITS files or folders (AIA 304; with a multi-channel preset "
                             "such as jeong2020 the files of every channel, mixed: each "
                             "file's header decides its channel)")
    parser.add_argument("--magnetogram", nargs="+", required=True,
                        help="HMI line-of-sight magnetogram FITS files or folders")
    parser.add_argument("--out", required=True, help="HDF5 pair file to write or resume")
    parser.add_argument("--image-size", type=int, help="output pixels a side (preset)")
    parser.add_argument("--radius-px", type=float, help="solar radius in pixels (preset)")
    parser.add_argument("--limit-gauss", type=float, dest="magnetogram_limit_gauss",
                        help="magnetogram clip limit, G (preset: 100)")
    parser.add_argument("--tolerance-s", type=float, dest="pair_tolerance_s",
                        help="largest EUV-magnetogram time difference, s (preset: 300)")
    parser.add_argument("--any-wavelength", action="store_true",
                        help="accept EUV files of any wavelength (research use)")
    parser.add_argument("--degradation-table", help="AIA degradation table for aiapy (optional)")
    parser.add_argument("--val-months", type=int, nargs="+", help="validation months (preset: 8)")
    parser.add_argument("--test-months", type=int, nargs="+", help="test months (preset: 9 10)")
    parser.add_argument("--workers", type=int, default=None, help="processes (all cores)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(handler=run_prep)


def add_info_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="HDF5 pair file")
    parser.set_defaults(handler=run_info)


def add_toysun_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", help="HDF5 file to write")
    parser.add_argument("--n-pairs", type=int, default=64, help="number of pairs (64)")
    parser.add_argument("--image-size", type=int, default=256, help="pixels a side (256)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (0)")
    parser.add_argument("--channels", nargs="+", metavar="CHANNEL",
                        help="EUV input channels in order, by wavelength or name: 304 193 171 "
                             "(default: the preset's, else 304 only)")
    parser.add_argument("--preset",
                        help="scale as prep does with this preset (e.g. jeong2020: 3 channels, "
                             "median 100 DN/s, log10 of 1-200 DN/s, +-3000 G, radius 450/1024 "
                             "of the frame); default: the seed's 304 scaling, +-100 G")
    parser.set_defaults(handler=run_toysun)


def run_info(args: argparse.Namespace) -> int:
    from data_prep.pairs import describe

    print(describe(args.file))
    return 0


def run_toysun(args: argparse.Namespace) -> int:
    from data_prep.pairs import describe
    from data_prep.toysun import write_toy_dataset

    print(describe(write_toy_dataset(args.out, args.n_pairs, args.image_size, args.seed,
                                     input_channels=args.channels, preset=args.preset)))
    return 0


def run_handler(args: argparse.Namespace, program: str) -> int:
    """Run the chosen command; bad input (ValueError, OSError) ends in a one-line error on
    stderr and exit status 2, not a traceback."""
    try:
        return args.handler(args)
    except (ValueError, OSError) as error:
        print(f"{program} {args.command}: error: {error}", file=sys.stderr)
        return 2


def run_prep(args: argparse.Namespace) -> int:
    from data_prep.prep import PrepSettings, build_pair_file, summary_text

    overrides = {key: getattr(args, key) for key in (
        "image_size", "radius_px", "magnetogram_limit_gauss", "pair_tolerance_s",
        "degradation_table")}
    overrides["val_months"] = tuple(args.val_months) if args.val_months else None
    overrides["test_months"] = tuple(args.test_months) if args.test_months else None
    settings = PrepSettings.from_preset(args.preset, **overrides)
    if args.any_wavelength:
        settings = settings.any_wavelength()
    record = build_pair_file(args.euv, args.magnetogram, args.out, settings,
                             workers=args.workers, progress=not args.quiet)
    print(summary_text(record))
    return 0 if record["samples"] else 1


def main(argv: list[str] | None = None) -> int:
    return run_handler(build_parser().parse_args(argv), "python -m data_prep")


if __name__ == "__main__":
    sys.exit(main())
