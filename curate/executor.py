"""Executors: where a phase's tasks run. The runner decides what runs; an executor only runs it.

- ``RayExecutor``: each job is a Ray task (one CPU, retried on worker death), at most
  ``max_in_flight`` submitted at once; it starts a local Ray or joins a cluster.
- ``LocalExecutor``: each job is a plain call in this process, one after the other. For
  tests of stage logic, debugging with a debugger or a profiler, and small global phases.

A job is ``(label, args)``; ``function(*args)`` must be a module-level function (Ray pickles
it by reference), and its result a small record: documents stay in files.
"""

from __future__ import annotations

import logging
import os
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from curate.progress import Progress
from curate.ray_watchdog import watch_local_raylet

log = logging.getLogger("curate")

Job = tuple[Any, tuple]
OnResult = Callable[[Any, Any], None]
OnError = Callable[[Any, BaseException], None]


class RunError(RuntimeError):
    """The run could not complete (as opposed to single inputs failing)."""


def raise_on_error(phase: str) -> OnError:
    def fail(job: Any, error: BaseException) -> None:
        raise RunError(f"{phase} task {job} failed: {error}") from error

    return fail


class Executor(ABC):
    name: str
    """What the manifest says ran the global phases ("driver" or "ray tasks")."""

    @property
    @abstractmethod
    def parallel(self) -> int:
        """How many tasks run at once."""

    @abstractmethod
    def submit_all(
        self, function: Callable, jobs: list[Job], on_result: OnResult, on_error: OnError, progress: Progress
    ) -> None:
        """Run every job; report each result or failure as it comes."""

    def map(self, phase: str, function: Callable, jobs: list[Job], on_result: OnResult, on_error: OnError) -> None:
        with Progress(phase, len(jobs)) as progress:
            self.submit_all(function, jobs, on_result, on_error, progress)

    def run(self, phase: str, function: Callable, jobs: list[Job]) -> dict[Any, Any]:
        """Every job's result by label; any failure ends the run (``RunError``)."""
        results: dict[Any, Any] = {}
        self.map(phase, function, jobs, results.__setitem__, raise_on_error(phase))
        return results

    def share(self, value: Any) -> Any:
        """A handle to pass the same large argument to many jobs (Ray's object store)."""
        return value

    def close(self) -> None:  # noqa: B027 - most executors hold nothing
        pass


class LocalExecutor(Executor):
    name = "driver"

    @property
    def parallel(self) -> int:
        return 1

    def submit_all(
        self, function: Callable, jobs: list[Job], on_result: OnResult, on_error: OnError, progress: Progress
    ) -> None:
        for job, args in jobs:
            try:
                result = function(*args)
            except Exception as error:  # noqa: BLE001 - reported per job, as Ray reports a task's error
                on_error(job, error)
            else:
                on_result(job, result)
            progress.advance(str(job))


def connect_ray(address: str | None, workers: int | None, retries: int = 2) -> bool:
    """Connect to a cluster, or start a local Ray; return True when we started it here.

    Without an address (nor ``RAY_ADDRESS``) the Ray is private to this run, even when a
    ``ray start`` cluster (or a dead one's leftover address file) is on the machine: ``auto``
    joins that one. A task killed by Ray's memory monitor is retried ``retries`` times, not
    forever (Ray's default for memory kills), so a memory-hungry input fails the run."""
    import ray

    if ray.is_initialized():
        return False
    address = address or os.environ.get("RAY_ADDRESS") or None
    # The submitting process decides on memory-kill retries, so the setting goes to this
    # driver's Ray, a cluster's too.
    os.environ["RAY_task_oom_retries"] = str(retries)
    if address:
        ray.init(address=address, logging_level=logging.WARNING, log_to_driver=True)
    else:
        ray.init(
            address="local",
            num_cpus=workers or os.cpu_count(),
            include_dashboard=False,
            logging_level=logging.WARNING,
            _system_config={"task_oom_retries": retries},
        )
    return True


def stop_local_ray() -> None:
    """``ray.shutdown()`` of the Ray this process started, without its one-second wait.

    Ray stops the raylet and the GCS before the autoscaler monitor, whose SIGTERM handler then
    reports to the GCS that is gone and hangs until Ray kills it a second later (the order
    ray-project/ray#30672 fixed for ``ray stop``, not for ``ray.shutdown``). A local Ray of fixed
    size leaves the monitor nothing to do, so it is killed first: shutdown 1.3 -> 0.14 s."""
    import ray

    # Private API: in a Ray without it the monitor is left to ray.shutdown, as before.
    node = getattr(getattr(ray, "_private", None), "worker", None)
    kill_monitor = getattr(getattr(node, "_global_node", None), "kill_monitor", None)
    if kill_monitor is not None:
        try:
            kill_monitor(check_alive=False)
        except Exception as error:  # noqa: BLE001 - shutdown below still stops it
            log.debug("could not stop Ray's autoscaler monitor first: %s", error)
    ray.shutdown()


class RayExecutor(Executor):
    name = "ray tasks"

    def __init__(self, *, address: str | None, workers: int | None, retries: int, max_in_flight: int | None) -> None:
        import ray

        self.started = connect_ray(address, workers, retries)
        self._watch = watch_local_raylet() if self.started and not (address or os.environ.get("RAY_ADDRESS")) else None
        self.retries = retries
        self._parallel = workers or int(ray.cluster_resources().get("CPU", 1))
        self.max_in_flight = max_in_flight or 2 * self._parallel
        if workers and not self.started:
            # On a cluster (or a Ray we did not size), --workers caps the tasks in flight.
            self.max_in_flight = min(self.max_in_flight, workers)
        self._remote: dict[Callable, Any] = {}

    @property
    def parallel(self) -> int:
        return self._parallel

    def share(self, value: Any) -> Any:
        import ray

        return ray.put(value)

    def submit_all(
        self, function: Callable, jobs: list[Job], on_result: OnResult, on_error: OnError, progress: Progress
    ) -> None:
        import ray

        if function not in self._remote:
            # SPREAD: tasks are independent and coarse; the default policy packs short ones onto
            # the node whose worker is warm, which leaves a cluster's other nodes idle.
            self._remote[function] = ray.remote(num_cpus=1, max_retries=self.retries, scheduling_strategy="SPREAD")(
                function
            )
        remote = self._remote[function]
        queue = list(reversed(jobs))
        pending: dict[Any, Any] = {}
        while queue or pending:
            while queue and len(pending) < self.max_in_flight:
                job, args = queue.pop()
                pending[remote.remote(*args)] = job
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                job = pending.pop(ref)
                try:
                    result = ray.get(ref)
                except (ray.exceptions.RayError, OSError) as error:
                    on_error(job, error)
                else:
                    on_result(job, result)
                progress.advance(str(job))

    def close(self) -> None:
        if self._watch is not None:
            self._watch.set()
        if self.started:
            stop_local_ray()


def node_id() -> str | None:
    """The Ray node a task runs on, for the manifest (which machine read which file, counted
    which partition); None without Ray."""
    import ray

    return ray.get_runtime_context().get_node_id() if ray.is_initialized() else None


def make_executor(
    kind: str, *, address: str | None, workers: int | None, retries: int, max_in_flight: int | None
) -> Executor:
    if kind == "local":
        return LocalExecutor()
    return RayExecutor(address=address, workers=workers, retries=retries, max_in_flight=max_in_flight)
