"""The DAG scheduler behind ``Engine.jobs``: start each job once its dependencies are done.

The spec is parsed and checked in ``dag.py`` before this runs. Jobs run on a
``ThreadPoolExecutor`` of the run's own (its threads are joined when the run ends), each
through the run's attached runner; the run loop calls back ``on_resolved`` for every
job that ends, in the calling thread, so the bookkeeping here needs no lock. A failed or
timed-out job's dependents are resolved ``skipped`` at once (cancelled if it was
cancelled), and so, through the same callback, are theirs.
"""

from __future__ import annotations

import functools
from concurrent.futures import ThreadPoolExecutor

from ..errors import GeuseError
from ..states import JobStatus
from ._run import Run
from .dag import Graph
from .results import Outcome

_VERB = {JobStatus.FAILED: "failed", JobStatus.TIMED_OUT: "timed out"}


def start_graph(run: Run, graph: Graph) -> None:
    """Submit the jobs without dependencies; the rest follow as their dependencies end."""
    names = list(graph)
    index = {n: i for i, n in enumerate(names)}
    dependents: dict[str, list[str]] = {n: [] for n in names}
    for n, (_, deps, _) in graph.items():
        for d in set(deps):
            dependents[d].append(n)
    waiting = {n: len(set(deps)) for n, (_, deps, _) in graph.items()}
    runner = run.runner
    executor = ThreadPoolExecutor(run.workers, thread_name_prefix=f"geuse-jobs-{run.name}",
                                  initializer=run.adopt)

    def submit(n: str) -> None:
        fn, deps, pass_deps = graph[n]
        kwargs = {d: run.outcomes[index[d]].value for d in deps} if pass_deps else {}
        executor.submit(runner, index[n], functools.partial(fn, **kwargs))

    def on_resolved(out: Outcome) -> None:
        n = names[out.index]
        for child in dependents[n]:
            mine = run.outcomes[index[child]]
            if out.status == JobStatus.DONE:
                waiting[child] -= 1
                if waiting[child] == 0 and mine.status is None:
                    submit(child)
            elif mine.status is None:
                status = out.status or JobStatus.CANCELLED
                error = GeuseError(f"skipped: dependency {n!r} {_VERB.get(status, status)}",
                                   suggestion=f"fix {n!r} and run again")
                run.resolve(mine, JobStatus.CANCELLED if status == JobStatus.CANCELLED
                            else JobStatus.SKIPPED, error)

    run.on_resolved = on_resolved
    run.on_finish(lambda: executor.shutdown(wait=False, cancel_futures=True))
    for n in names:
        if waiting[n] == 0:
            submit(n)
