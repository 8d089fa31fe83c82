"""SLOs with several objectives at different thresholds ("90 % under 100 ms and 99 % under
500 ms"): checked, and split into one ``Slo`` per objective.

An objective may carry its own threshold: ``threshold`` (seconds, a histogram bucket) on a
latency indicator, ``op`` and ``value`` on a threshold indicator. When the objectives'
thresholds differ, each becomes an SLO of its own for the rest of the pipeline, named
``<slo>-<objective>`` (its displayName as a name): good events at its own threshold over
the same total, its own target, budget, incidents and alerts, so every figure is the
arithmetic of an ordinary SLO. Each is marked ``objective_of`` the SLO as written, which the
report groups them by. Objectives that share one threshold, or give none, stay one SLO
judged by the first objective's target, as before.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from ..core.names import SAFE_NAME, SAFE_NAME_HINT
from .indicators import PROMQL_OP
from .model import LatencySli, Slo, ThresholdSli, as_objective, to_slo
from .promql import number
from .schema import Document, Objective

# OpenSLO metadata annotation tying an exported SLO back to the SLO whose objective it is
# (an OpenSLO ratioMetric has one good query, so one threshold per SLO).
ANNOTATION = "slo-jobs/objective-of"

_LE = re.compile(r'_bucket\{.*\ble="([^"]+)"')

Rule = tuple[str, float]  # (op, value); a latency threshold is ("lte", seconds)


def own_rule(o: Objective) -> Rule | None:
    """The objective's own threshold, if it gives one."""
    if o.threshold is not None:
        return ("lte", o.threshold)
    if o.op is not None and o.value is not None:
        return (o.op, o.value)
    return None


def name_part(display_name: str) -> str:
    """``90 % under 100 ms`` -> ``90-under-100-ms``: the objective's part of its SLO's name."""
    return re.sub(r"[^a-z0-9]+", "-", display_name.lower()).strip("-")


def problems(doc: Document, at: Callable[[tuple[Any, ...]], str]) -> list[str]:
    """What is wrong with the thresholds and names of ``doc``'s objectives, one line each
    (``at`` locates a field: ``file:line: field``)."""
    s = doc.spec
    kind = s.indicator.kind
    base: list[tuple[Any, ...]] = (
        [("spec", "objective")] if s.objective is not None else
        [("spec", "objectives", i) for i in range(len(s.all_objectives))])
    objs = list(zip(base, s.all_objectives, strict=True))
    out: list[str] = []
    for loc, o in objs:
        if o.threshold is not None and kind != "latency":
            out.append(f"{at(loc + ('threshold',))}: {number(o.threshold)} on a {kind} "
                       "indicator; expected threshold only in the objectives of a latency "
                       "indicator (op and value in those of a threshold indicator)")
        if (o.op is not None or o.value is not None) and kind != "threshold":
            out.append(f"{at(loc)}: op/value on a {kind} indicator; expected op and value "
                       "only in the objectives of a threshold indicator")
        elif kind == "threshold" and (o.op is None) != (o.value is None):
            out.append(f"{at(loc)}: {'op without value' if o.value is None else 'value without op'}"
                       "; expected both op (lt, lte, gt, gte) and value, or neither")
    if out:
        return out
    ind = s.indicator
    if ind.latency is not None:
        own_loc: tuple[Any, ...] = ("spec", "indicator", "latency", "threshold")
        has_own = ind.latency.threshold is not None
        what, short = "a threshold (seconds, a histogram bucket boundary such as 0.3)", "threshold"
    elif ind.threshold is not None:
        own_loc = ("spec", "indicator", "threshold")
        if (ind.threshold.op is None) != (ind.threshold.value is None):
            return [f"{at(own_loc)}: {'op' if ind.threshold.value is None else 'value'} "
                    "alone; expected both op and value, here or in every objective"]
        has_own = ind.threshold.op is not None
        what, short = "op and value", "op and value"
    else:
        return []
    given = [own_rule(o) is not None for o in s.all_objectives]
    if not any(given):
        return [] if has_own else [f"{at(own_loc)}: missing; expected {what}, here or in "
                                   "every objective"]
    if has_own:
        return [f"{at(own_loc)}: given, and in the objectives too; expected {what} here "
                "or in every objective, not both"]
    if not all(given):
        loc = base[given.index(False)]
        return [f"{at(loc)}: no {short} while another objective has one; "
                f"expected {what} in every objective"]
    if len({own_rule(o) for o in s.all_objectives}) == 1:
        return []
    if ind.latency is not None and ind.latency.le is not None:
        return [f"{at(('spec', 'indicator', 'latency', 'le'))}: {ind.latency.le!r} names one "
                "bucket; expected no le when the objectives have thresholds of their own"]
    return _name_problems(doc.metadata.name, objs, at)


