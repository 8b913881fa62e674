"""Per account: the requests, errors, time and cache hits of each account a run called in.

Shown beside "Per region" only when some call ran in another account (``account=`` or
``fanout(accounts=…)``); calls as the kit's own identity are the row ``(own identity)``. The
figures are ``_perf._grouped``'s, grouped by the ``api_calls`` row's ``account``, so an
account's AssumeRole requests count in its own row.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._data import RunData
from ._perf import _grouped
from ._sections import Section
from ._tables import note_html, records, table_html, table_md

if TYPE_CHECKING:
    import pandas as pd

OWN = "(own identity)"


def account_table(data: RunData) -> pd.DataFrame | None:
    """One row per account (None when every call ran as the kit's own identity)."""
    calls = data.calls
    if not len(calls) or "account" not in calls.columns or not calls["account"].notna().any():
        return None
    import dataclasses

    req = data.requests
    keyed = dataclasses.replace(
        data, calls=calls.assign(account=calls["account"].fillna(OWN).astype(str)),
        requests=req.assign(account=req["account"].fillna(OWN).astype(str)))
    table = _grouped(keyed, "account", "account")
    return table.sort_values(["time in requests (s)", "account"], ascending=[False, True],
                             ignore_index=True)


def account_section(table: pd.DataFrame) -> Section:
    note = ("Requests, cache hits, errors and time per account, each through its assumed role "
            "(its AssumeRole requests included); the kit's own identity is "
            f"{OWN!r}. Ordered by time in requests, most first.")
    return Section("accounts", "Per account", note_html(note) + table_html(table),
                   note + "\n\n" + table_md(table), records(table), note=note)
