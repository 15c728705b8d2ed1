#!/usr/bin/env python
"""Archive-scale throughput: ``prep`` and ``generate`` on a local Dask cluster of 1 and 2
workers, batched against one-image inference, and the wall time of two archive jobs.

Usage:
    python scripts/bench_scheduler.py [--work DIR] [--times 16] [--size 4096]
        [--euvi-size 2048] [--batch-size 4] [--workers 1 2]

1. Data (made once, kept in ``--work``): a toy-Sun campaign seen from Earth, AIA 304 and
   HMI at ``--size`` pixels (the seed's 4096 x 4096), and one from STEREO-A, EUVI 304 at
   ``--euvi-size`` (EUVI's 2048 x 2048), ``--times`` times 6 h apart.
2. ``prep --preset kim2019`` (1024 x 1024 frames) of the AIA/HMI pairs on a local Dask
   cluster of each ``--workers`` count: pairs/s in steady state (a warm-up pair first, the
   cluster kept up, so worker start-up is timed apart), and the files compared with the
   serial (``processes``, 1 worker) file.
3. Inference of the kim2019 generator (untrained: the timing does not depend on the
   weights) on 1024 x 1024 inputs, batch 1 against batch ``--batch-size``, in this process
   (TensorFlow's threads on every core, or the GPU when there is one).
4. ``generate`` of the EUVI files with the same generator, batches of ``--batch-size``, on
   the cluster of each worker count: images/s in steady state (each worker's model loaded
   in a warm-up run), outputs compared with the serial run's.
5. Projection: from the per-file seconds a worker measured with the most workers, the
   wall time of (a) the seed's training set, 10,000 AIA 304 / HMI pairs, and (b) STEREO-A's
   far side since 2011 at 1 h, 140,000 EUVI images (with 1 and 10 samples), on N workers,
   assuming the workers scale linearly (no file-system limit: the inputs are read from
   local disk here).

Prints one JSON record; the figures go into docs/benchmarks.md by hand.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import logging
import os
import platform
import shutil
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

ARCHIVE_PAIRS = 10_000      # the seed's training set: 2011-2017 at 6 h
ARCHIVE_FAR_SIDE = 140_000  # STEREO-A's EUVI 304 since 2011 at 1 h
WORKER_COUNTS = (1, 16, 64, 256)


def campaign(folder: Path, observer: str, size: int, times: int, workers: int) -> None:
    from data_prep.toysun.campaign import CampaignSettings, run_campaign

    settings = CampaignSettings(start="2011-03-01T00:00:00", days=times / 4, cadence_hours=6,
                                observers=(observer,), size=size, far_side_every=1)
    run_campaign(folder, settings, progress=True, workers=workers)


def untrained_kim2019(folder: Path) -> Path:
    """A run directory with the kim2019 generator, untrained (seed 0), and its config."""
    from solarmaggan.config import resolve_config, save_config
    from solarmaggan.models.from_config import generator_from_config

    if not (folder / "best_generator.keras").is_file():
        config = resolve_config("kim2019")
        folder.mkdir(parents=True, exist_ok=True)
        save_config(config, folder / "config.json")
        generator_from_config(config).save(folder / "best_generator.keras")
    return folder


def timed(function, *args, **kwargs) -> tuple[float, object]:
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - start, result


def max_fits_difference(first: Path, second: Path) -> float:
    from astropy.io import fits

    largest = 0.0
    for path in sorted(first.glob("*.fits")):
        a, b = fits.getdata(path), fits.getdata(second / path.name)
        largest = max(largest, float(np.nanmax(np.abs(a.astype(np.float64) - b))))
    return largest


def bench_prep(work: Path, data: Path, worker_counts: list[int]) -> dict:
    import distributed

    from data_prep.prep import PrepSettings, build_pair_file

    settings = PrepSettings.from_preset("kim2019")
    euv, hmi = [data / "sdo" / "aia"], [data / "sdo" / "hmi"]
    first = sorted((data / "sdo" / "aia").glob("*.fits"))[:1]
    first_hmi = sorted((data / "sdo" / "hmi").glob("*.fits"))[:1]
    serial_file = work / "prep_serial.h5"
    serial_file.unlink(missing_ok=True)
    seconds, record = timed(build_pair_file, euv, hmi, serial_file, settings, workers=1,
                            progress=False)
    results = {"serial_processes_1": {"pairs": record["written_now"], "seconds": seconds,
                                      "pairs_per_s": record["written_now"] / seconds}}
    for count in worker_counts:
        with local_cluster(count) as (cluster, started):
            with distributed.Client(cluster) as client:  # every worker imports the chain
                client.run(importlib.import_module, "data_prep.prep")
            warm = work / f"prep_warm_{count}.h5"
            warm.unlink(missing_ok=True)
            build_pair_file(first, first_hmi, warm, settings, progress=False,
                            scheduler=cluster.scheduler_address)
            out = work / f"prep_dask_{count}.h5"
            out.unlink(missing_ok=True)
            seconds, record = timed(build_pair_file, euv, hmi, out, settings, progress=False,
                                    scheduler=cluster.scheduler_address)
        results[f"dask_{count}"] = {
            "cluster_start_s": started, "pairs": record["written_now"], "seconds": seconds,
            "pairs_per_s": record["written_now"] / seconds,
            "same_bytes_as_serial": out.read_bytes() == serial_file.read_bytes()}
    return results


@contextlib.contextmanager
def local_cluster(count: int):
    """(a local Dask cluster of ``count`` one-thread workers, the seconds it took to start),
    its workers' maths libraries on ``cores / count`` threads as ``--scheduler dask``'s."""
    import distributed

    from data_prep.scheduler import worker_thread_env

    start = time.perf_counter()
    with distributed.LocalCluster(
            n_workers=count, threads_per_worker=1, processes=True, silence_logs=logging.ERROR,
            dashboard_address=None, env=worker_thread_env(count)) as cluster:
        yield cluster, time.perf_counter() - start


def bench_inference(run_dir: Path, batch_size: int, images: int) -> dict:
    from solarmaggan.generate import loaded_models

    generators, config, _ = loaded_models([str(run_dir)])
    generator = generators[0]
    size = int(config["data"]["image_size"])
    rng = np.random.default_rng(0)
    results = {}
    for batch in sorted({1, batch_size}):
        euv = rng.uniform(-1, 1, (batch, size, size, 1)).astype(np.float32)
        np.asarray(generator(euv, training=False))  # warm-up (graph tracing)
        calls = max(images // batch, 1)
        seconds, _ = timed(lambda: [np.asarray(generator(euv, training=False))
                                    for _ in range(calls)])
        results[f"batch_{batch}"] = {"images": calls * batch, "seconds": seconds,
                                     "images_per_s": calls * batch / seconds}
    results["batched_speed_up"] = (results[f"batch_{batch_size}"]["images_per_s"]
                                   / results["batch_1"]["images_per_s"])
    return results


def bench_generate(work: Path, data: Path, run_dir: Path, batch_size: int,
                   worker_counts: list[int]) -> dict:
    import distributed

    from solarmaggan.generate import generate

    inputs = sorted((data / "stereo-a" / "euvi").glob("*.fts"))
    serial_out = work / "generate_serial"
    shutil.rmtree(serial_out, ignore_errors=True)
    generate(run_dir, inputs[:1], work / "generate_warm_here", batch_size=batch_size,
             overwrite=True, quicklook=False, progress=False)  # model loaded here
    seconds, report = timed(generate, run_dir, inputs, serial_out, batch_size=batch_size,
                            quicklook=False, progress=False)
    results = {"serial_processes": {"images": len(report["written"]), "seconds": seconds,
                                    "images_per_s": len(report["written"]) / seconds}}
    for count in worker_counts:
        with local_cluster(count) as (cluster, started):
            with distributed.Client(cluster) as client:  # every worker loads the model
                warm_seconds, _ = timed(client.run, warm_worker, str(run_dir))
            generate(run_dir, inputs[:batch_size * count], work / f"generate_warm_{count}",
                     batch_size=batch_size, overwrite=True, quicklook=False, progress=False,
                     scheduler=cluster.scheduler_address)
            out = work / f"generate_dask_{count}"
            shutil.rmtree(out, ignore_errors=True)
            seconds, report = timed(generate, run_dir, inputs, out, batch_size=batch_size,
                                    quicklook=False, progress=False,
                                    scheduler=cluster.scheduler_address)
        results[f"dask_{count}"] = {
            "cluster_start_s": started, "model_load_s": warm_seconds,
            "images": len(report["written"]), "seconds": seconds,
            "images_per_s": len(report["written"]) / seconds,
            "max_abs_difference_from_serial_gauss": max_fits_difference(serial_out, out)}
    return results


def warm_worker(run_dir: str) -> int:
    """On a worker: import TensorFlow and load the model (what its first batch would do)."""
    from solarmaggan.console import configure
    from solarmaggan.generate import loaded_models

    configure()
    loaded_models([run_dir])
    return os.getpid()


def projection(seconds_per_file_per_worker: float, files: int) -> dict[str, float]:
    """Hours of wall time for ``files`` on N workers, linear scaling."""
    return {f"{count}_workers_h": files * seconds_per_file_per_worker / count / 3600
            for count in WORKER_COUNTS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", default="/tmp/bench_scheduler", help="data and outputs")
    parser.add_argument("--times", type=int, default=16, help="campaign times (6 h apart)")
    parser.add_argument("--size", type=int, default=4096, help="AIA/HMI pixels a side")
    parser.add_argument("--euvi-size", type=int, default=2048, help="EUVI pixels a side")
    parser.add_argument("--batch-size", type=int, default=4, help="images a forward pass")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2],
                        help="local Dask cluster sizes")
    args = parser.parse_args()

    from solarmaggan.console import configure, load_tensorflow

    configure()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    near, far = work / "campaign_earth", work / "campaign_stereo_a"
    campaign(near, "earth", args.size, args.times, workers=max(args.workers))
    campaign(far, "stereo-a", args.euvi_size, args.times, workers=max(args.workers))
    load_tensorflow()
    import tensorflow as tf

    run_dir = untrained_kim2019(work / "kim2019_untrained")
    record = {
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                    "gpus": len(tf.config.list_physical_devices("GPU")),
                    "python": platform.python_version(), "tensorflow": tf.__version__},
        "settings": vars(args),
        "prep": bench_prep(work, near, args.workers),
        "inference": bench_inference(run_dir, args.batch_size, images=4 * args.batch_size),
        "generate": bench_generate(work, far, run_dir, args.batch_size, args.workers),
    }
    most = f"dask_{max(args.workers)}"
    prep_cost = max(args.workers) / record["prep"][most]["pairs_per_s"]
    generate_cost = max(args.workers) / record["generate"][most]["images_per_s"]
    # with 10 samples: nine more forward passes an image, at the batched speed of one worker
    inference_cost = 1.0 / record["inference"][f"batch_{args.batch_size}"]["images_per_s"]
    record["projection"] = {
        "prep_seconds_per_pair_per_worker": prep_cost,
        "generate_seconds_per_image_per_worker": generate_cost,
        "training_set_10000_pairs": projection(prep_cost, ARCHIVE_PAIRS),
        "far_side_140000_images": projection(generate_cost, ARCHIVE_FAR_SIDE),
        "far_side_140000_images_10_samples": projection(
            generate_cost + 9 * inference_cost * max(args.workers), ARCHIVE_FAR_SIDE),
    }
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
