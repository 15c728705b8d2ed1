"""Command line of data_prep (no TensorFlow needed): ``python -m data_prep COMMAND``.

Commands:
    info FILE       describe an HDF5 pair file (shapes, channels, scaling, splits, times)
    toysun OUT      write a synthetic "toy Sun" pair file
    toysun campaign OUT   the toy Sun seen by SDO, STEREO-like spacecraft and Solar Orbiter:
                    instrument FITS files and the truth
    prep            FITS folders (AIA/EUVI, HMI) -> HDF5 pair file, with a preset
"""

from __future__ import annotations

import argparse
import sys

from data_prep.presets import preset_names
from data_prep.scheduler import add_scheduler_argument


class HelpFormatter(argparse.HelpFormatter):
    """argparse's help with each option's default shown once, when it has a meaningful one:
    from the argument's own default (a sequence as it is typed, ``180 360``), unless the
    help text already says what the default is (``default: the preset's``)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        shown = not any(action.default is value for value in (None, False, argparse.SUPPRESS))
        if shown and "default" not in text and action.option_strings:  # 0 is a default
            text += f" (default: {default_text(action.default)})".replace("%", "%%")
        return text


def default_text(default) -> str:
    """An option's default as the user would type it: ``180 360`` for a sequence."""
    if isinstance(default, (list, tuple)):
        return " ".join(str(value) for value in default)
    return str(default)


def preset_help() -> str:
    """Help text of a --preset option: the presets shipped in data_prep/presets."""
    return f"preset name ({', '.join(preset_names())}) or a JSON file of the same shape"


def add_command(commands, name: str, help: str) -> argparse.ArgumentParser:
    """A subcommand's parser, showing defaults in its help."""
    return commands.add_parser(name, help=help, description=help, formatter_class=HelpFormatter)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m data_prep", description="Solar FITS files to HDF5 training pairs."
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    add_info_arguments(add_command(commands, "info", "describe an HDF5 pair file"))
    add_toysun_arguments(add_command(commands, "toysun", "write a synthetic toy-Sun pair file"))
    add_campaign_arguments(add_campaign_command(commands, "python -m data_prep"))
    add_prep_arguments(add_command(commands, "prep", "FITS files -> HDF5 pair file"))
    return parser


def add_prep_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", default="kim2019", help=preset_help())
    parser.add_argument("--euv", nargs="+", required=True,
                        help="EUV FITS files or folders (AIA 304; with a multi-channel preset "
                             "such as jeong2020 the files of every channel, mixed: each "
                             "file's header decides its channel)")
    parser.add_argument("--magnetogram", nargs="+", required=True,
                        help="HMI line-of-sight magnetogram FITS files or folders")
    parser.add_argument("--out", required=True, help="HDF5 pair file to write or resume")
    parser.add_argument("--image-size", type=int,
                        help="output pixels a side, a power of two >= 32 (default: the preset's)")
    parser.add_argument("--radius-px", type=float,
                        help="solar radius in pixels (default: the preset's)")
    parser.add_argument("--limit-gauss", type=float, dest="magnetogram_limit_gauss",
                        help="magnetogram clip limit, G (default: the preset's, 100 for kim2019)")
    parser.add_argument("--tolerance-s", type=float, dest="pair_tolerance_s",
                        help="largest EUV-magnetogram time difference, s "
                             "(default: the preset's, 300)")
    parser.add_argument("--any-wavelength", action="store_true",
                        help="accept EUV files of any wavelength (research use)")
    parser.add_argument("--degradation-table", help="AIA degradation table for aiapy (optional)")
    parser.add_argument("--latitude-channel", action=argparse.BooleanOptionalAction,
                        default=None,
                        help="store sin(heliographic latitude) of each pixel, from the EUV "
                             "image's B0, as one more input channel (default: the preset's; "
                             "on in quick_latitude and quick_reference)")
    parser.add_argument("--reference-pair", action=argparse.BooleanOptionalAction,
                        default=None,
                        help="AISFM 3.0's reference pair: each pair also gets an earlier AIA + "
                             "HMI pair of the files given, --reference-lag-days old, rotated "
                             "to its time and view, as three more input channels (default: the "
                             "preset's; on in quick_reference)")
    parser.add_argument("--reference-lag-days", type=float, nargs=2, metavar=("LOW", "HIGH"),
                        help="the reference's age, days, drawn uniformly (default: the "
                             "preset's, 6.5 40.5)")
    parser.add_argument("--val-months", type=int, nargs="+",
                        help="validation months (default: the preset's, 8)")
    parser.add_argument("--test-months", type=int, nargs="+",
                        help="test months (default: the preset's, 9 10)")
    parser.add_argument("--workers", type=int, default=None,
                        help="processes, local or of a --scheduler dask cluster (default: all "
                             "cores)")
    add_scheduler_argument(parser)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(handler=run_prep)


def add_info_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="HDF5 pair file")
    parser.set_defaults(handler=run_info)


def add_toysun_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = ("toysun campaign OUT [...] writes the toy Sun as instrument FITS files "
                     "instead (see toysun campaign --help)")
    parser.add_argument("out", help="HDF5 file to write")
    parser.add_argument("--n-pairs", type=int, default=64, help="number of pairs")
    parser.add_argument("--image-size", type=int, default=256,
                        help="pixels a side: a power of two >= 32, as the networks take")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument("--channels", nargs="+", metavar="CHANNEL",
                        help="EUV input channels in order, by wavelength or name: 304 193 171 "
                             "(default: the preset's, else 304 only)")
    parser.add_argument("--preset",
                        help=f"scale as prep does with this preset ({', '.join(preset_names())}; "
                             "e.g. jeong2020: 3 channels, "
                             "median 100 DN/s, log10 of 1-200 DN/s, +-3000 G, radius 450/1024 "
                             "of the frame); default: the seed's 304 scaling, +-100 G")
    parser.set_defaults(handler=run_toysun)


