"""A pool of processes for the course runner's parallel retrain path (``python -m vae_helpers.tools.course --train``).

:class:`Job` is one task (a notebook, or the training of one recipe into the retrain cache); :func:`run_jobs` runs a
list of them in a process pool, each after the jobs it needs, with its output in a log file of its own. On a 2-core
CPU the MLP VAEs' small matrix products gain almost nothing from a second thread, so two one-thread processes do
nearly twice the work of one two-thread process (``python -m benchmarks jobs`` measures it).
"""

from __future__ import annotations

import multiprocessing
import os
import re
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..config import display_path, threads_label


def default_jobs() -> int:
    """Parallel jobs of a ``--train`` run: one per CPU core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS and Windows have no sched_getaffinity
        return max(1, os.cpu_count() or 1)


@dataclass
class Job:
    """One task of a parallel run, executed in a process of the pool: a notebook, or the training of one recipe
    into the retrain cache.

    Attributes:
        label: what the report calls it (``"06_conv_vae.ipynb"``, ``"train fashion-conv-vae-d20"``).
        task: a module-level function (the pool's processes import it by name) and ``args``, its arguments.
        needs: labels of the jobs that must have ended first.
        notebook: the notebook's file name, for notebook jobs (they make the report's rows).
    """

    label: str
    task: Callable[..., Any]
    args: tuple = ()
    needs: tuple[str, ...] = ()
    notebook: str | None = None
    status: str = "pending"
    seconds: float = 0.0
    threads: int = 1
    log: Path | None = None


def _run_in_pool(task: Callable[..., Any], args: tuple, threads: int, log: str) -> None:
    """What a pool process runs for one job: ``threads`` threads (torch's and any kernel's it starts), its
    output, C level included, into ``log``; a failure's traceback goes there too, then re-raises."""
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = str(threads)  # papermill's kernels inherit it
    torch.set_num_threads(threads)
    with open(log, "w") as handle:
        sys.stdout.flush(), sys.stderr.flush()
        os.dup2(handle.fileno(), 1), os.dup2(handle.fileno(), 2)
        try:
            task(*args)
        except BaseException:
            traceback.print_exc()
            raise
        finally:
            sys.stdout.flush(), sys.stderr.flush()


def run_jobs(jobs: list[Job], slots: int, log_dir: Path) -> list[Job]:
    """Run ``jobs`` in a pool of ``slots`` processes (a fresh process per job), each after the jobs it ``needs``.

    A free slot takes the first job in list order whose needs have ended (a failed need counts as
    ended: a notebook then trains what it lacks itself and shows any error in its own cell). Each job
    gets ``cores // slots`` threads (at least 1), except a job started when nothing else runs or could start
    before it ends, which gets every core. Its output goes to ``log_dir/<label>.log``; a line is printed when
    it starts and when it ends, with the log's last lines on a failure. Returns ``jobs`` with ``status``
    (``"ok"`` / ``"FAILED"``), ``seconds`` and ``threads`` set. On an interrupt (Ctrl-C) the pool's processes
    are stopped (the running jobs' ``status`` becomes ``"interrupted"``) before it propagates.
    """
    log_dir.mkdir(parents=True, exist_ok=True)
    cores = default_jobs()
    pending, running, ended = list(jobs), {}, set()

    def ready(job: Job) -> bool:
        return all(need in ended for need in job.needs)

    started_at = time.perf_counter()
    pool = _pool_context().Pool(processes=slots, maxtasksperchild=1)  # one job per process: its settings die with it
    try:
        while pending or running:
            for job in list(pending):
                if len(running) >= slots:
                    break
                if not ready(job):
                    continue
                pending.remove(job)
                # alone: nothing else runs, and nothing else can start before this job ends
                alone = not running and not any(ready(other) for other in pending)
                job.threads = cores if alone else max(1, cores // slots)
                job.log = log_dir / (re.sub(r"[^\w.+-]+", "_", job.label) + ".log")
                result = pool.apply_async(_run_in_pool, (job.task, job.args, job.threads, str(job.log)))
                running[job.label] = (job, result, time.perf_counter())
                print(
                    f"[{time.perf_counter() - started_at:6.0f} s] start {job.label} ({threads_label(job.threads)})",
                    flush=True,
                )
            _pause()
            for label, (job, result, t0) in list(running.items()):
                if not result.ready():
                    continue
                del running[label]
                ended.add(label)
                job.seconds = time.perf_counter() - t0
                job.status = "ok" if result.successful() else "FAILED"
                print(
                    f"[{time.perf_counter() - started_at:6.0f} s] {job.status:>6s} {label} ({job.seconds:.0f} s)",
                    flush=True,
                )
                if job.status != "ok":
                    tail = job.log.read_text(errors="replace").splitlines()[-15:]
                    print(f"  its log, {display_path(job.log)}, ends:\n" + "\n".join("    " + line for line in tail))
        pool.close()
    finally:  # an interrupt (or any error) here must not leave training processes behind
        if running:
            pool.terminate()
            for job, _, _ in running.values():
                job.status = "interrupted"
        pool.join()
    return jobs


def _pool_context() -> multiprocessing.context.BaseContext:
    """How the pool starts its processes: forked from a clean server process that has imported the heavy modules
    once (``forkserver``: each job starts in about a second, and never inherits the threads of a process that has
    computed with torch, which fork alone would); ``spawn`` where there is no forkserver (Windows). This module is
    not preloaded: run as ``python -m``, it is each job's ``__main__``, which a preloaded copy would shadow."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["vae_helpers.zoo", "papermill", "nbformat"])
    return context


def _pause() -> None:
    """The runner's wait between two looks at its jobs."""
    time.sleep(0.2)
