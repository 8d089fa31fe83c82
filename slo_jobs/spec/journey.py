"""User journeys: ``kind: Journey`` documents beside the SLOs, each a named sequence of steps
that refer to SLOs by name (docs/spec.md, "User journeys"; the arithmetic in
docs/slo-math.md, "User journeys").

A step reuses its SLO's SLI and data as they are in the lake: a journey adds no query and no
extraction. The checks that need the whole catalog (a step naming an SLO that does not
exist, steps in different time zones or windows) run in ``check``, one line per problem.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..core.names import safe_name
from . import io
from .io import RawDoc
from .model import Slo

JOURNEY_KIND = "Journey"
DEFAULT_SLICE = "5m"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StepSpec(_Strict):
    name: str = Field(min_length=1, max_length=80)
    slo: str
    # A step off the critical path is shown with its SLI but does not make the journey fail.
    critical: bool = True

    _slo = field_validator("slo")(safe_name)


class JourneyObjective(_Strict):
    target: float

    @field_validator("target")
    @classmethod
    def _target(cls, value: float) -> float:
        if not 0.0 < value < 1.0:
            raise ValueError("expected a share of good journeys above 0 and below 1, e.g. 0.99")
        return value


class JourneySpec(_Strict):
    description: str = Field(default="", max_length=500)
    objective: JourneyObjective
    budgetingMethod: Literal["Occurrences", "Timeslices"] = "Occurrences"
    timeSliceWindow: str | None = None
    steps: list[StepSpec] = Field(min_length=1, max_length=50)

    @field_validator("timeSliceWindow")
    @classmethod
    def _slice(cls, value: str | None) -> str | None:
        if value is not None and io.duration(value, "mh").total_seconds() <= 0:
            raise ValueError("expected a positive duration in minutes or hours, e.g. 5m")
        return value


class JourneyMetadata(_Strict):
    name: str
    displayName: str = Field(default="", max_length=200)

    _name = field_validator("name")(safe_name)


class JourneyDocument(_Strict):
    apiVersion: Literal["slo-jobs/v1"]
    kind: Literal["Journey"]
    metadata: JourneyMetadata
    spec: JourneySpec


@dataclass(frozen=True)
class Step:
    name: str
    slo: str
    critical: bool


@dataclass(frozen=True)
class Journey:
    """A validated journey: its steps in order, judged on its steps' shared window (their
    calendar month, or the week, quarter, year or rolling window they all have)."""

    name: str
    description: str
    target: float
    method: Literal["Occurrences", "Timeslices"]
    slice_seconds: int
    steps: tuple[Step, ...]
    source: str
    line: int = 1
    display_name: str = ""

    @property
    def critical(self) -> tuple[Step, ...]:
        return tuple(s for s in self.steps if s.critical)


def is_journey(doc: RawDoc) -> bool:
    return isinstance(doc.data, dict) and doc.data.get("kind") == JOURNEY_KIND


def parse(doc: RawDoc) -> tuple[Journey | None, list[str]]:
    """One ``kind: Journey`` document: the journey, or the problems found in it alone."""
    try:
        parsed = JourneyDocument.model_validate(doc.data)
    except ValidationError as exc:
        return None, io.validation_problems(exc, doc, JourneyDocument)
    spec = parsed.spec
    problems: list[str] = []
    seen: dict[str, int] = {}
    used: dict[str, int] = {}
    for i, step in enumerate(spec.steps):
        if step.name in seen:
            problems.append(f"{doc.at(('spec', 'steps', i, 'name'))}: {step.name!r} is "
                            f"already the name of spec.steps[{seen[step.name]}]; expected "
                            "unique step names")
        if step.slo in used:
            problems.append(f"{doc.at(('spec', 'steps', i, 'slo'))}: {step.slo!r} is "
                            f"already the SLO of spec.steps[{used[step.slo]}]; expected each "
                            "SLO once per journey (a step counted twice would count its "
                            "failures twice)")
        seen.setdefault(step.name, i)
        used.setdefault(step.slo, i)
    if not any(s.critical for s in spec.steps):
        problems.append(f"{doc.at(('spec', 'steps'))}: no critical step; expected at least "
                        "one step with critical: true (the default)")
    if spec.timeSliceWindow is not None and spec.budgetingMethod != "Timeslices":
        problems.append(f"{doc.at(('spec', 'timeSliceWindow'))}: {spec.timeSliceWindow!r} "
                        f"with budgetingMethod {spec.budgetingMethod}; expected it only with "
                        "budgetingMethod Timeslices")
    if problems:
        return None, problems
    slice_s = int(io.duration(spec.timeSliceWindow or DEFAULT_SLICE, "mh").total_seconds())
    return Journey(parsed.metadata.name, spec.description, spec.objective.target,
                   spec.budgetingMethod, slice_s,
                   tuple(Step(s.name, s.slo, s.critical) for s in spec.steps), doc.file,
                   doc.line(("metadata", "name")), parsed.metadata.displayName), []


def window(slo: Slo) -> str:
    """The SLO's ``spec.window`` as a phrase: steps with the same phrase share every window."""
    if slo.window_kind == "rolling" and slo.rolling_window is not None:
        return f"rolling {slo.rolling_window.total_seconds() / 86400:g}d"
    anchor = f" from {slo.window_start}" if slo.window_start else ""
    return f"calendar {slo.calendar_unit or 'month'}{anchor}"


def check(docs: Sequence[RawDoc], slos: Sequence[Slo]) -> tuple[list[Journey], list[str]]:
    """Every journey of ``docs`` whose steps name SLOs of ``slos`` with one time zone and
    one window, and a line for each problem (of the document, or across the catalog)."""
    by_name = {s.name: s for s in slos}
    out: list[Journey] = []
    problems: list[str] = []
    first: dict[str, Journey] = {}
    for doc in docs:
        journey, found = parse(doc)
        if journey is None:
            problems.extend(found)
            continue
        where = f"{journey.source}:{journey.line}"
        if journey.name in first:
            other = first[journey.name]
            problems.append(f"{where}: metadata.name: {journey.name!r} is already defined in "
                            f"{other.source}:{other.line}; expected a unique journey name")
            continue
        first[journey.name] = journey
        missing = [(i, s) for i, s in enumerate(journey.steps) if s.slo not in by_name]
        for i, s in missing:
            problems.append(f"{doc.at(('spec', 'steps', i, 'slo'))}: {s.slo!r} is not an SLO "
                            "of the catalog; expected the metadata.name of an SLO in the SLO "
                            "files")
        zones = sorted({by_name[s.slo].time_zone for s in journey.steps if s.slo in by_name})
        if len(zones) > 1:
            problems.append(f"{doc.at(('spec', 'steps'))}: SLOs in the time zones "
                            f"{', '.join(zones)}; expected steps whose SLOs share one timeZone "
                            "(a journey is judged on one calendar month)")
        windows = sorted({window(by_name[s.slo]) for s in journey.steps if s.slo in by_name})
        if len(windows) > 1:
            problems.append(f"{doc.at(('spec', 'steps'))}: SLOs with the windows "
                            f"{', '.join(windows)}; expected steps whose SLOs share one "
                            "spec.window (a journey is judged on its steps' window)")
        if not missing and len(zones) <= 1 and len(windows) <= 1:
            out.append(journey)
    return sorted(out, key=lambda j: j.name), problems
