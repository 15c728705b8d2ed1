"""Where the per-file work of a command runs: local processes, or a Dask cluster.

Every command that works file by file (``prep``, ``generate``, ``regions``, ``toysun
campaign``, the gridding of ``assimilate``) takes ``--scheduler``:

``processes``        (the default) this machine's process pool (``--workers`` processes;
                     ``generate``: one process, TensorFlow's threads on every core). No Dask
                     needed.
``dask``             a local ``dask.distributed`` cluster started for the run and closed
                     after it: ``--workers`` worker processes (default: one per core), each
                     with one task thread and ``cores / workers`` threads for its maths
                     libraries. Its dashboard address is printed.
``tcp://HOST:PORT``  the scheduler of an existing Dask cluster (``dask scheduler`` and
                     ``dask worker``, or ``dask-jobqueue`` on SLURM: ``scripts/
                     dask_slurm.py``). Its workers need solarmaggan installed and must see
                     the input and output folders at the same paths (shared storage).

The work is split into tasks, one a file, a time or a batch of files (each command says
which); :meth:`TaskRunner.map` hands them out, at most ``window`` at once, and yields the
results in the order of the tasks, so the one process that writes a shared file (the HDF5
pair file, a catalogue) writes it in the serial run's order and the outputs equal the
serial run's. Workers write their own files atomically (:mod:`data_prep.atomic`). A task
whose worker dies (killed, out of memory) is run again on another worker by the Dask
scheduler (up to its ``distributed.scheduler.allowed-failures``, 3), and a task that raises
is tried once more, so the run completes. A re-run skips what is done: each command checks
its outputs before it makes a task.

The scheduler is reached before anything is written: a bad ``--scheduler`` value, a
missing ``distributed`` package or an address nobody answers is a ValueError of one line.
No TensorFlow here: this module serves ``data_prep`` and ``solarmaggan`` alike.
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import importlib.util
import logging
import multiprocessing
import os
import re
import math
import socket
import sys
import time
from typing import Any, Callable, Iterable, Iterator, Sequence

from data_prep.progress import quiet_libraries, verbose_requested

SCHEDULERS = ("processes", "dask")
ADDRESS = re.compile(r"^(tcp|tls)://[^\s/:]+:\d{1,5}$")
SCHEDULER_HELP = ("where the work runs: 'processes' (this machine's process pool), 'dask' (a "
                  "local Dask cluster started for the run, its dashboard address printed) or "
                  "tcp://HOST:PORT (an existing Dask scheduler; its workers must see the same "
                  "files)")
#: seconds to wait for an existing scheduler to answer
CONNECT_TIMEOUT_S = 10
#: how many more times a task that raised is run (a dead worker's tasks are rerun by the
#: scheduler itself, up to its allowed-failures)
TASK_RETRIES = 1
#: seconds between two counts of a cluster's workers
WORKER_COUNT_S = 10.0


def check_scheduler(text: str) -> str:
    """``text`` if it is ``processes``, ``dask`` or ``tcp://HOST:PORT`` (``tls://`` too),
    else ValueError of one line."""
    text = str(text).strip()
    if text in SCHEDULERS or ADDRESS.match(text):
        return text
    raise ValueError(f"--scheduler {text!r}: give 'processes', 'dask' or the address of a Dask "
                     "scheduler, tcp://HOST:PORT")


def _announce(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class TaskRunner:
    """Runs a command's tasks where :func:`open_scheduler` said: in local processes
    (``client`` None; ``workers`` of them) or on a Dask cluster (its ``client``)."""

    def __init__(self, workers: int, client: Any = None):
        self.workers = max(int(workers), 1)
        self.client = client
        self._pool: concurrent.futures.Executor | None = None
        self._counted = -math.inf  # when the cluster's workers were last counted

    def _submit(self, function: Callable[..., Any], arguments: Sequence[Any]):
        if self.client is not None:
            return self.client.submit(function, *arguments, pure=False, retries=TASK_RETRIES)
        if self._pool is None:
            # fork is fast, but not safe once TensorFlow runs threads in this process
            context = multiprocessing.get_context("spawn" if "tensorflow" in sys.modules else None)
            self._pool = concurrent.futures.ProcessPoolExecutor(self.workers, mp_context=context)
        return self._pool.submit(function, *arguments)

    def share(self, value: Any) -> Any:
        """``value`` sent once to every Dask worker (a future the tasks take in its place),
        instead of once with every task; ``value`` itself for local processes."""
        if self.client is None:
            return value
        return self.client.scatter(value, broadcast=True, hash=False)

    def map(self, function: Callable[..., Any], tasks: Iterable[Sequence[Any]]) -> Iterator[Any]:
        """``function(*task)`` for each task, yielded in the order of ``tasks``. At most 2
        tasks a worker are out at once (the workers counted again as the cluster grows or
        shrinks), so results waiting to be consumed stay few. One local process runs them
        here, one after another."""
        if self.client is None and self.workers == 1:
            yield from (function(*task) for task in tasks)
            return
        pending: collections.deque = collections.deque()
        for task in tasks:
            pending.append(self._submit(function, task))
            if len(pending) >= 2 * self.current_workers():
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()

    def current_workers(self) -> int:
        """The workers now: the cluster's (SLURM jobs join and leave; asked of the
        scheduler at most every WORKER_COUNT_S seconds), or the pool's."""
        if self.client is not None and time.monotonic() - self._counted >= WORKER_COUNT_S:
            self.workers = max(len(self.client.nthreads()), 1)
            self._counted = time.monotonic()
        return self.workers

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None


