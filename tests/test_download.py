"""scripts/download_data.py, offline: query construction, argument checks, --dry-run, and
the fetch path with a fake Fido (no test touches the network).

Tests that build sunpy.net attrs need sunpy's net extras (bs4, drms, zeep:
``pip install "sunpy[net]"``), which solarmaggan does not require; they are skipped
without them."""

import importlib.util
import subprocess
import sys
import warnings
from datetime import datetime, timedelta
from pathlib import Path

import astropy.units as u
import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "download_data.py"


def _load_script():
    spec = importlib.util.spec_from_file_location("download_data", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while decorating
    spec.loader.exec_module(module)
    return module


dd = _load_script()

def importable(module: str) -> bool:
    """Whether ``module`` imports (quietly)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            importlib.import_module(module)
        return True
    except ImportError:
        return False


HAVE_NET = importable("sunpy.net")  # needs bs4, drms, zeep

needs_net = pytest.mark.skipif(
    not HAVE_NET,
    reason="sunpy.net extras (bs4, drms, zeep) not installed: pip install 'sunpy[net]'")


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    """Any connection attempt in-process fails the test (subprocesses are not covered; the
    only one runs --dry-run, which never searches)."""
    import socket

    def refuse(*args, **kwargs):
        raise AssertionError("test_download tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def by_type(query):
    """{attr class name (jsoc. prefixed): attr}; each type appears once."""
    names = [("jsoc." if type(x).__module__.endswith("jsoc.attrs") else "") + type(x).__name__
             for x in query]
    assert len(names) == len(set(names)), names
    return dict(zip(names, query, strict=True))


def assert_common(parts, start, end, cadence_s=43200.0):
    assert parts["Time"].start.utc.to_datetime() == start
    assert parts["Time"].end.utc.to_datetime() == end
    assert parts["Sample"].value == pytest.approx(cadence_s)


# --- query construction -----------------------------------------------------------------


@needs_net
def test_aia_query_vso():
    parts = by_type(dd.build_query("aia", "2011-01-01", "2011-01-31", 12))
    assert set(parts) == {"Time", "Instrument", "Wavelength", "Sample"}
    assert parts["Instrument"].value == "AIA"
    assert parts["Wavelength"].min == 304 * u.AA and parts["Wavelength"].max == 304 * u.AA
    assert parts["Wavelength"].unit == u.AA
    assert_common(parts, datetime(2011, 1, 1), datetime(2011, 1, 31))


@needs_net
def test_hmi_query_vso_is_los_magnetic_field():
    parts = by_type(dd.build_query("hmi", "2011-01-01", "2011-01-02T12:00", 6))
    assert set(parts) == {"Time", "Instrument", "Physobs", "Sample"}
    assert parts["Instrument"].value == "HMI"
    assert parts["Physobs"].value.lower() == "los_magnetic_field"
    assert_common(parts, datetime(2011, 1, 1), datetime(2011, 1, 2, 12), cadence_s=21600.0)


@needs_net
@pytest.mark.parametrize("series", [None, "hmi.M_720s", "hmi.M_45s"])
def test_hmi_query_jsoc_with_email(series):
    parts = by_type(dd.build_query("hmi", "2011-01-01", "2011-02-01", 12, series=series,
                                   jsoc_email="someone@example.org"))
    assert set(parts) == {"Time", "jsoc.Series", "jsoc.Segment", "Sample", "jsoc.Notify"}
    assert parts["jsoc.Series"].value == (series or "hmi.M_720s")
    assert parts["jsoc.Segment"].value == "magnetogram"
    assert parts["jsoc.Notify"].value == "someone@example.org"
    assert_common(parts, datetime(2011, 1, 1), datetime(2011, 2, 1))


@needs_net
def test_aia_query_jsoc_with_email():
    parts = by_type(dd.build_query("aia", "2011-01-01", "2011-02-01", 12,
                                   jsoc_email="someone@example.org"))
    assert set(parts) == {"Time", "jsoc.Series", "Wavelength", "jsoc.Segment", "Sample",
                          "jsoc.Notify"}
    assert parts["jsoc.Series"].value == "aia.lev1_euv_12s"
    assert parts["jsoc.Segment"].value == "image"
    assert parts["Wavelength"].min == 304 * u.AA


@needs_net
@pytest.mark.parametrize("spacecraft, source", [("A", "STEREO_A"), ("b", "STEREO_B"),
                                                ("STEREO-A", "STEREO_A"), (None, "STEREO_A")])
def test_euvi_query(spacecraft, source):
    parts = by_type(dd.build_query("euvi", "2012-01-01", "2012-02-01", 12,
                                   spacecraft=spacecraft))
    assert set(parts) == {"Time", "Instrument", "Detector", "Source", "Wavelength", "Sample"}
    assert parts["Instrument"].value == "SECCHI"
    assert parts["Detector"].value == "EUVI"
    assert parts["Source"].value == source
    assert parts["Wavelength"].min == 304 * u.AA


@needs_net
def test_cadence_and_wavelength_are_configurable():
    parts = by_type(dd.build_query("aia", "2011-01-01", "2011-01-02", 1.5, wavelength=171))
    assert parts["Sample"].value == pytest.approx(5400.0)
    assert parts["Wavelength"].min == 171 * u.AA


@needs_net
def test_each_query_goes_to_exactly_one_client():
    # Fido's own (private) routing check: a JSOC query with a.Instrument, or a VSO query
    # with a jsoc attr, would match no client at all.
    from sunpy.net import Fido
    from sunpy.net.jsoc import JSOCClient
    from sunpy.net.vso import VSOClient

    cases = [(dd.build_query("aia", "2011-01-01", "2011-01-02"), VSOClient),
             (dd.build_query("hmi", "2011-01-01", "2011-01-02"), VSOClient),
             (dd.build_query("euvi", "2011-01-01", "2011-01-02", spacecraft="B"), VSOClient),
             (dd.build_query("hmi", "2011-01-01", "2011-01-02", jsoc_email="a@b.org"),
              JSOCClient),
             (dd.build_query("aia", "2011-01-01", "2011-01-02", jsoc_email="a@b.org"),
              JSOCClient)]
    for query, client in cases:
        assert Fido._check_registered_widgets(*query) == [client]


@needs_net
def test_stereo_b_after_contact_loss_warns():
    with pytest.warns(UserWarning, match="2014-09-27"):
        dd.build_query("euvi", "2014-06-01", "2015-01-01", spacecraft="B")


def test_stereo_b_warning_only_after_its_last_data():
    assert dd.resolve_request("euvi", "2014-06-01", "2015-01-01", spacecraft="B").warnings
    assert not dd.resolve_request("euvi", "2014-06-01", "2014-09-01", spacecraft="B").warnings
    assert not dd.resolve_request("euvi", "2014-06-01", "2015-01-01", spacecraft="A").warnings


def test_request_defaults_follow_the_paper():
    request = dd.resolve_request("aia", "2011-01-01", "2017-06-30")
    assert (request.cadence_hours, request.wavelength, request.series) == (12.0, 304, None)
    hmi = dd.resolve_request("hmi", "2011-01-01", "2017-06-30")
    assert (hmi.series, hmi.wavelength, hmi.uses_jsoc) == ("hmi.M_45s", None, False)
    hmi_jsoc = dd.resolve_request("hmi", "2011-01-01", "2017-06-30", jsoc_email="a@b.org")
    assert (hmi_jsoc.series, hmi_jsoc.uses_jsoc) == ("hmi.M_720s", True)


# --- argument errors --------------------------------------------------------------------


@pytest.mark.parametrize("kwargs, message", [
    (dict(instrument="eit"), "unknown instrument 'eit'"),
    (dict(start="2012-01-01", end="2011-01-01"), "is not after start"),
    (dict(start="2011-01-01", end="2011-01-01"), "is not after start"),
    (dict(start="2011-02-30"), "start: cannot read '2011-02-30'"),
    (dict(cadence_hours=0), "cadence must be a positive number of hours"),
    (dict(cadence_hours=-12), "cadence must be a positive number of hours"),
    (dict(cadence_hours=float("nan")), "cadence must be a positive number of hours"),
    (dict(instrument="euvi", spacecraft="C"), "unknown spacecraft 'C'"),
    (dict(instrument="aia", spacecraft="A"), "--spacecraft applies to euvi only"),
    (dict(instrument="hmi", series="hmi.M_720s"), "needs a registered email"),
    (dict(instrument="aia", series="aia.lev1_euv_12s"), "needs a registered email"),
    (dict(instrument="aia", series="hmi.M_45s"), "is not an aia series"),
    (dict(instrument="hmi", series="hmi.B_720s"), "unknown series"),
    (dict(instrument="hmi", wavelength=6173), "--wavelength does not apply to hmi"),
    (dict(instrument="aia", wavelength=195), "AIA has no 195 A channel"),
    (dict(instrument="aia", wavelength=1600, jsoc_email="a@b.org"), "aia.lev1_euv_12s has no"),
    (dict(instrument="euvi", wavelength=193), "EUVI has no 193 A channel"),
    (dict(instrument="hmi", jsoc_email="not-an-email"), "is not an email address"),
    (dict(instrument="euvi", jsoc_email="a@b.org"), "--jsoc-email applies to aia and hmi"),
    (dict(instrument="euvi", series="hmi.M_45s"), "--series applies to aia and hmi"),
])
def test_bad_arguments_raise_clear_value_errors(kwargs, message):
    arguments = dict(instrument="aia", start="2011-01-01", end="2011-02-01") | kwargs
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        dd.resolve_request(**arguments)


@pytest.mark.parametrize("argv, message", [
    (["aia", "--out", "x", "--start", "2012-01-01", "--end", "2011-01-01"], "is not after start"),
    (["euvi", "--out", "x", "--spacecraft", "C"], "unknown spacecraft 'C'"),
    (["aia", "--out", "x", "--cadence-hours", "-1"], "cadence must be a positive"),
    (["aia", "--out", "x", "--max-files", "0"], "--max-files: must be positive"),
    (["aia", "--out", "x", "--chunk-days", "0"], "--chunk-days: must be positive"),
    (["hmi", "--out", "x", "--series", "hmi.M_720s"], "add --jsoc-email"),
    (["eit", "--out", "x"], "invalid choice: 'eit'"),
    (["aia", "--out", "x", "--dry-run", "--list"], "not allowed with argument"),
])
def test_cli_argument_errors_exit_2_with_message(argv, message, capsys):
    with pytest.raises(SystemExit) as stop:
        dd.parse_args(argv)
    assert stop.value.code == 2
    assert message in capsys.readouterr().err


def test_cli_defaults_and_bare_end_date_covers_the_whole_day():
    request = dd.parse_args(["hmi", "--out", "data/hmi"]).request
    assert request.start == datetime(2011, 1, 1)
    assert request.end == datetime(2017, 6, 30, 23, 59, 59)
    assert request.cadence_hours == 12.0
    timed = dd.parse_args(["aia", "--out", "d", "--end", "2011-01-02T06:00"]).request
    assert timed.end == datetime(2011, 1, 2, 6)


def test_time_chunks_cover_the_range_without_overlap():
    start, end = datetime(2011, 1, 1), datetime(2017, 6, 30, 23, 59, 59)
    chunks = dd.time_chunks(start, end, 30)
    assert chunks[0][0] == start and chunks[-1][1] == end
    for (_, previous_end), (next_start, _) in zip(chunks[:-1], chunks[1:], strict=True):
        assert next_start - previous_end == timedelta(seconds=1)
    assert len(chunks) == 80
    assert dd.time_chunks(start, datetime(2011, 1, 2), 30) == [(start, datetime(2011, 1, 2))]


# --- --dry-run: prints the query, never searches ----------------------------------------


def test_dry_run_subprocess_prints_query_or_clear_error(tmp_path):
    out = tmp_path / "aia"
    run = subprocess.run([sys.executable, str(SCRIPT), "aia", "--out", str(out), "--dry-run",
                          "--end", "2011-03-01"],
                         capture_output=True, text=True, timeout=120)
    if HAVE_NET:
        assert run.returncode == 0, run.stderr
        assert "no network access" in run.stdout
        assert "Instrument(AIA) & Wavelength(304 Angstrom) & Sample(43200 s" in run.stdout
        assert "searches: 2 time chunk(s)" in run.stdout
    else:
        assert run.returncode == 2
        assert "pip install 'sunpy[net]'" in run.stderr
        assert len(run.stderr.strip().splitlines()) == 1
    assert not out.exists()


class FakeResults(list):
    """parfive.Results stand-in: a list of file paths with .errors."""

    def __init__(self, paths=(), errors=()):
        super().__init__(paths)
        self.errors = list(errors)


class FakeFido:
    """Records search/fetch calls; fetch writes 2880-byte files named after the records."""

    def __init__(self, records_per_search=3, fail_search=None):
        self.records_per_search = records_per_search
        self.fail_search = fail_search
        self.searches, self.fetches = [], []

    def search(self, *query):
        if self.fail_search:
            raise self.fail_search
        self.searches.append(query)
        start = query[0].start.utc.to_datetime()
        table = [f"rec_{start:%Y%m%d}_{i}.fits" for i in range(self.records_per_search)]
        return [table]  # a UnifiedResponse is an iterable of tables

    def fetch(self, *blocks, path, max_conn, overwrite, progress):
        self.fetches.append(dict(blocks=blocks, path=path, max_conn=max_conn,
                                 overwrite=overwrite))
        folder = Path(path).parent
        paths = []
        for block in blocks:
            # a whole search result (list of tables) or one sliced table (list of names)
            names = [n for table in block for n in table] if isinstance(block[0], list) else block
            for name in names:
                (folder / name).write_bytes(b"\0" * 2880)
                paths.append(str(folder / name))
        return FakeResults(paths)


@needs_net
def test_dry_run_in_process_never_searches(tmp_path, capsys):
    fido = FakeFido(fail_search=AssertionError("dry run searched"))
    assert dd.main(["euvi", "--spacecraft", "B", "--out", str(tmp_path), "--dry-run"],
                   fido=fido) == 0
    printed = capsys.readouterr().out
    assert "Source(STEREO_B)" in printed and "Detector(EUVI)" in printed
    assert "warning: STEREO-B data end 2014-09-27" in printed
    assert fido.fetches == []


# --- fetch path (fake Fido) -------------------------------------------------------------


def test_fetch_files_skips_existing_files_and_retries_failures(tmp_path):
    calls = []
    first = FakeResults([str(tmp_path / "a.fits")], errors=["b.fits timed out"])
    second = FakeResults([str(tmp_path / "b.fits")])

    class Fido:
        def fetch(self, *blocks, **kwargs):
            calls.append((blocks, kwargs))
            return first if len(calls) == 1 else second

    files, errors = dd.fetch_files(["search result"], tmp_path, Fido(), max_conn=3, retries=2,
                                   progress=False)
    assert files == [str(tmp_path / "a.fits"), str(tmp_path / "b.fits")] and errors == []
    assert calls[0] == (("search result",), dict(path=str(tmp_path / "{file}"), max_conn=3,
                                                  overwrite=False, progress=False))
    assert calls[1][0] == (first,)  # parfive Results passed back in: retry the failed ones
    assert calls[1][1]["overwrite"] is False


def test_limit_results_cuts_across_tables():
    results = [["a", "b"], ["c", "d", "e"]]
    assert dd.limit_results(results, None) == [results]
    assert dd.limit_results(results, 5) == [results]
    assert dd.limit_results(results, 3) == [["a", "b"], ["c"]]
    assert dd.limit_results(results, 1) == [["a"]]


def test_remove_partial_fits(tmp_path):
    (tmp_path / "whole.fits").write_bytes(b"\0" * 2880 * 2)
    (tmp_path / "cut.fits").write_bytes(b"\0" * 1000)
    (tmp_path / "empty.fts").write_bytes(b"")
    (tmp_path / "odd_but_known.fits").write_bytes(b"\0" * 10)
    (tmp_path / "notes.txt").write_bytes(b"x")
    removed = dd.remove_partial_fits(tmp_path, keep={"odd_but_known.fits"})
    assert sorted(p.name for p in removed) == ["cut.fits", "empty.fts"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt", "odd_but_known.fits",
                                                          "whole.fits"]


@needs_net
def test_main_downloads_chunks_and_a_rerun_resumes(tmp_path, monkeypatch, capsys):
    from sunpy.net import Fido

    fake = FakeFido(records_per_search=2)
    monkeypatch.setattr(Fido, "search", fake.search)
    monkeypatch.setattr(Fido, "fetch", fake.fetch)
    argv = ["aia", "--out", str(tmp_path / "aia"), "--start", "2011-01-01", "--end",
            "2011-02-15", "--no-progress"]
    assert dd.main(argv) == 0
    assert len(fake.searches) == 2 and len(fake.fetches) == 2
    for call in fake.fetches:
        assert call["path"] == str(tmp_path / "aia" / "{file}")
        assert call["overwrite"] is False
    by = by_type(fake.searches[1])
    assert by["Time"].start.utc.to_datetime() == datetime(2011, 1, 31)
    assert by["Time"].end.utc.to_datetime() == datetime(2011, 2, 15, 23, 59, 59)
    assert len(list((tmp_path / "aia" / dd.DONE_DIR).glob("*.json"))) == 2
    assert "4 files in" in capsys.readouterr().out

    # re-run: both chunks are recorded as done, nothing is searched or fetched again
    assert dd.main(argv) == 0
    assert len(fake.searches) == 2 and len(fake.fetches) == 2
    assert "done earlier" in capsys.readouterr().out

    # a file removed by hand makes its chunk run again
    next((tmp_path / "aia").glob("rec_20110131_*.fits")).unlink()
    assert dd.main(argv) == 0
    assert len(fake.searches) == 3


@needs_net
def test_max_files_slices_vso_and_shortens_jsoc_window(tmp_path):
    fake = FakeFido(records_per_search=5)
    request = dd.resolve_request("aia", "2011-01-01", "2011-03-01")
    assert dd.run(request, tmp_path / "vso", fake, max_files=3, progress=False) == 0
    assert len(fake.searches) == 1
    # the first 3 records, as one sliced table
    assert fake.fetches[0]["blocks"] == (["rec_20110101_0.fits", "rec_20110101_1.fits",
                                          "rec_20110101_2.fits"],)
    assert not (tmp_path / "vso" / dd.DONE_DIR).exists()  # a cut chunk is not "done"

    fake = FakeFido(records_per_search=3)
    request = dd.resolve_request("hmi", "2011-01-01", "2011-03-01", jsoc_email="a@b.org")
    assert dd.run(request, tmp_path / "jsoc", fake, max_files=3, progress=False) == 0
    window = by_type(fake.searches[0])["Time"]
    assert window.end.utc.to_datetime() == datetime(2011, 1, 2, 11, 59, 59)  # 3 x 12 h
    assert "jsoc.Notify" in by_type(fake.searches[0])


@needs_net
def test_search_failure_exits_2_with_one_line(tmp_path, capsys):
    fake = FakeFido(fail_search=ConnectionError("No online VSO mirrors could be found."))
    assert dd.main(["hmi", "--out", str(tmp_path), "--end", "2011-01-05"], fido=fake) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "search failed" in err and "No online VSO mirrors" in err
    assert fake.fetches == []


@needs_net
def test_list_searches_but_does_not_fetch(tmp_path, capsys):
    fake = FakeFido(records_per_search=4)
    assert dd.main(["euvi", "--out", str(tmp_path / "e"), "--end", "2011-02-15", "--list"],
                   fido=fake) == 0
    assert len(fake.searches) == 2 and fake.fetches == []
    assert "8 records in 2 chunk(s); nothing downloaded" in capsys.readouterr().out
    assert not (tmp_path / "e").exists()


# --- Solar Orbiter EUI/FSI from SOAR (sunpy-soar) ---------------------------------------

HAVE_SOAR = HAVE_NET and importable("sunpy_soar")  # registers the SOAR client with Fido

needs_soar = pytest.mark.skipif(
    not HAVE_SOAR, reason="sunpy-soar (and sunpy.net's extras) not installed: "
                          "pip install sunpy-soar")


def soar_table(times, client=None):
    """A SOAR-like search result table: one row per start time (as sunpy-soar builds it,
    "Start time" as ISO strings), file names as SOAR's."""
    from astropy.table import Table

    names = [f"solo_L2_eui-fsi304-image_{t:%Y%m%dT%H%M%S}000_V01.fits" for t in times]
    columns = {"Instrument": ["EUI"] * len(times),
               "Data product": ["eui-fsi304-image"] * len(times), "Level": ["L2"] * len(times),
               "Start time": [t.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] for t in times],
               "Data item ID": [n.removesuffix("_V01.fits") for n in names],
               "Filename": names}
    if client is None:
        return Table(columns)
    from sunpy.net.base_client import QueryResponseTable

    return QueryResponseTable(columns, client=client)


