"""Command line of data_prep (no TensorFlow needed): ``python -m data_prep COMMAND``.

Commands:
    info FILE       describe an HDF5 pair file (shapes, channels, scaling, splits, times)
    toysun OUT      write a synthetic "toy Sun" pair file
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
    return parser


def add_info_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="HDF5 pair file")
    parser.set_defaults(handler=run_info)


def add_toysun_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", help="HDF5 file to write")
    parser.add_argument("--n-pairs", type=int, default=64, help="number of pairs (64)")
    parser.add_argument("--image-size", type=int, default=256, help="pixels a side (256)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (0)")
    parser.set_defaults(handler=run_toysun)


def run_info(args: argparse.Namespace) -> int:
    from data_prep.pairs import describe

    print(describe(args.file))
    return 0


def run_toysun(args: argparse.Namespace) -> int:
    from data_prep.pairs import describe
    from data_prep.toysun import write_toy_dataset

    print(describe(write_toy_dataset(args.out, args.n_pairs, args.image_size, args.seed)))
    return 0


def run_handler(args: argparse.Namespace, program: str) -> int:
    """Run the chosen command; bad input (ValueError, OSError) ends in a one-line error on
    stderr and exit status 2, not a traceback."""
    try:
        return args.handler(args)
    except (ValueError, OSError) as error:
        print(f"{program} {args.command}: error: {error}", file=sys.stderr)
        return 2


def main(argv: list[str] | None = None) -> int:
    return run_handler(build_parser().parse_args(argv), "python -m data_prep")


if __name__ == "__main__":
    sys.exit(main())
