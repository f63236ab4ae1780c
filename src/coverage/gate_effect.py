"""What compound gates change: older residents within the walk limit with and without gates.

The gated walk times come from the study's access result; the comparison times come from one
more nearest-facility search on the plain street network (every home on its nearest street),
with the same demand points, snapping, speed and limit.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Words that mark a gate as illustrative (not surveyed) in its name or source column.
ILLUSTRATIVE_MARKS = ("illustrative", "示意")

#: The label of the total row of :func:`effect_table`.
TOTAL = "(all)"


def effect_table(district: np.ndarray, weight: np.ndarray, within_gated: np.ndarray,
                 within_plain: np.ndarray) -> pd.DataFrame:
    """Per district and in total (row ``"(all)"``): ``elderly_population`` (sum of ``weight``,
    persons), ``elderly_within_no_gates`` / ``share_elderly_within_no_gates`` (plain network),
    ``elderly_within`` / ``share_elderly_within`` (through the gates) and ``change_pp``
    (percentage points, gates minus no gates). ``within_*`` are booleans per demand point."""
    w = np.nan_to_num(np.asarray(weight, dtype=float))
    # a point in no district groups under "" (as the district tables do), not under "nan"
    by = pd.DataFrame({"district": pd.Series(district).fillna("").astype(str).to_numpy(), "elderly_population": w,
                       "elderly_within_no_gates": np.where(within_plain, w, 0.0),
                       "elderly_within": np.where(within_gated, w, 0.0)})
    table = by.groupby("district", sort=True).sum()
    table.loc[TOTAL] = table.sum()
    for col in ("elderly_within_no_gates", "elderly_within"):
        share = table[col] / table["elderly_population"].where(table["elderly_population"] > 0)
        table[col.replace("elderly_within", "share_elderly_within")] = share
    table["change_pp"] = 100.0 * (table["share_elderly_within"] - table["share_elderly_within_no_gates"])
    return table[["elderly_population", "elderly_within_no_gates", "share_elderly_within_no_gates",
                  "elderly_within", "share_elderly_within", "change_pp"]].reset_index()


def illustrative_count(gates: pd.DataFrame) -> int:
    """How many gates say in their ``name`` or ``source`` column that they are illustrative."""
    marks = pd.Series(False, index=range(len(gates)))
    for col in ("name", "source"):
        if col in gates:
            text = gates[col].fillna("").astype(str).str.lower().reset_index(drop=True)
            marks |= text.str.contains("|".join(ILLUSTRATIVE_MARKS), regex=True)
    return int(marks.sum())