def every(start, minutes, count):
    return [start + timedelta(minutes=minutes * i) for i in range(count)]


class FakeSoarFido(FakeFido):
    """SOAR stand-in: each search lists an image every ``minutes`` over its time window, as
    one table with "Start time" and "Filename" (sunpy-soar's columns)."""

    def __init__(self, minutes=10, fail_search=None):
        super().__init__(fail_search=fail_search)
        self.minutes = minutes

    def search(self, *query):
        if self.fail_search:
            raise self.fail_search
        self.searches.append(query)
        start = query[0].start.utc.to_datetime()
        end = query[0].end.utc.to_datetime()
        count = int((end - start).total_seconds() // (60 * self.minutes)) + 1
        return [soar_table(every(start + timedelta(seconds=45), self.minutes, count))]

    def fetch(self, *blocks, path, max_conn, overwrite, progress):
        self.fetches.append(dict(blocks=blocks, path=path, max_conn=max_conn,
                                 overwrite=overwrite))
        paths = []
        for table in blocks:
            for name in table["Filename"]:
                target = Path(path.format(file=name))
                target.write_bytes(b"\0" * 2880)
                paths.append(str(target))
        return FakeResults(paths)


def soar_parts(query):
    """{"Time", "Instrument", "Level", "soar.Product"...: attr} for an fsi query."""
    names = [("soar." if type(x).__module__.startswith("sunpy_soar") else "") + type(x).__name__
             for x in query]
    assert len(names) == len(set(names)), names
    return dict(zip(names, query, strict=True))


@needs_soar
def test_fsi_query_is_level_2_304_product_without_sample():
    parts = soar_parts(dd.build_query("fsi", "2022-03-01", "2022-03-31T12:00", 12))
    assert set(parts) == {"Time", "Instrument", "Level", "soar.Product"}
    assert parts["Instrument"].value == "EUI"
    assert parts["Level"].value == 2
    assert parts["soar.Product"].value == "eui-fsi304-image"
    assert parts["Time"].start.utc.to_datetime() == datetime(2022, 3, 1)
    assert parts["Time"].end.utc.to_datetime() == datetime(2022, 3, 31, 12)


@needs_soar
def test_fsi_174_is_allowed_with_a_note():
    with pytest.warns(UserWarning, match="models take 304 A"):
        query = dd.build_query("fsi", "2022-03-01", "2022-03-02", wavelength=174)
    assert soar_parts(query)["soar.Product"].value == "eui-fsi174-image"


@needs_soar
def test_fsi_query_goes_to_soar_only_and_soar_refuses_sample():
    from sunpy.net import Fido
    from sunpy.net import attrs as a
    from sunpy_soar import SOARClient

    query = dd.build_query("fsi", "2022-03-01", "2022-03-02")
    assert Fido._check_registered_widgets(*query) == [SOARClient]
    # the reason the script thins client-side: with a.Sample no client takes the query
    sampled = query + (a.Sample(12 * u.hour),)
    assert not SOARClient._can_handle_query(*sampled)


@needs_soar
def test_fsi_query_as_soar_adql():
    # what sunpy-soar sends to the SOAR TAP service, built offline (its private helpers)
    from sunpy.net.attr import and_
    from sunpy_soar import SOARClient
    from sunpy_soar.attrs import walker

    query = dd.build_query("fsi", "2022-03-01", "2022-03-02T06:00")
    adql = SOARClient._construct_payload(walker.create(and_(*query))[0])["QUERY"]
    for part in ("h1.instrument='EUI'", "h1.level='L2'", "h1.descriptor='eui-fsi304-image'",
                 "h1.begin_time>='2022-03-01 00:00:00'", "h1.begin_time<='2022-03-02 06:00:00'",
                 "JOIN v_eui_sc_fits"):
        assert part in adql, adql


def test_fsi_request_defaults_and_notes():
    request = dd.resolve_request("fsi", "2022-03-01", "2022-03-31")
    assert (request.wavelength, request.level, request.cadence_hours) == (304, 2, 12.0)
    assert request.uses_soar and not request.uses_jsoc and request.warnings == ()
    assert "SOAR" in request.source
    assert dd.resolve_request("fsi", "2022-03-01", "2022-03-31", level=2).level == 2
    early = dd.resolve_request("fsi", "2019-06-01", "2020-07-01")
    assert any("first light in May 2020" in note for note in early.warnings)
    other = dd.resolve_request("fsi", "2022-03-01", "2022-03-31", wavelength=174)
    assert any("models take 304 A" in note for note in other.warnings)
    assert dd.resolve_request("euvi", "2011-01-01", "2011-02-01").level is None


@pytest.mark.parametrize("kwargs, message", [
    (dict(wavelength=195), "EUI/FSI has no 195 A channel: choose one of 174, 304"),
    (dict(wavelength=171), "EUI/FSI has no 171 A channel"),
    (dict(level=1), "EUI/FSI level 1 is not supported"),
    (dict(level=3), "only level 2"),
    (dict(spacecraft="A"), "--spacecraft applies to euvi only"),
    (dict(jsoc_email="a@b.org"), "--jsoc-email applies to aia and hmi only"),
    (dict(series="hmi.M_45s"), "--series applies to aia and hmi only"),
    (dict(instrument="aia", level=2), "--level applies to fsi only"),
])
def test_fsi_bad_arguments_raise_clear_value_errors(kwargs, message):
    arguments = dict(instrument="fsi", start="2022-03-01", end="2022-03-31") | kwargs
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        dd.resolve_request(**arguments)


FSI_ARGS = ["fsi", "--out", "x", "--start", "2022-03-01", "--end", "2022-03-31"]


@pytest.mark.parametrize("argv, message", [
    (FSI_ARGS + ["--wavelength", "171"], "EUI/FSI has no 171 A channel: choose one of 174, 304"),
    (FSI_ARGS + ["--level", "1"], "level 1 is raw DN, which solarmaggan refuses"),
    (FSI_ARGS + ["--spacecraft", "A"], "--spacecraft applies to euvi only"),
    (["fsi", "--out", "x"], "fsi needs --start and --end"),
    (["fsi", "--out", "x", "--start", "2022-03-01"], "fsi needs --end"),
    (["hmi", "--out", "x", "--level", "2"], "--level applies to fsi only"),
])
def test_fsi_cli_argument_errors_exit_2_with_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) as stop:
        dd.parse_args(argv)
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    errors = [line for line in err if line.startswith("download_data.py: error:")]
    assert len(errors) == 1 and message in errors[0] and errors[0] == err[-1]


