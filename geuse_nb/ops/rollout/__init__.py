"""Roll one CloudFormation stack out to many regions, with StackSets' semantics.

``plan(regions, ...)`` says in which order and waves, how many regions at once and how
many failures are tolerated (no kit needed); ``run(kit, plan, template, stack_name=...)``
dry-runs it (the default: reads only) or, with ``apply=True``, creates or updates the stack
per region under that plan, with a live board, polling, gates, bake time and rollback.
``capabilities=None`` sends what the template needs. ``RolloutResult.frame()`` and
``.gantt()`` show what happened; the rows also reach the kit's metrics ``jobs`` table.

Modules: ``_plan`` (plan and its checks), ``_template`` (template text, parameters, the
bundled sample), ``_capabilities`` (which ``Capabilities`` a template needs), ``_deploy``
(one region's calls), ``_scheduler`` (concurrency and tolerance over worker threads),
``_run`` (the run), ``_result`` (the result table and chart), ``_model`` (states).
"""

from __future__ import annotations

from ._model import Action, Mode, RegionOutcome, RegionState
from ._plan import Plan, plan
from ._result import RolloutResult
from ._run import RolloutInterrupted, run
from ._template import template_path

__all__ = ["Action", "Mode", "Plan", "RegionOutcome", "RegionState", "RolloutInterrupted",
           "RolloutResult", "plan", "run", "template_path"]
