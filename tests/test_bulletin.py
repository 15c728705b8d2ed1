"""The forecasters' bulletin (solarmaggan.regions.bulletin, ``solarmaggan bulletin``): a
small synthetic catalogue and a 60 x 120 full-Sun map -> PNG, self-contained HTML, JSON;
bad inputs refused with one line, exit 2 and nothing written."""

import csv
import json
import math
import shutil
import subprocess
import sys

import numpy as np
import pytest
from astropy.io import fits
from astropy.time import Time

from solarmaggan.regions.bulletin import (ARRIVAL_COLUMNS, REGION_COLUMNS, area_radius_deg,
                                          circle_outline, write_bulletin)

TIME = "2011-03-01T00:00:00"
SHAPE = (60, 120)


def region_row(region_id, time, lon, lat, flux, area=300.0, observer="SDO"):
    from solarmaggan.regions.catalogue import stonyhurst_longitude_deg

    return {"region_id": region_id, "time": time, "observer": observer,
            "carrington_lon_deg": lon, "carrington_lat_deg": lat,
            "stonyhurst_lon_deg": float(stonyhurst_longitude_deg(lon, Time(time))),
            "stonyhurst_lat_deg": lat, "area_msh": area, "flux_mx": flux,
            "flux_lo_mx": 0.8 * flux, "flux_hi_mx": 1.3 * flux, "leading_polarity": "+",
            "tilt_deg": 5.0, "detection_probability": 0.9, "source_file": f"{observer}.fits"}


