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

try:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import sunpy.net  # noqa: F401  (needs bs4, drms, zeep)
    HAVE_NET = True
except ImportError:
    HAVE_NET = False

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
