"""Where work units run: in this process, in local processes, or on a Dask cluster.

A sweep is a set of independent work units (one replication of one point). Every executor has
the same small interface, :meth:`Executor.map_unordered`: give it keyed tasks, get back
``(key, result)`` pairs in whatever order they finish. Results are keyed, never positional, so
neither the order of completion nor the number of workers can change what a sweep computes —
and since replication ``k`` under seed ``s`` depends only on ``(s, k)``, every executor gives
bit-identical numbers.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable, Iterable, Iterator
from types import TracebackType
from typing import Any, Literal

from sim.scenario.errors import InputProblem, ScenarioError

__all__ = [
    "EXECUTORS",
    "HANDSHAKE_TIMEOUT_SECONDS",
    "DaskExecutor",
    "Executor",
    "ExecutorName",
    "ProcessExecutor",
    "SerialExecutor",
    "available_cores",
    "check_options",
    "check_scheduler",
    "make_executor",
]

ExecutorName = Literal["serial", "processes", "dask"]
EXECUTORS: tuple[str, ...] = ("serial", "processes", "dask")

HANDSHAKE_TIMEOUT_SECONDS = 5.0
"""How long a Dask scheduler has to greet us before ``--scheduler`` is called wrong (the
default of :class:`DaskExecutor`; ``sim sweep --scheduler-timeout`` sets it for its run)."""

Task = tuple[Hashable, tuple[Any, ...]]
"""A work unit: its key and the positional arguments of the function."""


def available_cores() -> int:
    """Cores this process may use (the affinity mask, not the machine's count, where known)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


class Executor(ABC):
    """Runs ``fn(*args)`` for keyed tasks; a context manager that releases its workers."""

    name: str = ""
    workers: int = 1

    @abstractmethod
    def map_unordered(
        self, fn: Callable[..., Any], tasks: Iterable[Task]
    ) -> Iterator[tuple[Hashable, Any]]:
        """Yield ``(key, fn(*args))`` as tasks finish. An exception in a task is raised here."""

    def close(self) -> None:  # noqa: B027 - nothing to release by default
        """Release workers; pending tasks are cancelled (finished results were yielded)."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class SerialExecutor(Executor):
    """Runs tasks one after another in this process: the reference, and easy to debug."""

    name = "serial"

    def map_unordered(
        self, fn: Callable[..., Any], tasks: Iterable[Task]
    ) -> Iterator[tuple[Hashable, Any]]:
        """Run the tasks one after another in this process, yielding (key, result)."""
        for key, args in tasks:
            yield key, fn(*args)


PARENT_POLL_SECONDS = 0.5
"""How often a worker checks that the process that started it is still alive."""


def _init_worker(parent: int) -> None:
    """Set up a pool worker: leave Ctrl-C to the parent, and die with the parent.

    Ctrl-C reaches the whole process group; the parent decides what to do, workers must not
    print tracebacks of their own. A parent killed outright (SIGKILL, the OOM killer) cannot
    shut its pool down, and its workers would compute on for nobody, reparented to init: a
    daemon thread in each worker watches for the change of parent and ends the worker. (Linux's
    PR_SET_PDEATHSIG is tied to the thread that forked, not to the process, so it is not used.)
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(
        target=_exit_when_orphaned, args=(parent,), name="sim-parent-watch", daemon=True
    ).start()


def _exit_when_orphaned(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(PARENT_POLL_SECONDS)
    os._exit(1)  # no cleanup to do: results only ever reach disk through the parent


class ProcessExecutor(Executor):
    """A local :class:`~concurrent.futures.ProcessPoolExecutor` (default: one worker per core).

    Where the platform can fork (Linux), workers are forked from this process, and all of them
    at once, here, before a progress bar or anything else of ours starts a thread. Forking
    makes workers start warm, and works from a notebook, from ``python -`` and from a script
    without an ``if __name__ == "__main__":`` guard; "spawn" and "forkserver" re-import the
    main module in every worker, which fails or re-runs the script in those cases. Elsewhere
    (macOS, Windows) the platform's default applies, and scripts need the guard.
    """

    name = "processes"

    def __init__(self, workers: int | None = None, start_method: str | None = None):
        # Imported here: a serial run (`sim run -r 1`) needs no pool, nor their import time.
        import concurrent.futures as cf
        import multiprocessing

        self.workers = workers or available_cores()
        if start_method is None and "fork" in multiprocessing.get_all_start_methods():
            start_method = "fork"
        context = multiprocessing.get_context(start_method)
        self._pool = cf.ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=context,
            initializer=_init_worker,
            initargs=(os.getpid(),),
        )
        # Start every worker now (a forking pool starts them all on its first task).
        self._pool.submit(os.getpid).result()

    def map_unordered(
        self, fn: Callable[..., Any], tasks: Iterable[Task]
    ) -> Iterator[tuple[Hashable, Any]]:
        """Submit every task to the process pool; yield (key, result) as each finishes."""
        import concurrent.futures as cf

        futures = {self._pool.submit(fn, *args): key for key, args in tasks}
        for future in cf.as_completed(futures):
            yield futures.pop(future), future.result()

    def close(self) -> None:
        """Stop the pool: running tasks finish, queued ones are dropped."""
        # Running tasks finish (at most one replication each); queued ones are dropped.
        self._pool.shutdown(wait=True, cancel_futures=True)


class DaskExecutor(Executor):
    """Tasks on a Dask cluster: the scheduler at ``scheduler``, or a local cluster we start.

    Remote workers need ``sim`` installed (the same version); scenarios are sent to them, so
    they need no access to the scenario files. Objects shared by many tasks (a point's
    scenario) are scattered to the workers once instead of being sent with every task.
    """

    name = "dask"

    def __init__(
        self,
        workers: int | None = None,
        scheduler: str | None = None,
        handshake_timeout: float | None = None,
    ):
        import logging

        from dask.distributed import Client, LocalCluster

        self._cluster = None
        if scheduler:
            if handshake_timeout is None:
                handshake_timeout = HANDSHAKE_TIMEOUT_SECONDS
            check_scheduler(scheduler, handshake_timeout)
            try:
                self._client = Client(scheduler, timeout=f"{max(handshake_timeout, 15.0)}s")
            except (OSError, TimeoutError, ValueError, MemoryError) as exc:
                raise _not_a_scheduler(scheduler, str(exc)) from None
            self.workers = max(1, sum(self._client.nthreads().values()))
        else:
            self.workers = workers or available_cores()
            self._cluster = LocalCluster(
                n_workers=self.workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.ERROR,
            )
            self._client = Client(self._cluster)

    def map_unordered(
        self, fn: Callable[..., Any], tasks: Iterable[Task]
    ) -> Iterator[tuple[Hashable, Any]]:
        """Submit every task to the Dask scheduler; yield (key, result) as each finishes."""
        import uuid

        from dask.distributed import as_completed

        token = uuid.uuid4().hex[:8]  # task keys must be unique for the client's lifetime
        scattered: dict[int, Any] = {}
        pending: dict[Hashable, tuple[Any, Hashable]] = {}  # dask key -> (future, our key)
        for i, (key, args) in enumerate(tasks):
            sent = tuple(self._share(a, scattered) for a in args)
            future = self._client.submit(fn, *sent, key=f"sim-{token}-{i}", pure=False)
            pending[future.key] = (future, key)
        try:
            for future in as_completed([f for f, _ in pending.values()]):
                result = future.result()
                _, key = pending.pop(future.key)
                future.release()
                yield key, result
        finally:
            for future, _ in pending.values():  # interrupted: drop what has not run
                future.cancel()
            scattered.clear()

    def _share(self, arg: Any, scattered: dict[int, Any]) -> Any:
        if arg is None or isinstance(arg, int | float | str | bool | bytes):
            return arg
        if id(arg) not in scattered:
            scattered[id(arg)] = (arg, self._client.scatter(arg, hash=False))
        return scattered[id(arg)][1]

    def close(self) -> None:
        """Shut the Dask client down, and the local cluster if this executor started it."""
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()


_MAX_HANDSHAKE_BYTES = 1 << 20  # a scheduler's greeting is a few hundred bytes


def _not_a_scheduler(address: str, why: str) -> ScenarioError:
    return ScenarioError(
        [
            InputProblem(
                "--scheduler",
                "",
                address,
                f"expected the address of a running Dask scheduler ({why})",
            )
        ]
    )


def check_scheduler(address: str, timeout: float | None = None) -> None:
    """Raise :class:`ScenarioError` unless a Dask scheduler greets us at ``address`` in time.

    A Dask scheduler speaks first: on a new connection it sends its handshake, a length-prefixed
    message of a few hundred bytes. Something else on the port either stays silent (an HTTP
    server waiting for a request: Dask would wait for minutes) or sends bytes whose first eight,
    read as a length, ask Dask to allocate exabytes. Both are caught here, in ``timeout``
    seconds at most, before Dask sees the address. Only TCP addresses (``tcp://`` or none) are
    checked; others (``tls://``, ``ws://``, ...) are left to Dask's own timeout.
    """
    import socket

    from distributed.comm.addressing import parse_address, parse_host_port

    if timeout is None:
        timeout = HANDSHAKE_TIMEOUT_SECONDS

    try:
        scheme, location = parse_address(address)
        if scheme != "tcp":
            return
        host, port = parse_host_port(location)
    except (ValueError, TypeError) as exc:
        raise _not_a_scheduler(address, f"not an address: {exc}") from None
    deadline = time.monotonic() + timeout

    def read(sock: socket.socket, n: int) -> bytes:
        data = b""
        while len(data) < n:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("the connection was closed before a Dask greeting")
            data += chunk
        return data

    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            size = int.from_bytes(read(sock, 8), "little")
            if not 0 < size <= _MAX_HANDSHAKE_BYTES:
                raise _not_a_scheduler(
                    address, "the service there answers, but not as a Dask scheduler does"
                )
            read(sock, size)
    except TimeoutError:
        raise _not_a_scheduler(
            address, f"nothing there greeted us as a Dask scheduler within {timeout:g} s"
        ) from None
    except OSError as exc:
        raise _not_a_scheduler(address, str(exc.strerror or exc)) from None


def check_options(kind: str, workers: int | None, scheduler: str | None) -> None:
    """Raise :class:`ScenarioError` for bad executor options, before any work starts."""
    problems = []
    if kind not in EXECUTORS:
        problems.append(
            InputProblem("--executor", "", kind, f"expected one of {', '.join(EXECUTORS)}")
        )
    if workers is not None and workers < 1:
        problems.append(InputProblem("--workers", "", workers, "expected a positive integer"))
    if scheduler and kind != "dask":
        problems.append(
            InputProblem("--scheduler", "", scheduler, "only used with --executor dask")
        )
    if problems:
        raise ScenarioError(problems)


def make_executor(
    kind: str = "processes", workers: int | None = None, scheduler: str | None = None
) -> Executor:
    """Build the executor called ``kind``; bad options are input problems (exit status 2)."""
    check_options(kind, workers, scheduler)
    if kind == "serial":
        return SerialExecutor()
    if kind == "processes":
        return ProcessExecutor(workers)
    return DaskExecutor(workers, scheduler)