def _import_distributed():
    if importlib.util.find_spec("distributed") is None:
        raise ValueError("--scheduler dask or tcp://...: the 'distributed' package is not "
                         "installed: pip install 'solarmaggan[dask]'")
    import distributed

    if not verbose_requested():
        for name in ("distributed", "bokeh", "tornado"):
            logging.getLogger(name).setLevel(logging.ERROR)
    return distributed


def worker_thread_env(workers: int) -> dict[str, str]:
    """The environment of each of ``workers`` local worker processes: this machine's cores
    shared among them by their maths libraries (OpenMP, TensorFlow's intra-op pool)."""
    threads = str(max((os.cpu_count() or 1) // max(int(workers), 1), 1))
    return {"OMP_NUM_THREADS": threads, "TF_NUM_INTRAOP_THREADS": threads}


def _register_worker_setup(client: Any, setup: Callable[[], None]) -> None:
    """``setup`` on each worker, and on each that replaces a dead one."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a deprecation notice of register_worker_callbacks
        client.register_worker_callbacks(setup=setup)


def _check_reachable(address: str) -> None:
    """A ValueError of one line at once when nothing listens at ``address`` (connection
    refused, unknown host), before the Dask client's own retries."""
    host, port = address.split("://", 1)[1].rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as error:
        raise ValueError(f"--scheduler {address}: no Dask scheduler there "
                         f"({error.strerror or type(error).__name__})") from None


def _dashboard_text(client: Any) -> str:
    if "dashboard" in client.scheduler_info(n_workers=0).get("services", {}):
        return f"dashboard {client.dashboard_link}"
    if importlib.util.find_spec("bokeh") is None:
        return "no dashboard (it needs bokeh: pip install 'solarmaggan[dask]')"
    return "no dashboard (the scheduler serves none)"


@contextlib.contextmanager
def open_scheduler(scheduler: str = "processes", workers: int | None = None,
                   announce: Callable[[str], None] | None = _announce,
                   worker_setup: Callable[[], None] = quiet_libraries,
                   processes_default: int | None = None) -> Iterator[TaskRunner]:
    """The :class:`TaskRunner` of ``scheduler`` (:func:`check_scheduler`), closed after.

    ``workers``: local processes for ``processes`` (default ``processes_default``, None:
    all cores; 1 runs the tasks in this process) and for ``dask`` (default: one per core);
    ignored for an address (the cluster has its own). ``announce`` gets one line naming
    the cluster and its dashboard (None: nothing shown). ``worker_setup`` runs on every
    Dask worker before its first task (and on one that replaces a dead worker): the console
    set-up (default :func:`data_prep.progress.quiet_libraries`; ``generate`` gives
    :func:`solarmaggan.console.quiet_worker`, which also imports TensorFlow quietly). A
    scheduler that cannot be reached is a ValueError of one line, raised before the caller
    writes anything."""
    scheduler = check_scheduler(scheduler)
    if workers is None and scheduler == "processes":
        workers = processes_default
    count = (os.cpu_count() or 1) if workers is None else max(int(workers), 1)
    if scheduler == "processes":
        runner = TaskRunner(count)
        try:
            yield runner
        finally:
            runner.close()
        return
    distributed = _import_distributed()
    cluster = None
    try:
        if scheduler == "dask":
            cluster = distributed.LocalCluster(
                n_workers=count, threads_per_worker=1, processes=True,
                silence_logs=logging.WARNING if verbose_requested() else logging.ERROR,
                env=worker_thread_env(count))
            client = distributed.Client(cluster)
            where = f"local Dask cluster {cluster.scheduler_address}"
        else:
            _check_reachable(scheduler)
            try:
                client = distributed.Client(scheduler, timeout=f"{CONNECT_TIMEOUT_S}s")
            except (OSError, TimeoutError) as error:
                raise ValueError(f"--scheduler {scheduler}: no Dask scheduler answered there "
                                 f"within {CONNECT_TIMEOUT_S} s ({type(error).__name__})") from None
            where = f"Dask cluster {scheduler}"
    except BaseException:
        if cluster is not None:
            cluster.close()
        raise
    try:
        _register_worker_setup(client, worker_setup)
        count = max(len(client.nthreads()), 1)
        if announce is not None:
            announce(f"{where}: {count} worker{'s' if count > 1 else ''}, "
                     f"{_dashboard_text(client)}")
        yield TaskRunner(count, client)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def add_scheduler_argument(parser: Any) -> None:
    """The ``--scheduler`` option of a command (checked when the command opens it, before
    anything is written: a bad value is a one-line error, exit status 2)."""
    parser.add_argument("--scheduler", default="processes", metavar="SCHEDULER",
                        help=SCHEDULER_HELP)