def test_fsi_cli_options():
    args = dd.parse_args(FSI_ARGS + ["--cadence-hours", "6", "--wavelength", "174"])
    request = args.request
    assert request.end == datetime(2022, 3, 31, 23, 59, 59)
    assert (request.cadence_hours, request.wavelength, request.level) == (6.0, 174, 2)
    # the other instruments keep the paper's period as their defaults
    assert dd.parse_args(["euvi", "--out", "x"]).request.start == datetime(2011, 1, 1)


def test_thin_to_cadence_keeps_the_first_record_of_each_step():
    start = datetime(2022, 3, 1)
    # every 10 min for 2 days from 00:00:45, and a gap with nothing on 2 March 12-24 h
    times = [t for t in every(start + timedelta(seconds=45), 10, 288)
             if not datetime(2022, 3, 2, 12) <= t < datetime(2022, 3, 3)]
    table = soar_table(times)
    kept = dd.thin_to_cadence([table], start, 12)
    assert len(kept) == 1
    assert list(kept[0]["Start time"]) == ["2022-03-01 00:00:45.000", "2022-03-01 12:00:45.000",
                                           "2022-03-02 00:00:45.000"]
    assert dd.count_records(kept) == 3
    # the steps are counted from the origin, not from the first record
    origin = datetime(2022, 3, 1, 5, 55)
    later = soar_table([t for t in times if t >= origin])
    kept = dd.thin_to_cadence([later], origin, 12)
    assert list(kept[0]["Start time"])[:2] == ["2022-03-01 06:00:45.000",
                                               "2022-03-01 18:00:45.000"]
    # a cadence shorter than the images' keeps them all; unsorted rows and several tables
    assert dd.count_records(dd.thin_to_cadence([table], start, 1 / 12)) == len(times)
    first, second = soar_table(times[5::-1]), soar_table(times[6:80])
    kept = dd.thin_to_cadence([first, second, soar_table([])], start, 12)
    assert [list(t["Start time"]) for t in kept] == [["2022-03-01 00:00:45.000"],
                                                     ["2022-03-01 12:00:45.000"]]


