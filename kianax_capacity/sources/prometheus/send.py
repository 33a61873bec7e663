"""Sending the plan's requests on a thread pool: all at once, or day by day with the cache.

:func:`run_pool` sends jobs concurrently and hands each answer to a callback on the worker
thread that received it. :func:`run_days` is the aggregate shape's run: each aggregate chunk
(a UTC day) is read from the per-day cache (:mod:`.cache`) when it holds it, otherwise fetched
into a :class:`~.fold.Results` of its own, stored when the day is complete and settled, and
folded into the fetch's results (:meth:`~.fold.Results.absorb`). Fetched and cached days go
through the same absorb, so a snapshot from the cache equals a cold fetch of the same window.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from datetime import datetime
from pathlib import Path
from typing import Any

from kianax_capacity.sources.prometheus._memory import GC_PAUSED, release_free_memory
from kianax_capacity.sources.prometheus.cache import CacheStats, DayCache, cacheable, jobs_digest
from kianax_capacity.sources.prometheus.client import PrometheusClient, QueryRejectedError
from kianax_capacity.sources.prometheus.fold import Results
from kianax_capacity.sources.prometheus.plan import QueryJob, QueryPlan

__all__ = ["Answer", "run_days", "run_pool"]

#: Called with (the job as planned, the job answered: its fallback if the server refused it,
#: the answer's ``result`` list), on the worker thread that received it.
Answer = Callable[[QueryJob, QueryJob, list[dict[str, Any]]], None]


def run_pool(
    client: PrometheusClient,
    jobs: tuple[QueryJob, ...] | list[QueryJob],
    concurrency: int,
    progress: Any,
    answer: Answer,
) -> None:
    """Send every job (``concurrency`` at a time); the first failure cancels the rest."""
    if progress is not None and hasattr(progress, "task"):
        # The CLI's Progress: a bar with a known total, advanced once per answer.
        with progress.task(f"querying {client.safe_url}", total=len(jobs)) as advance:
            _pool(client, jobs, concurrency, lambda _done, _total: advance(1), answer)
            return
    _pool(client, jobs, concurrency, progress, answer)


def _pool(
    client: PrometheusClient,
    jobs: tuple[QueryJob, ...] | list[QueryJob],
    concurrency: int,
    progress: Callable[[int, int], None] | None,
    answer: Answer,
) -> None:
    total = len(jobs)
    done = 0
    rejected: set[str] = set()  # names whose query the server refused: use their fallback

    def fetch_one(planned: QueryJob) -> None:
        job = planned
        if job.fallback is not None and job.name in rejected:
            job = job.fallback
        try:
            result = client.run(job)
        except QueryRejectedError:
            if job.fallback is None:
                raise
            rejected.add(job.name)
            job = job.fallback
            result = client.run(job)
        # Converted on the worker thread, so no finished Future keeps a parsed JSON answer.
        with GC_PAUSED:
            answer(planned, job, result)

    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="promql") as pool:
        pending: set[Future[None]] = {pool.submit(fetch_one, job) for job in jobs}
        while pending:
            finished, pending = wait(pending, return_when=FIRST_EXCEPTION)
            for future in finished:
                error = future.exception()
                if error is not None:
                    for other in pending:
                        other.cancel()
                    raise error
                done += 1
                if progress is not None:
                    progress(done, total)


def run_days(
    client: PrometheusClient,
    plan: QueryPlan,
    concurrency: int,
    progress: Any,
    cache: DayCache | None,
    stats: CacheStats | None,
    now: datetime,
    spill: Path | None = None,
) -> Results:
    """The aggregate shape's answers, day by day: cached days read, the others fetched.

    Args:
        cache: the per-day cache, or None (``--no-cache``: every day fetched, nothing stored).
        stats: counts hits, misses, uncacheable and invalid entries (with ``cache``).
        now: which days have settled (:func:`~.cache.cacheable`).
        spill: a private folder where the answers assembly reads last wait
            (:data:`~.fold.SPILLED_ANSWERS`); None keeps them in memory.
    """
    results = Results(spill=spill)
    by_chunk: dict[int, list[QueryJob]] = {}
    for job in plan.jobs:
        by_chunk.setdefault(job.chunk, []).append(job)
    cached: list[int] = []
    to_store: dict[int, str] = {}  # chunk -> its jobs' digest, for days stored once fetched
    fetched: list[int] = []
    for index, chunk in enumerate(plan.aggregate_chunks):
        if cache is None or stats is None:
            fetched.append(index)
        elif not cacheable(chunk, plan.chunk_points, now):
            stats.uncacheable += 1
            fetched.append(index)
        else:
            digest = to_store[index] = jobs_digest(by_chunk.get(index, []))
            (cached if cache.probe(chunk, digest, stats) else fetched).append(index)

    # Jobs outside the day chunks (none today; a window-wide query a later catalog adds) are
    # always fetched, never stored: only a day's own jobs make its entry.
    fetched.extend(sorted(set(by_chunk) - set(range(len(plan.aggregate_chunks)))))

    def fetch_days(days: list[int]) -> None:
        jobs = [job for index in days for job in by_chunk.get(index, [])]
        _fetch_days(client, jobs, concurrency, progress, results, plan, cache, to_store)

    # The new days are fetched on a background thread while the cached ones are read here: the
    # server works on its queries while the client reads Parquet.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="days") as background:
        fetching = background.submit(fetch_days, fetched)
        unreadable = []
        for index in cached:
            assert cache is not None and stats is not None
            day = cache.read(plan.aggregate_chunks[index], stats)
            if day is None:
                unreadable.append(index)
                continue
            stats.hits += 1
            results.absorb(day, index)
            del day
        fetching.result()
    if unreadable:  # torn entries: fetched now, and stored again
        fetch_days(unreadable)
    if stats is not None:
        stats.misses = len(to_store) - stats.hits
    return results


def _fetch_days(
    client: PrometheusClient,
    jobs: list[QueryJob],
    concurrency: int,
    progress: Any,
    results: Results,
    plan: QueryPlan,
    cache: DayCache | None,
    to_store: dict[int, str],
) -> None:
    """Send ``jobs``; each day's answers go into a Results of its own, and when its last answer
    is in, the day is stored (when cacheable) and absorbed into ``results``."""
    days: dict[int, Results] = {}
    remaining = Counter(job.chunk for job in jobs)
    lock = threading.Lock()

    def answer(planned: QueryJob, job: QueryJob, result: list[dict[str, Any]]) -> None:
        with lock:
            day = days.setdefault(planned.chunk, Results())
        day.add(job, result)
        with lock:
            remaining[planned.chunk] -= 1
            complete = remaining[planned.chunk] == 0
            if complete:
                del days[planned.chunk]
        if not complete:
            return
        # The day's last answer: stored (if cacheable) and folded in, on this worker thread.
        frames = day.day_frames()
        del day
        digest = to_store.get(planned.chunk)
        if cache is not None and digest is not None:
            cache.store(plan.aggregate_chunks[planned.chunk], digest, frames)
        results.absorb(frames, planned.chunk)
        del frames
        # The day's parsed answers are freed now, in this worker's malloc arena: given back
        # before the next day's are parsed (~190 MB at 10,000 containers, docs/scaling.md).
        release_free_memory()

    run_pool(client, jobs, concurrency, progress, answer)
