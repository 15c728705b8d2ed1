"""``toysun campaign``: the command line, resuming, determinism and refusals."""

import json
import subprocess
import sys

import pytest

from data_prep.__main__ import main as data_prep_main
from data_prep.toysun.campaign import CampaignSettings, run_campaign

SMALL = ["--days", "2", "--size", "64", "--quiet"]


def files_of(folder):
    """{relative path: bytes} of every FITS file under ``folder``."""
    return {str(path.relative_to(folder)): path.read_bytes()
            for path in sorted(folder.rglob("*.f*ts"))}


def test_campaign_command_writes_the_tree_and_resumes_identically(tmp_path, capsys):
    out = tmp_path / "camp"
    assert data_prep_main(["toysun", "campaign", str(out), "--observer", "earth",
                           "--observer", "stereo-a", *SMALL]) == 0
    first = files_of(out)
    folders = {name.rsplit("/", 1)[0] for name in first}
    assert folders == {"sdo/aia", "sdo/hmi", "stereo-a/euvi", "truth/stereo-a/magnetogram",
                       "truth/carrington"}
    assert len(first) == 2 * 5  # two times: AIA, HMI, EUVI, truth, Carrington map
    # a killed campaign (files missing) resumes and writes the same bytes, with one worker
    # or two; the observers may come in one option or several
    for name in list(first)[::3]:
        (out / name).unlink()
    assert data_prep_main(["toysun", "campaign", str(out), "--observer", "earth", "stereo-a",
                           "--workers", "2", *SMALL]) == 0
    assert files_of(out) == first
    record = json.loads((out / "campaign.json").read_text())
    assert record["settings"]["observers"] == ["earth", "stereo-a"]
    assert len(record["times"]) == 2
    # the truth's region catalogue: every region of the whole Sun at both times
    from data_prep.toysun.evolution import WholeSun
    from data_prep.toysun.region_truth import TRUTH_COLUMNS, read_truth_regions

    regions = read_truth_regions(out / record["files"]["regions"])
    assert tuple(regions[0]) == TRUTH_COLUMNS
    sun = WholeSun(record["settings"]["seed"], grid_deg=record["grid_deg"])
    assert len(regions) == sum(len(sun.active_regions(time)) for time in record["times"]) > 0


def test_campaign_refuses_bad_settings_before_writing_anything(tmp_path, capsys):
    out = tmp_path / "camp"
    status = data_prep_main(["toysun", "campaign", str(out), "--days", "-1", "--size", "10",
                             "--far-side-every", "0", "--observer", "nowhere", "--quiet"])
    errors = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and not out.exists()
    assert any("--days" in line for line in errors) and any("--size" in line for line in errors)
    assert any("--far-side-every" in line for line in errors)
    # STEREO-B after contact was lost, and a bad observer, each a line naming it
    status = data_prep_main(["toysun", "campaign", str(out), "--start", "2015-01-01",
                             "--observer", "stereo-b", "--observer", "nowhere", *SMALL])
    errors = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and not out.exists() and len(errors) == 2
    assert "stereo" in errors[0].lower() and "2014" in errors[0]
    assert "nowhere" in errors[1]


def test_a_campaign_folder_refuses_other_settings(tmp_path):
    out = tmp_path / "camp"
    run_campaign(out, CampaignSettings(days=1, size=64, observers=("earth",)), progress=False,
                 workers=1)
    # the same campaign, whether its start was spelt as a date or a time, resumes
    run_campaign(out, CampaignSettings(start="2011-01-01", days=1, size=64, observers=("earth",)),
                 progress=False, workers=1)
    with pytest.raises(ValueError, match="size"):
        run_campaign(out, CampaignSettings(days=1, size=128, observers=("earth",)),
                     progress=False, workers=1)


def test_solarmaggan_command_routes_the_campaign(tmp_path):
    """``solarmaggan toysun campaign`` is the same command (help names it so)."""
    result = subprocess.run([sys.executable, "-m", "solarmaggan", "toysun", "campaign", "--help"],
                            capture_output=True, text=True, check=True)
    assert "toysun campaign" in result.stdout and "--far-side-every" in result.stdout
