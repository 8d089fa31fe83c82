"""The objectives of one SLO shown together: an SLO whose objectives have different
thresholds is computed as one SLO per objective (``spec.objectives``); in its service's
part of the report they follow each other, under a block listing every objective."""

from __future__ import annotations

from typing import Any


def grouped(services: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """Each service's views (``{"row": summary row, ...}``) with the objectives of one SLO
    next to each other, where the first of them is; that first view gets ``objectives``:
    the SLO's name (``of``) and its objectives' rows."""
    out: dict[str, list[dict[str, Any]]] = {}
    for service, views in services.items():
        members: dict[str, list[dict[str, Any]]] = {}
        for v in views:
            of = v["row"].get("objective_of")
            if of:
                members.setdefault(of, []).append(v)
        placed: list[dict[str, Any]] = []
        for v in views:
            of = v["row"].get("objective_of")
            if not of:
                placed.append(v)
            elif members[of][0] is v:
                group = members[of]
                placed.append({**v, "objectives": {"of": of,
                                                   "rows": [m["row"] for m in group]}})
                placed.extend(group[1:])
        out[service] = placed
    return out