CAMPAIGN_COMMAND = "toysun-campaign"  # what ``toysun campaign`` is parsed as


def route_campaign(argv: list[str] | None) -> list[str]:
    """The command line with ``toysun campaign ...`` turned into the campaign subcommand
    (``toysun OUT`` keeps its positional OUT, so the campaign is routed before parsing)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:2] == ["toysun", "campaign"]:
        return [CAMPAIGN_COMMAND, *argv[2:]]
    return argv


def add_campaign_command(commands, program: str) -> argparse.ArgumentParser:
    """The ``toysun campaign`` parser (also reachable as ``toysun-campaign``)."""
    text = ("the toy Sun observed by SDO (AIA, HMI), STEREO-like spacecraft (EUVI) and Solar "
            "Orbiter (EUI/FSI level 2, the truth as SO/PHI-FDT would see it): instrument FITS "
            "files, truth magnetograms and Carrington maps")
    return commands.add_parser(CAMPAIGN_COMMAND, help=f"(toysun campaign OUT) {text}",
                               description=text, prog=f"{program} toysun campaign",
                               formatter_class=HelpFormatter)


def add_campaign_arguments(parser: argparse.ArgumentParser) -> None:
    from data_prep.toysun.campaign import AIA_CHANNELS, CampaignSettings

    defaults = CampaignSettings()
    parser.add_argument("out", help="output folder (resumed if it holds this campaign)")
    parser.add_argument("--start", default=defaults.start[:10], help="first time (ISO 8601, UTC)")
    parser.add_argument("--days", type=float, default=defaults.days, help="length in days")
    parser.add_argument("--cadence-hours", type=float, default=defaults.cadence_hours,
                        help="hours between observations")
    parser.add_argument("--observer", nargs="+", action="extend", metavar="OBSERVER",
                        help="earth, stereo-a, stereo-b, [NAME=]LON,LAT,AU (Stonyhurst deg, au), "
                             "solo=LON,LAT,AU (Solar Orbiter with EUI/FSI, 0.28-1 au; also "
                             "solar-orbiter=, solo-NAME=) or a FITS file (its observer and "
                             "detector; an EUI/FSI file makes a Solar Orbiter observer); several "
                             "values, and the option may be repeated (default: earth stereo-a "
                             "stereo-b)")
    parser.add_argument("--far-side-every", type=int, default=defaults.far_side_every,
                        help="far-side observers (STEREO-like, Solar Orbiter) observe every N-th time")
    parser.add_argument("--size", type=int, default=defaults.size,
                        help="detector pixels a side (each instrument's full field of view)")
    parser.add_argument("--channels", type=int, nargs="+", default=list(defaults.channels),
                        choices=AIA_CHANNELS, metavar="A",
                        help="AIA channels 304 [193 171]; EUVI observes 304 [195 171], EUI/FSI 304 [174]")
    parser.add_argument("--seed", type=int, default=defaults.seed, help="the Sun's seed")
    parser.add_argument("--workers", type=int, default=None,
                        help="processes rendering times in parallel, local or of a --scheduler "
                             "dask cluster (default: all cores)")
    add_scheduler_argument(parser)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(handler=run_campaign_command)


def run_campaign_command(args: argparse.Namespace) -> int:
    from data_prep.toysun.campaign import CampaignSettings, run_campaign

    settings = CampaignSettings(
        start=args.start, days=args.days, cadence_hours=args.cadence_hours,
        observers=tuple(args.observer or CampaignSettings().observers),
        far_side_every=args.far_side_every, size=args.size, channels=tuple(args.channels),
        seed=args.seed)
    record = run_campaign(args.out, settings, progress=not args.quiet, workers=args.workers,
                          scheduler=args.scheduler)
    print(f"{args.out}: {len(record['times'])} times from {record['times'][0]} to "
          f"{record['times'][-1]}; observers {', '.join(record['observers'])}; "
          f"see {args.out}/campaign.json")
    return 0


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
    """Run the chosen command; bad input (ValueError, OSError) ends in an error on stderr,
    one line per problem naming the file or setting, and exit status 2, not a traceback."""
    try:
        return args.handler(args)
    except (ValueError, OSError) as error:
        for line in str(error).splitlines() or [type(error).__name__]:
            print(f"{program} {args.command}: error: {line}", file=sys.stderr)
        return 2


def run_prep(args: argparse.Namespace) -> int:
    from data_prep.prep import PrepSettings, build_pair_file, summary_text

    overrides = {key: getattr(args, key) for key in (
        "image_size", "radius_px", "magnetogram_limit_gauss", "pair_tolerance_s",
        "degradation_table", "latitude_channel", "reference_pair")}
    overrides["reference_lag_days"] = (tuple(args.reference_lag_days)
                                       if args.reference_lag_days else None)
    overrides["val_months"] = tuple(args.val_months) if args.val_months else None
    overrides["test_months"] = tuple(args.test_months) if args.test_months else None
    settings = PrepSettings.from_preset(args.preset, **overrides)
    if args.any_wavelength:
        settings = settings.any_wavelength()
    record = build_pair_file(args.euv, args.magnetogram, args.out, settings,
                             workers=args.workers, progress=not args.quiet,
                             scheduler=args.scheduler)
    print(summary_text(record))
    return 0 if record["samples"] else 1


def main(argv: list[str] | None = None) -> int:
    return run_handler(build_parser().parse_args(route_campaign(argv)), "python -m data_prep")


if __name__ == "__main__":
    sys.exit(main())