def write_csv(path, rows, columns):
    with open(path, "w", newline="") as stream:
        writer = csv.DictWriter(stream, columns, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({column: row[column] for column in columns})


@pytest.fixture
def inputs(tmp_path):
    """regions/ (regions.csv, arrivals.csv) and map.fits: R1 on the side Earth sees (seen
    twice: the later row is current), R2 and R3 on the far side (R3 across 0/360 deg, two
    forecasts: the later one is current)."""
    from sunpy.coordinates import sun

    from data_prep.geometry import full_sun_header

    centre = float(sun.L0(Time(TIME)).to_value("deg"))
    far = (centre + 180.0) % 360.0
    regions = [
        region_row("R1", "2011-02-26T00:00:00", centre + 10.0, 15.0, 2e21, observer="SDO"),
        region_row("R1", "2011-02-28T18:00:00", centre, 14.0, 3e21, observer="SDO"),
        region_row("R2", "2011-02-28T12:00:00", (far - 40.0) % 360.0, -20.0, 5e21, area=600.0,
                   observer="STEREO_B"),
        region_row("R3", "2011-02-28T12:00:00", 359.0, 10.0, 8e20, area=150.0,
                   observer="STEREO_A"),
    ]
    arrivals = [
        {"region_id": "R3", "last_seen_time": "2011-02-20T12:00:00",
         "predicted_arrival_time": "2011-03-02T00:00:00", "carrington_lat_deg": 10.0,
         "flux_mx": 1e21, "flux_lo_mx": 0.5e21, "flux_hi_mx": 1.5e21},
        {"region_id": "R3", "last_seen_time": "2011-02-28T12:00:00",
         "predicted_arrival_time": "2011-03-09T06:00:00", "carrington_lat_deg": 10.0,
         "flux_mx": 7e20, "flux_lo_mx": 4e20, "flux_hi_mx": 1e21},
        {"region_id": "R2", "last_seen_time": "2011-02-28T12:00:00",
         "predicted_arrival_time": "2011-03-04T12:00:00", "carrington_lat_deg": -20.0,
         "flux_mx": 4.5e21, "flux_lo_mx": 3e21, "flux_hi_mx": 6e21},
    ]
    folder = tmp_path / "regions"
    folder.mkdir()
    write_csv(folder / "regions.csv", regions, REGION_COLUMNS)
    write_csv(folder / "arrivals.csv", arrivals, ARRIVAL_COLUMNS)
    header = full_sun_header(TIME, SHAPE, "carrington")
    longitude = (np.arange(SHAPE[1]) + 0.5) * 360.0 / SHAPE[1]
    sine = -1.0 + (np.arange(SHAPE[0]) + 0.5) * 2.0 / SHAPE[0]
    lon, lat = np.meshgrid(longitude, np.degrees(np.arcsin(sine)))
    data = np.zeros(SHAPE)
    for row in regions[1:]:
        for offset, sign in ((-4.0, 1.0), (4.0, -1.0)):
            distance = ((lon - row["carrington_lon_deg"] - offset + 180.0) % 360.0 - 180.0) ** 2
            data += sign * 300.0 * np.exp(-(distance + (lat - row["carrington_lat_deg"]) ** 2) / 20.0)
    for key in ("NAXIS", "NAXIS1", "NAXIS2"):
        header.remove(key, ignore_missing=True)
    map_path = tmp_path / "map.fits"
    fits.HDUList([fits.PrimaryHDU(data.astype(np.float32), header),
                  fits.ImageHDU(np.full(SHAPE, 12.0, np.float32), name="AGE")]).writeto(map_path)
    return {"regions": folder, "map": map_path, "out": tmp_path / "bulletin"}


def test_area_circle_geometry():
    assert area_radius_deg(0.0) == 0.0
    assert area_radius_deg(1e6) == pytest.approx(90.0)  # a hemisphere
    radius = area_radius_deg(1000.0)  # 1000 MSH: 1 - cos(theta) = 1e-3
    assert math.cos(math.radians(radius)) == pytest.approx(1.0 - 1e-3)
    xs, ys = circle_outline(100.0, 0.0, 10.0)
    assert xs.min() == pytest.approx(90.0, abs=0.1) and xs.max() == pytest.approx(110.0, abs=0.1)
    assert np.degrees(np.arcsin(ys)).max() == pytest.approx(10.0, abs=0.1)
    across, _ = circle_outline(359.0, 10.0, 5.0)
    assert across.max() > 360.0  # continuous across 0/360 (drawn on both sides)


def test_bulletin_writes_a_self_contained_page_figure_and_record(inputs, capsys):
    import matplotlib.image

    from solarmaggan.cli import main

    status = main(["bulletin", str(inputs["regions"]), "--map", str(inputs["map"]),
                   "--out", str(inputs["out"])])
    printed = capsys.readouterr().out.strip().splitlines()
    assert status == 0
    assert len(printed) == 1 and all(str(inputs["out"] / name) in printed[0]
                                     for name in ("bulletin.png", "bulletin.html", "bulletin.json"))
    page = (inputs["out"] / "bulletin.html").read_text()
    assert "data:image/png;base64," in page
    for forbidden in ("http://", "https://", 'src="//', 'href="//', "<script", "<link"):
        assert forbidden not in page, forbidden
    far_table = page.split("Far-side regions")[1].split("All regions on the map")[0]
    assert "R2" in far_table and "R3" in far_table and "R1" not in far_table
    assert far_table.index("R2") < far_table.index("R3")  # by arrival
    assert "2011-03-01 00:00" in page  # the title's time: the map's DATE-OBS
    image = matplotlib.image.imread(inputs["out"] / "bulletin.png")
    assert image.ndim == 3 and image.shape[0] > 300
    record = json.loads((inputs["out"] / "bulletin.json").read_text())
    assert record["time"].startswith(TIME) and record["map"] == str(inputs["map"])
    regions = {row["region_id"]: row for row in record["regions"]}
    assert sorted(regions) == ["R1", "R2", "R3"]
    assert regions["R1"]["time"] == "2011-02-28T18:00:00" and not regions["R1"]["far_side"]
    assert regions["R2"]["far_side"] and isinstance(regions["R2"]["flux_mx"], float)
    arrivals = record["arrivals"]
    assert [row["region_id"] for row in arrivals] == ["R2", "R3"]
    times = [Time(row["predicted_arrival_time"]) for row in arrivals]
    assert times == sorted(times)
    assert arrivals[0]["days_to_arrival"] == pytest.approx(3.5)
    assert arrivals[1]["days_to_arrival"] == pytest.approx(8.25)  # R3's later forecast
    assert sorted(p.name for p in inputs["out"].iterdir()) == [
        "bulletin.html", "bulletin.json", "bulletin.png"]  # no temporary files left


def test_bulletin_time_and_no_far_side_regions(inputs):
    write_csv(inputs["regions"] / "arrivals.csv", [], ARRIVAL_COLUMNS)  # nothing on the far side
    record = write_bulletin(inputs["regions"], inputs["map"], inputs["out"], time="2011-02-26T06:00")
    assert record["arrivals"] == [] and not any(row["far_side"] for row in record["regions"])
    r1 = next(row for row in record["regions"] if row["region_id"] == "R1")
    assert r1["time"] == "2011-02-26T00:00:00"  # the latest row at or before the time
    assert [row["region_id"] for row in record["regions"]] == ["R1"]  # R2, R3: seen later
    assert "No far-side region" in (inputs["out"] / "bulletin.html").read_text()


def test_bad_inputs_are_refused_with_one_line_and_nothing_written(inputs, capsys):
    from sunpy.data.test import get_test_filepath

    from test_bad_inputs import expect, run_cli

    out = inputs["out"]
    regions_csv = inputs["regions"] / "regions.csv"
    good = regions_csv.read_text()

    def command(regions=inputs["regions"], map_path=inputs["map"]):
        return run_cli(["bulletin", regions, "--map", map_path, "--out", out], capsys)

    regions_csv.write_text(good.splitlines()[0] + "\n")  # the header only: a quiet Sun
    arrivals_csv = inputs["regions"] / "arrivals.csv"
    arrivals = arrivals_csv.read_text()
    arrivals_csv.write_text(arrivals.splitlines()[0] + "\n")
    status, lines = command()
    assert status == 0, lines
    assert "No far-side region" in (out / "bulletin.html").read_text()
    assert json.loads((out / "bulletin.json").read_text())["regions"] == []
    shutil.rmtree(out)
    arrivals_csv.write_text(arrivals)
    lines = good.splitlines()
    header = lines[0].split(",")
    drop = header.index("area_msh")
    regions_csv.write_text("\n".join(",".join(cell for k, cell in enumerate(line.split(","))
                                              if k != drop) for line in lines) + "\n")
    status, errors = command()
    expect(status, errors, 2, "regions.csv: missing column(s) area_msh", command="bulletin")
    assert len(errors) == 1 and not out.exists()
    regions_csv.write_text(good)
    status, errors = command(inputs["regions"], get_test_filepath("aia_171_level1.fits"))
    expect(status, errors, 2, "aia_171_level1.fits: not a full-Sun map", command="bulletin")
    assert len(errors) == 1 and not out.exists()
    (inputs["regions"] / "arrivals.csv").unlink()
    status, errors = command()
    expect(status, errors, 2, "arrivals.csv: no such file", command="bulletin")
    assert len(errors) == 1 and not out.exists()
    status, errors = command(inputs["regions"].parent / "nowhere")
    expect(status, errors, 2, "nowhere: no such folder", command="bulletin")
    assert not out.exists()


def test_bad_time_is_refused(inputs, capsys):
    from test_bad_inputs import expect, run_cli

    status, errors = run_cli(["bulletin", inputs["regions"], "--map", inputs["map"], "--out",
                              inputs["out"], "--time", "yesterday"], capsys)
    expect(status, errors, 2, "--time: not a time", command="bulletin")
    assert len(errors) == 1 and not inputs["out"].exists()


def test_the_bulletin_imports_no_tensorflow():
    code = ("import sys, solarmaggan.regions.bulletin; "
            "assert not {'tensorflow', 'keras', 'solarmaggan.models'} & set(sys.modules), "
            "sorted(sys.modules)")
    subprocess.run([sys.executable, "-W", "error", "-c", code], check=True, capture_output=True,
                   timeout=120)
