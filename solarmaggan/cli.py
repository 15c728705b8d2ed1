"""The ``solarmaggan`` command line.

Subcommands:
    summary   build the seed's networks and print their layer tables and parameter counts
    info      describe an HDF5 pair file (as ``python -m data_prep info``)
    toysun    write a synthetic toy-Sun pair file (as ``python -m data_prep toysun``)
    prep      FITS files -> aligned, normalised HDF5 pairs (as ``python -m data_prep prep``)

``solarmaggan --version`` and ``--help`` answer without importing TensorFlow.
"""

from __future__ import annotations

import argparse
import os
import sys

from data_prep.__main__ import (
    add_info_arguments,
    add_prep_arguments,
    add_toysun_arguments,
    run_handler,
)
from solarmaggan._version import __version__


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

    summary = commands.add_parser(
        "summary", help="print the layer tables and parameter counts of the networks"
    )
    summary.add_argument("--image-size", type=int, default=1024, help="pixels a side (1024)")
    summary.add_argument("--input-channels", type=int, default=1, help="EUV channels (1)")
    summary.add_argument("--output-channels", type=int, default=1, help="magnetogram channels (1)")
    summary.add_argument("--depth", type=int, default=None, help="U-Net levels (down to 4x4)")
    summary.add_argument("--norm", choices=["batch", "instance"], default="batch")
    summary.set_defaults(handler=run_summary)

    add_info_arguments(commands.add_parser("info", help="describe an HDF5 pair file"))
    add_toysun_arguments(
        commands.add_parser("toysun", help="write a synthetic toy-Sun pair file (no downloads)")
    )
    add_prep_arguments(commands.add_parser(
        "prep", help="FITS files (AIA 304, HMI) -> aligned, normalised HDF5 pairs"))
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return run_handler(args, "solarmaggan")


if __name__ == "__main__":
    sys.exit(main())