@needs_soar
def test_fsi_dry_run_prints_the_soar_query_and_never_searches(tmp_path, capsys):
    fido = FakeSoarFido(fail_search=AssertionError("dry run searched"))
    assert dd.main(FSI_ARGS[:2] + [str(tmp_path / "f")] + FSI_ARGS[3:] + ["--dry-run"],
                   fido=fido) == 0
    printed = capsys.readouterr().out
    assert "Solar Orbiter EUI/FSI 304 A, level 2 from SOAR" in printed
    assert ("Time(2022-03-01 00:00:00, 2022-03-30 23:59:59) & Instrument(EUI) & Level(2) & "
            "soar.Product(eui-fsi304-image)") in printed
    assert "at most 62 files" in printed and "searches: 2 time chunk(s)" in printed
    assert "keeps the first at or after each 12 h step" in printed
    assert fido.fetches == [] and not (tmp_path / "f").exists()


def test_fsi_without_sunpy_soar_exits_2_with_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "sunpy_soar", None)  # import sunpy_soar -> ImportError
    argv = ["fsi", "--out", str(tmp_path), "--start", "2022-03-01", "--end", "2022-03-02"]
    assert dd.main(argv + ["--dry-run"], fido=FakeSoarFido()) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "pip install" in err


@needs_soar
def test_fsi_downloads_one_image_per_cadence_step_and_resumes(tmp_path, capsys):
    fake = FakeSoarFido(minutes=10)
    out = tmp_path / "fsi304"
    argv = ["fsi", "--out", str(out), "--start", "2022-03-01", "--end", "2022-03-04",
            "--chunk-days", "2", "--no-progress"]
    assert dd.main(argv, fido=fake) == 0
    assert len(fake.searches) == 2 and len(fake.fetches) == 2
    names = sorted(p.name for p in out.glob("*.fits"))
    assert len(names) == 8  # 4 days at 12 h, not the 576 images listed
    assert names[:2] == ["solo_L2_eui-fsi304-image_20220301T000045000_V01.fits",
                         "solo_L2_eui-fsi304-image_20220301T120045000_V01.fits"]
    assert all(call["overwrite"] is False for call in fake.fetches)
    printed = capsys.readouterr().out
    assert "chunk 1/2 2022-03-01 00:00..2022-03-02 23:59: 288 records (4 at the 12 h cadence), " \
           "4 files" in printed
    assert "8 files in" in printed
    assert len(list((out / dd.DONE_DIR).glob("fsi_*.json"))) == 2

    assert dd.main(argv, fido=fake) == 0  # re-run: nothing searched or fetched again
    assert len(fake.searches) == 2 and "done earlier" in capsys.readouterr().out


