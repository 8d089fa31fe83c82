"""SLO definitions as code: load, validate and normalise ``slos/*.yaml``.

One SLO per YAML document, Kubernetes style::

    apiVersion: slo-jobs/v1
    kind: ServiceLevelObjective
    metadata: {name: checkout-availability, labels: {team: payments}}
    spec:
      service: checkout
      indicator:
        ratio:
          good:  {selector: 'http_requests_total{service="checkout",code!~"5.."}'}
          total: {selector: 'http_requests_total{service="checkout"}'}
      objective: {target: 0.999}
      window: {calendar: month}

Every problem becomes one line ``<file>:<line>: <field>: <found>; <expected>``.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import SpecError

API_VERSION = "slo-jobs/v1"
KIND = "ServiceLevelObjective"
# Names become partition paths (slo=<name>), so only a strict, path-safe shape passes.
SAFE_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
WINDOW_PLACEHOLDERS = ("{{.window}}", "{{window}}", "{{ window }}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _safe(value: str) -> str:
    if not SAFE_NAME.match(value):
        raise ValueError("expected lower-case letters, digits and dashes (at most 63), "
                         "starting and ending with a letter or digit")
    return value


class Query(_Strict):
    """A counter selector (the tool builds ``increase``) or a raw PromQL expression."""

    selector: str | None = None
    expr: str | None = None

    @model_validator(mode="after")
    def _one_of(self) -> Query:
        if (self.selector is None) == (self.expr is None):
            raise ValueError("expected exactly one of 'selector' or 'expr'")
        if self.expr is not None and not any(p in self.expr for p in WINDOW_PLACEHOLDERS):
            raise ValueError("expr needs a window placeholder {{.window}}, e.g. "
                             "sum(increase(x_total[{{.window}}]))")
        return self

    def promql(self, window: str) -> str:
        """The PromQL counting this query's events over each ``window``."""
        if self.selector is not None:
            return f"sum(increase({self.selector.strip()}[{window}]))"
        text = self.expr or ""
        for p in WINDOW_PLACEHOLDERS:
            text = text.replace(p, window)
        return text


class Ratio(_Strict):
    good: Query
    total: Query


class Indicator(_Strict):
    ratio: Ratio


class Objective(_Strict):
    target: float = Field(ge=0.0, lt=1.0)


class Window(_Strict):
    calendar: Literal["month"] = "month"
    timeZone: Literal["UTC"] = "UTC"


class Metadata(_Strict):
    name: str
    labels: dict[str, str] = Field(default_factory=dict)

    _name = field_validator("name")(_safe)


class Spec(_Strict):
    service: str
    description: str = ""
    indicator: Indicator
    objective: Objective
    window: Window = Window()
    budgetingMethod: Literal["Occurrences"] = "Occurrences"

    _service = field_validator("service")(_safe)


class Document(_Strict):
    apiVersion: Literal["slo-jobs/v1"]
    kind: Literal["ServiceLevelObjective"]
    metadata: Metadata
    spec: Spec


@dataclass(frozen=True)
class Slo:
    """A validated SLO, as the rest of the pipeline sees it."""

    name: str
    service: str
    description: str
    target: float
    good: Query
    total: Query
    labels: dict[str, str]
    source: str
    spec_hash: str

    def as_row(self) -> dict[str, Any]:
        return {"slo": self.name, "service": self.service, "target": self.target,
                "description": self.description, "spec_hash": self.spec_hash}


