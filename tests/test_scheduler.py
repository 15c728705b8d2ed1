"""``--scheduler``: prep, generate, toysun campaign, regions and assimilate on a local Dask
cluster of two worker processes give the serial run's outputs; a worker killed in the
middle of a run loses nothing; a bad scheduler is refused before anything is written."""

import logging
import os
import signal
import socket

import numpy as np
import pytest
from astropy.io import fits

from data_prep.scheduler import open_scheduler

from conftest import untrained_run
from test_generate_evaluate import euvi_file
from test_prep import settings as prep_settings
from test_prep import write_observations

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster():
    """The address of a local Dask cluster: two worker processes of one thread."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  silence_logs=logging.ERROR, dashboard_address=None) as local:
        yield local.scheduler_address


def fits_contents(path):
    """Every HDU's header (less DATE, the time of writing) and data."""
    with fits.open(path) as hdus:
        return [({key: value for key, value in hdu.header.items() if key != "DATE"},
                 None if hdu.data is None else data_arrays(hdu.data)) for hdu in hdus]


def data_arrays(data):
    """An image HDU's array, or a table's columns, as a list of arrays."""
    if getattr(data, "dtype", None) is not None and data.dtype.names:
        return [np.array(data[name]) for name in data.dtype.names]
    return [np.array(data)]


def assert_same_fits(first, second):
    for (header_a, data_a), (header_b, data_b) in zip(fits_contents(first), fits_contents(second),
                                                      strict=True):
        assert header_a == header_b
        assert (data_a is None) == (data_b is None)
        for column_a, column_b in zip(data_a or [], data_b or [], strict=True):
            np.testing.assert_array_equal(column_a, column_b)


def assert_same_folders(first, second, pattern="*.fits"):
    names = sorted(path.name for path in first.glob(pattern))
    assert names and names == sorted(path.name for path in second.glob(pattern))
    for name in names:
        assert_same_fits(first / name, second / name)


def test_prep_on_a_local_dask_cluster_equals_the_serial_file(tmp_path, capfd):
    from data_prep.prep import build_pair_file

    euv_dir, hmi_dir = write_observations(tmp_path)
    serial = build_pair_file([euv_dir], [hmi_dir], tmp_path / "serial.h5", prep_settings(),
                             workers=1, progress=False)
    capfd.readouterr()
    on_dask = build_pair_file([euv_dir], [hmi_dir], tmp_path / "dask.h5", prep_settings(),
                              workers=2, progress=False, scheduler="dask")
    announced = capfd.readouterr().err
    assert "local Dask cluster" in announced and "2 workers" in announced
    assert "dashboard" in announced
    assert on_dask["written_now"] == serial["written_now"] == 6
    # one writer, the same order: the same file, byte for byte
    assert (tmp_path / "dask.h5").read_bytes() == (tmp_path / "serial.h5").read_bytes()


@pytest.fixture(scope="module")
def far_side_inputs(tmp_path_factory):
    """(model run directory, folder of 5 EUVI files): an untrained tiny generator with
    dropout, for 3 batches of 2 with samples."""
    folder = tmp_path_factory.mktemp("scheduler")
    run_dir, _ = untrained_run(folder / "run")
    inputs = folder / "euvi"
    inputs.mkdir()
    for number in range(5):
        path = euvi_file(inputs / f"20090615_00{number}900_n4euA.fts")
        with fits.open(path, mode="update") as hdus:
            hdus[0].data = hdus[0].data * (1.0 + 0.2 * number)
    return run_dir, inputs


def generate_into(run_dir, inputs, out, **options):
    from solarmaggan.generate import generate

    return generate(run_dir, [inputs], out, batch_size=2, samples=3, quicklook=False,
                    progress=False, **options)


def test_generate_on_two_workers_equals_serial_each_loading_the_model_once(
        far_side_inputs, cluster, tmp_path):
    run_dir, inputs = far_side_inputs
    serial = generate_into(run_dir, inputs, tmp_path / "serial")
    on_cluster = generate_into(run_dir, inputs, tmp_path / "cluster", scheduler=cluster)
    assert len(serial["written"]) == len(on_cluster["written"]) == 5
    assert on_cluster["failed"] == []
    assert_same_folders(tmp_path / "serial", tmp_path / "cluster")
    assert set(on_cluster["model_loads"].values()) == {1}  # 3 batches, each worker loaded once
    assert f"{socket.gethostname()}:{os.getpid()}" not in on_cluster["model_loads"]
    again = generate_into(run_dir, inputs, tmp_path / "cluster", scheduler=cluster)
    assert len(again["skipped"]) == 5 and again["written"] == [] and again["model_loads"] == {}


class KillOnce(distributed.WorkerPlugin):
    """Kills its worker (SIGKILL) when the first task starts executing anywhere (a marker
    file says it happened), as the out-of-memory killer or a lost node would."""

    name = "kill-once"

    def __init__(self, marker):
        self.marker = str(marker)

    def transition(self, key, start, finish, **kwargs):
        if finish == "executing":
            try:
                descriptor = os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                return
            os.close(descriptor)
            os.kill(os.getpid(), signal.SIGKILL)