@needs_soar
def test_fsi_max_files_and_list_count_after_thinning(tmp_path, capsys):
    fake = FakeSoarFido(minutes=10)
    argv = ["fsi", "--out", str(tmp_path / "f"), "--start", "2022-03-01", "--end",
            "2022-03-04", "--no-progress"]
    assert dd.main(argv + ["--max-files", "3"], fido=fake) == 0
    assert len(list((tmp_path / "f").glob("*.fits"))) == 3
    assert not (tmp_path / "f" / dd.DONE_DIR).exists()  # a cut chunk is not "done"

    fake = FakeSoarFido(minutes=10)
    assert dd.main(argv[:2] + [str(tmp_path / "l")] + argv[3:] + ["--list"], fido=fake) == 0
    printed = capsys.readouterr().out
    assert "576 records (8 at the 12 h cadence)" in printed
    assert "8 records at the 12 h cadence in 1 chunk(s); nothing downloaded" in printed
    assert fake.fetches == [] and not (tmp_path / "l").exists()


@needs_soar
def test_fsi_fetch_through_the_real_soar_client(tmp_path):
    """Fido.fetch and sunpy-soar's fetch on thinned search results, with a parfive
    downloader that records instead of downloading: SOAR URLs, SOAR's file names in --out."""
    import parfive
    from sunpy.net import Fido
    from sunpy.net.fido_factory import UnifiedResponse
    from sunpy_soar import SOARClient

    class RecordingDownloader(parfive.Downloader):
        def __init__(self):
            super().__init__(progress=False)
            self.queued = []

        def enqueue_file(self, url, path=None, filename=None, **kwargs):
            self.queued.append((url, filename))

        def download(self):
            for _, filename in self.queued:
                Path(filename).write_bytes(b"\0" * 2880)
            return parfive.Results([f for _, f in self.queued])

    downloader = RecordingDownloader()

    class SoarFido:
        searches = []

        def search(self, *query):
            self.searches.append(query)
            start = query[0].start.utc.to_datetime()
            return UnifiedResponse(soar_table(every(start + timedelta(seconds=45), 15, 96),
                                              client=SOARClient()))

        def fetch(self, *blocks, **kwargs):
            return Fido.fetch(*blocks, downloader=downloader, **kwargs)

    request = dd.resolve_request("fsi", "2022-03-01", "2022-03-01T23:59:59")
    assert dd.run(request, tmp_path, SoarFido(), progress=False) == 0
    assert [Path(f).name for _, f in downloader.queued] == [
        "solo_L2_eui-fsi304-image_20220301T000045000_V01.fits",
        "solo_L2_eui-fsi304-image_20220301T120045000_V01.fits"]
    assert all(Path(f).parent == tmp_path for _, f in downloader.queued)
    url = downloader.queued[0][0]
    assert url.startswith("http://soar.esac.esa.int/soar-sl-tap/data?")
    assert "product_type=SCIENCE" in url
    assert "data_item_id=solo_L2_eui-fsi304-image_20220301T000045000" in url