def _name_problems(slo: str, objs: Sequence[tuple[tuple[Any, ...], Objective]],
                   at: Callable[[tuple[Any, ...]], str]) -> list[str]:
    out: list[str] = []
    seen: dict[str, tuple[Any, ...]] = {}
    for loc, o in objs:
        where = at(loc + ("displayName",))
        part = name_part(o.displayName)
        if not part:
            found = "missing" if not o.displayName else f"{o.displayName!r} has no letter or digit"
            out.append(f"{where}: {found}; expected a displayName per objective when their "
                       "thresholds differ (it names the objective's SLO, e.g. fast)")
        elif part in seen:
            out.append(f"{where}: {o.displayName!r} names the same objective as "
                       f"{at(seen[part]).rsplit(': ', 1)[-1]} ({slo}-{part}); expected a "
                       "different displayName per objective")
        elif not SAFE_NAME.match(f"{slo}-{part}"):
            out.append(f"{where}: {o.displayName!r} makes the SLO name {slo}-{part}; "
                       f"{SAFE_NAME_HINT}")
        seen.setdefault(part, loc)
    return out


def _at_rule(doc: Document, rule: Rule, objectives: list[Objective], name: str) -> Document:
    """``doc`` with ``rule`` as its indicator's threshold and ``objectives`` (without
    thresholds of their own) as its objectives, named ``name``."""
    ind = doc.spec.indicator
    if ind.latency is not None:
        ind = ind.model_copy(update={"latency": ind.latency.model_copy(
            update={"threshold": rule[1]})})
    else:
        assert ind.threshold is not None
        ind = ind.model_copy(update={"threshold": ind.threshold.model_copy(
            update={"op": rule[0], "value": rule[1]})})
    plain = [o.model_copy(update={"threshold": None, "op": None, "value": None})
             for o in objectives]
    spec = doc.spec.model_copy(update={"indicator": ind, "objective": None,
                                       "objectives": plain})
    return doc.model_copy(update={"spec": spec, "metadata": doc.metadata.model_copy(
        update={"name": name})})


def expand(doc: Document, source: str, prometheus_url: str | None = None,
           line: int = 1) -> list[Slo]:
    """The SLOs ``doc`` (checked by ``problems``) is computed as: itself, or one per
    objective when their thresholds differ."""
    objs = doc.spec.all_objectives
    rules = [own_rule(o) for o in objs]
    name = doc.metadata.name
    if rules[0] is None:
        return [to_slo(doc, source, prometheus_url, line)]
    if len(set(rules)) == 1:
        return [to_slo(_at_rule(doc, rules[0], objs, name), source, prometheus_url, line)]
    out = []
    for o, rule in zip(objs, rules, strict=True):
        assert rule is not None
        one = _at_rule(doc, rule, [o], f"{name}-{name_part(o.displayName)}")
        out.append(as_objective(to_slo(one, source, prometheus_url, line), name,
                                o.displayName))
    return out


def fields(slo: Slo) -> dict[str, Any]:
    """Summary columns: the SLO an objective belongs to, the objective and its threshold."""
    if slo.objective_of is None:
        return {"objective_of": None, "objective": None, "objective_threshold": None}
    rule = None
    bucket = _LE.search(slo.good.selector or "")
    if isinstance(slo.sli, LatencySli):
        rule = f"<= {number(slo.sli.threshold)} s"
    elif isinstance(slo.sli, ThresholdSli):
        rule = f"{PROMQL_OP[slo.sli.op]} {number(slo.sli.value)}"
    elif bucket:  # imported from OpenSLO: a ratio of a histogram's bucket to its count
        rule = f"<= {bucket.group(1)} s"
    return {"objective_of": slo.objective_of, "objective": slo.objective,
            "objective_threshold": rule}