def test_a_worker_killed_during_generate_loses_nothing(far_side_inputs, cluster, tmp_path):
    run_dir, inputs = far_side_inputs
    marker = tmp_path / "killed"
    with distributed.Client(cluster) as client:
        client.register_plugin(KillOnce(marker))
        try:
            report = generate_into(run_dir, inputs, tmp_path / "killed_run", scheduler=cluster)
        finally:
            client.unregister_worker_plugin(KillOnce.name)
    assert marker.exists()  # a worker was killed while it ran a batch
    assert report["failed"] == [] and len(report["written"]) == 5
    generate_into(run_dir, inputs, tmp_path / "serial")
    assert_same_folders(tmp_path / "serial", tmp_path / "killed_run")
    assert not list((tmp_path / "killed_run").glob(".*"))  # no temporary file left behind


def test_campaign_regions_and_assimilate_on_the_cluster_equal_serial(cluster, tmp_path):
    from data_prep.toysun.campaign import CampaignSettings, run_campaign
    from solarmaggan.fullsun.assimilation import AssimilationSettings, assimilate
    from solarmaggan.regions.catalogue import catalogue
    from solarmaggan.regions.detection import DetectionSettings

    settings = CampaignSettings(days=1, size=64, observers=("earth", "stereo-a"))
    run_campaign(tmp_path / "serial", settings, progress=False, workers=1)
    run_campaign(tmp_path / "cluster", settings, progress=False, scheduler=cluster)
    for folder in ("sdo/hmi", "sdo/aia", "stereo-a/euvi", "truth/carrington"):
        assert_same_folders(tmp_path / "serial" / folder, tmp_path / "cluster" / folder, "*.f*ts")
    hmi = sorted((tmp_path / "serial" / "sdo" / "hmi").glob("*.fits"))
    detection = DetectionSettings(shape=(60, 120))
    catalogue(hmi, tmp_path / "regions_serial", detection, progress=False)
    catalogue(hmi, tmp_path / "regions_cluster", detection, progress=False, scheduler=cluster)
    for name in ("regions.csv", "arrivals.csv"):
        assert ((tmp_path / "regions_serial" / name).read_bytes()
                == (tmp_path / "regions_cluster" / name).read_bytes())
    errors = AssimilationSettings(shape=(30, 60), observed_sigma_gauss=5.0,
                                  growth_gauss2_per_day=10.0)
    assimilate(hmi, tmp_path / "maps_serial", errors, progress=False, quicklook=False)
    assimilate(hmi, tmp_path / "maps_cluster", errors, progress=False, quicklook=False,
               scheduler=cluster)
    assert_same_folders(tmp_path / "maps_serial", tmp_path / "maps_cluster")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("scheduler", ["tcp://127.0.0.1:{port}", "threads", "tcp://nohost"])
def test_a_bad_scheduler_is_refused_before_anything_is_written(far_side_inputs, tmp_path,
                                                               capsys, scheduler):
    from solarmaggan.cli import main

    run_dir, inputs = far_side_inputs
    scheduler = scheduler.format(port=free_port())
    euv_dir, hmi_dir = write_observations(tmp_path)
    commands = {
        "generate": ["generate", str(inputs), "--model", str(run_dir), "--out",
                     str(tmp_path / "generated"), "--scheduler", scheduler],
        "prep": ["prep", "--preset", "quick", "--euv", str(euv_dir), "--magnetogram",
                 str(hmi_dir), "--out", str(tmp_path / "pairs.h5"), "--scheduler", scheduler],
    }
    for name, argv in commands.items():
        assert main(argv) == 2, name
        error = capsys.readouterr().err.strip().splitlines()
        assert len(error) == 1 and f"solarmaggan {name}: error: --scheduler" in error[0]
        assert scheduler.split("//")[-1] in error[0]
    assert not (tmp_path / "generated").exists() and not list(tmp_path.glob("pairs.h5*"))


def test_processes_is_the_default_and_runs_here_with_one_worker():
    with open_scheduler() as runner:  # all cores
        assert runner.client is None and runner.workers == (os.cpu_count() or 1)
        pids = set(runner.map(os.getpid, [()] * 3))
        assert (os.getpid() in pids) == (runner.workers == 1)
    with open_scheduler("processes", workers=1) as runner:
        assert list(runner.map(os.getpid, [()] * 2)) == [os.getpid()] * 2


def test_the_slurm_example_submits_single_thread_workers_and_points_the_command_at_them(capsys):
    import importlib.util
    from pathlib import Path

    pytest.importorskip("dask_jobqueue")
    path = Path(__file__).parents[1] / "scripts" / "dask_slurm.py"
    spec = importlib.util.spec_from_file_location("dask_slurm", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert script.main(["--jobs", "2", "--cores", "8", "--processes", "2", "--gpus-per-job", "2",
                        "--dry-run", "--", "solarmaggan", "generate", "in/", "--model", "run",
                        "--out", "out"]) == 0
    printed = capsys.readouterr().out
    assert "#SBATCH --cpus-per-task=8" in printed and "#SBATCH --gpus=2" in printed
    assert "--nthreads 1" in printed and "--nworkers 2" in printed
    assert "export TF_NUM_INTRAOP_THREADS=4" in printed
    assert "solarmaggan generate in/ --model run --out out --scheduler tcp://" in printed
    with pytest.raises(SystemExit):
        script.main(["--dry-run", "--", "solarmaggan", "prep", "--scheduler", "dask"])