def _line_map(node: yaml.Node, path: tuple[Any, ...], out: dict[tuple[Any, ...], int]) -> None:
    out[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            out[path + (key.value,)] = key.start_mark.line + 1
            _line_map(value, path + (key.value,), out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _line_map(item, path + (i,), out)


def _field(loc: Iterable[Any]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(document)"


def _describe(value: Any) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _problems(exc: ValidationError, where: str, lines: dict[tuple[Any, ...], int]) -> list[str]:
    out = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p))
        line = next((lines[loc[:i]] for i in range(len(loc), -1, -1) if loc[:i] in lines), 1)
        msg = err["msg"].removeprefix("Value error, ")
        kind = err["type"]
        if kind == "missing":
            found, expected = "missing", "expected a value (required field)"
        elif kind == "extra_forbidden":
            found, expected = f"unknown field {loc[-1]!r}", _expected_fields(loc)
        else:
            found, expected = _describe(err.get("input")), msg[0].lower() + msg[1:]
        out.append(f"{where}:{line}: {_field(loc)}: {found}; {expected}")
    return out


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model class that holds the field at ``loc`` (for listing its valid fields)."""
    cls: type[BaseModel] = Document
    for part in loc[:-1]:
        field = cls.model_fields.get(str(part))
        if field is None:
            return None
        candidates = [field.annotation, *get_args(field.annotation)]
        nested = [c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)]
        if not nested:
            return None
        cls = nested[0]
    return cls


def _expected_fields(loc: tuple[Any, ...]) -> str:
    cls = _model_at(loc)
    if cls is None:
        return "expected only the documented fields"
    names = list(cls.model_fields)
    close = difflib.get_close_matches(str(loc[-1]), names, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"{hint}expected one of: {', '.join(names)}"


def _hash(doc: dict[str, Any]) -> str:
    canonical = json.dumps(doc, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


def load_file(path: Path) -> list[Slo]:
    """Validate every document of one YAML file; raise SpecError listing all problems."""
    where = str(path)
    try:
        text = path.read_text(encoding="utf-8")
        nodes = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
        docs = list(yaml.safe_load_all(text))
    except OSError as exc:
        raise SpecError(f"{where}: cannot read: {exc.strerror}") from None
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 1
        raise SpecError(f"{where}:{line}: (document): malformed YAML ({exc.problem}); "
                        "expected a YAML mapping") from None
    slos: list[Slo] = []
    problems: list[str] = []
    if not any(d is not None for d in docs):
        raise SpecError(f"{where}:1: (document): empty file; expected an SLO definition")
    for node, doc in zip(nodes, docs, strict=True):
        if doc is None:
            continue
        lines: dict[tuple[Any, ...], int] = {}
        _line_map(node, (), lines)
        if not isinstance(doc, dict):
            problems.append(f"{where}:{lines[()]}: (document): {_describe(doc)}; "
                            f"expected a mapping with apiVersion: {API_VERSION}")
            continue
        try:
            parsed = Document.model_validate(doc)
        except ValidationError as exc:
            problems.extend(_problems(exc, where, lines))
            continue
        s = parsed.spec
        slos.append(Slo(name=parsed.metadata.name, service=s.service, description=s.description,
                        target=s.objective.target, good=s.indicator.ratio.good,
                        total=s.indicator.ratio.total, labels=dict(parsed.metadata.labels),
                        source=where, spec_hash=_hash(doc)))
    if problems:
        raise SpecError("\n".join(problems))
    return slos


def load(paths: Iterable[Path]) -> list[Slo]:
    """Load SLOs from files and folders (``*.yaml``/``*.yml``), sorted by name."""
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            files.extend(sorted([*p.glob("*.yaml"), *p.glob("*.yml")]))
        elif p.exists():
            files.append(p)
        else:
            raise SpecError(f"{p}: no such file or folder; expected SLO YAML files")
    if not files:
        raise SpecError(f"{', '.join(map(str, paths))}: no *.yaml files; expected SLO definitions")
    slos: list[Slo] = []
    problems: list[str] = []
    seen: dict[str, str] = {}
    for f in files:
        try:
            for slo in load_file(f):
                if slo.name in seen:
                    problems.append(f"{f}: metadata.name: {slo.name!r} is already defined in "
                                    f"{seen[slo.name]}; expected a unique SLO name")
                seen.setdefault(slo.name, str(f))
                slos.append(slo)
        except SpecError as exc:
            problems.append(str(exc))
    if problems:
        raise SpecError("\n".join(problems))
    return sorted(slos, key=lambda s: s.name)
