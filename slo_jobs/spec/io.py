"""Reading SLO YAML safely, and turning every problem into one ``file:line: field: ...`` line.

Shared by the native format (``spec.schema``, ``spec.load``) and the OpenSLO import
(``slo_jobs.spec.openslo``).
"""

from __future__ import annotations

import difflib
import json
import os
import re
import stat
import types
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Union, get_args, get_origin
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ValidationError

from ..core import redaction
from ..core.errors import SpecError
from ..core.periods import UNIT_SECONDS

# An SLO file is a few kilobytes; these bounds keep a hostile or broken file (a "billion
# laughs" alias bomb, a huge generated dump) from exhausting memory before validation starts.
MAX_FILE_BYTES = 1_000_000
MAX_NODES = 20_000
# Deeper nesting is no SLO, and PyYAML's composer recurses once per level.
MAX_DEPTH = 64
# Python refuses to parse integers over 4,300 digits; no SLO needs more than a few.
MAX_INT_DIGITS = 30


_ENV = re.compile(r"\$(\$?)\{([^}]*)\}")
_ENV_NAME = re.compile(r"\A[A-Za-z_][A-Za-z0-9_]*\Z")
_DURATION = re.compile(r"\A([1-9][0-9]{0,5})(s|m|h|d|w|M|Q|y|Y)\Z")

Loc = tuple[Any, ...]


class _Loader(yaml.SafeLoader):
    """SafeLoader without implicit timestamps: ``startTime: 2022-01-01 12:00:00`` stays text."""

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        digits = sum(c.isdigit() for c in str(node.value))
        if digits > MAX_INT_DIGITS:
            raise yaml.constructor.ConstructorError(
                None, None, f"an integer of {digits} digits; expected a number of at most "
                f"{MAX_INT_DIGITS} digits", node.start_mark)
        value: int = yaml.constructor.SafeConstructor.construct_yaml_int(self, node)
        return value


_Loader.add_constructor("tag:yaml.org,2002:int", _Loader.construct_yaml_int)


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}

# The same loader on libyaml's parser where PyYAML has it: a catalog of 10,000 SLOs, which
# every task of a sharded month loads, then parses in seconds instead of a minute. A file it
# refuses is parsed again by _Loader, whose messages the error lines quote.
_CBase: Any = getattr(yaml, "CSafeLoader", None)
if _CBase is not None:
    class _FastLoader(_CBase):  # type: ignore[misc]
        construct_yaml_int = _Loader.construct_yaml_int

    _FastLoader.add_constructor("tag:yaml.org,2002:int", _Loader.construct_yaml_int)
    _FastLoader.yaml_implicit_resolvers = _Loader.yaml_implicit_resolvers
    _LOADERS: tuple[Any, ...] = (_FastLoader, _Loader)
else:  # pragma: no cover - PyYAML built without libyaml
    _LOADERS = (_Loader,)


@dataclass
class RawDoc:
    """One YAML document (or one item of a top-level list of documents) with its line map."""

    file: str
    data: Any
    lines: dict[Loc, int] = field(default_factory=dict)

    def line(self, loc: Iterable[Any] = ()) -> int:
        """The line of ``loc``, or of its closest ancestor present in the file."""
        path = tuple(loc)
        for i in range(len(path), -1, -1):
            if path[:i] in self.lines:
                return self.lines[path[:i]]
        return 1

    def at(self, loc: Iterable[Any]) -> str:
        loc = tuple(loc)
        return f"{self.file}:{self.line(loc)}: {field_path(loc)}"


def field_path(loc: Iterable[Any]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(document)"


def describe(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def duration(text: str, units: str = "smhdw") -> timedelta:
    """``30m``, ``1h``, ``28d``, ``2w`` as a timedelta; ``m`` is always minutes."""
    m = _DURATION.match(text)
    if not m or m.group(2) not in units:
        allowed = ", ".join(u for u in "smhdw" if u in units)
        raise ValueError(f"expected a duration: a whole number and one of {allowed}, e.g. 28d")
    return timedelta(seconds=int(m.group(1)) * UNIT_SECONDS[m.group(2)])


def duration_parts(text: str) -> tuple[int, str] | None:
    m = _DURATION.match(text)
    return (int(m.group(1)), m.group(2)) if m else None


def time_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("expected an IANA time zone such as UTC or Europe/Berlin") from None
    return name


def _check_nodes(node: yaml.Node, where: str) -> None:
    """Refuse alias bombs, recursive aliases and duplicate keys before constructing anything."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(n: yaml.Node) -> int:
        if id(n) in sizes:
            return sizes[id(n)]
        if id(n) in active:
            raise SpecError(f"{where}:{n.start_mark.line + 1}: (document): a recursive alias; "
                            "expected plain YAML without self-references")
        active.add(id(n))
        total = 1
        if isinstance(n, yaml.MappingNode):
            seen: dict[str, int] = {}
            for key, value in n.value:
                if isinstance(key, yaml.ScalarNode):
                    if key.value in seen:
                        raise SpecError(
                            f"{where}:{key.start_mark.line + 1}: {key.value}: duplicate key "
                            f"(first on line {seen[key.value]}); expected each field once")
                    seen[key.value] = key.start_mark.line + 1
                total += size(key) + size(value)
        elif isinstance(n, yaml.SequenceNode):
            total += sum(size(item) for item in n.value)
        active.discard(id(n))
        sizes[id(n)] = total
        if total > MAX_NODES:
            raise SpecError(f"{where}:{node.start_mark.line + 1}: (document): more than "
                            f"{MAX_NODES} YAML nodes once aliases are expanded; expected a "
                            "small SLO document (aliases are limited to keep loading bounded)")
        return total

    size(node)


def _check_depth(text: str, where: str, loader_type: Any = _Loader) -> None:
    """Refuse nesting deeper than MAX_DEPTH from the parser's events (which do not recurse),
    before the recursive composer sees it."""
    depth = 0
    for event in yaml.parse(text, Loader=loader_type):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                line = event.start_mark.line + 1 if event.start_mark else 1
                raise SpecError(f"{where}:{line}: (document): nested more than {MAX_DEPTH} "
                                "levels deep; expected a small SLO document")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _read_bounded(path: Path, where: str) -> str:
    """The text of ``path``, refusing anything but a regular file of at most MAX_FILE_BYTES.

    Opened without blocking (a FIFO named *.yaml would hang an ordinary open) and checked
    on the open descriptor, so a device such as /dev/zero behind a symlink is never read.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise SpecError(f"{where}: cannot read: {exc.strerror}; expected a readable file"
                        ) from None
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise SpecError(f"{where}:1: (document): not a regular file (a device, FIFO or "
                            "socket); expected an SLO YAML file")
        if info.st_size > MAX_FILE_BYTES:
            raise SpecError(f"{where}:1: (document): {info.st_size} bytes; expected an "
                            f"SLO file under {MAX_FILE_BYTES} bytes")
        # Read one byte more than allowed: a file that grows after fstat is still caught.
        data = fh.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise SpecError(f"{where}:1: (document): more than {MAX_FILE_BYTES} bytes; expected "
                        f"an SLO file under {MAX_FILE_BYTES} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise SpecError(f"{where}:1: (document): not UTF-8 text; expected a YAML file"
                        ) from None


def _line_map(node: yaml.Node, path: Loc, out: dict[Loc, int]) -> None:
    out.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            out[path + (key.value,)] = key.start_mark.line + 1
            _line_map(value, path + (key.value,), out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _line_map(item, path + (i,), out)


def read_documents(path: Path) -> list[RawDoc]:
    """Every YAML document of ``path`` (a top-level list of documents counts as several)."""
    where = str(path)
    text = _read_bounded(path, where)
    for loader_type in _LOADERS[:-1]:
        try:
            return _documents(text, where, loader_type)
        except (SpecError, yaml.YAMLError):
            pass  # the reference parser below words the error
    return _documents(text, where, _LOADERS[-1])


def _documents(text: str, where: str, loader_type: Any) -> list[RawDoc]:
    docs: list[RawDoc] = []
    loader = loader_type(text)
    try:
        _check_depth(text, where, loader_type)
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            _check_nodes(node, where)
            lines: dict[Loc, int] = {}
            _line_map(node, (), lines)
            data = loader.construct_document(node)
            if isinstance(data, list) and data and all(
                    isinstance(d, dict) and "apiVersion" in d for d in data):
                # The OpenSLO Go SDK writes several documents as one YAML list.
                for i, item in enumerate(data):
                    sub = {loc[1:]: ln for loc, ln in lines.items() if loc[:1] == (i,)}
                    docs.append(RawDoc(where, item, sub))
            elif data is not None:
                docs.append(RawDoc(where, data, lines))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        if isinstance(exc, yaml.constructor.ConstructorError) and exc.problem and \
                exc.problem.startswith("an integer of"):
            raise SpecError(f"{where}:{line}: (document): {exc.problem}") from None
        raise SpecError(f"{where}:{line}: (document): malformed YAML ({exc.problem}); "
                        "expected a YAML mapping") from None
    except yaml.YAMLError as exc:
        raise SpecError(f"{where}:1: (document): unreadable YAML ({exc}); "
                        "expected a YAML mapping") from None
    finally:
        loader.dispose()
    if not docs:
        raise SpecError(f"{where}:1: (document): empty file; expected an SLO definition")
    return docs


def resolve_env(doc: RawDoc, env: Mapping[str, str] | None = None) -> list[str]:
    """Replace ``${VAR}`` in string values (``$${`` is a literal ``${``); return the problems."""
    environ = os.environ if env is None else env
    problems: list[str] = []

    def sub(value: Any, loc: Loc) -> Any:
        if isinstance(value, dict):
            return {k: sub(v, loc + (k,)) for k, v in value.items()}
        if isinstance(value, list):
            return [sub(v, loc + (i,)) for i, v in enumerate(value)]
        if not isinstance(value, str) or "${" not in value:
            return value

        def one(m: re.Match[str]) -> str:
            if m.group(1):
                return "${" + m.group(2) + "}"
            name = m.group(2)
            if not _ENV_NAME.match(name):
                problems.append(f"{doc.at(loc)}: ${{{name}}}; expected a placeholder "
                                "${NAME} with letters, digits and underscores")
            elif redaction.is_secret_name(name):
                # SLO text is published (report, PDF, summary, PromQL): no credential in it.
                problems.append(f"{doc.at(loc)}: ${{{name}}} names a secret variable; "
                                "expected a variable that holds no credential (slo-jobs "
                                "reads its credentials from the environment itself)")
            elif name not in environ:
                problems.append(f"{doc.at(loc)}: ${{{name}}} but the environment variable "
                                f"{name} is not set; expected {name} to be set")
            elif any(s in environ[name] for s in redaction.known_secrets(environ)):
                problems.append(f"{doc.at(loc)}: ${{{name}}} holds a secret (the value of a "
                                "credential variable); expected a variable that holds no "
                                "credential")
            else:
                return environ[name]
            return m.group(0)

        return _ENV.sub(one, value)

    doc.data = sub(doc.data, ())
    return problems


def _nested_models(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    if get_origin(annotation) in (Union, types.UnionType, list, tuple, dict) or get_args(
            annotation):
        return [m for a in get_args(annotation) for m in _nested_models(a)]
    return []


def _model_at(root: type[BaseModel], loc: Loc) -> type[BaseModel] | None:
    """The model class that holds the field at ``loc`` (for listing its valid fields)."""
    cls = root
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        fld = cls.model_fields.get(str(part))
        nested = _nested_models(fld.annotation) if fld is not None else []
        if not nested:
            return None
        cls = nested[0]
    return cls


def _expected_fields(root: type[BaseModel], loc: Loc) -> str:
    cls = _model_at(root, loc)
    if cls is None:
        return "expected only the documented fields"
    names = [f.alias or n for n, f in cls.model_fields.items()]
    close = difflib.get_close_matches(str(loc[-1]), names, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"{hint}expected one of: {', '.join(names)}"


def validation_problems(exc: ValidationError, doc: RawDoc, root: type[BaseModel]) -> list[str]:
    """One line per pydantic error, located in the YAML file."""
    out = []
    for err in exc.errors():
        # Drop pydantic's union-branch labels such as "function-after[...]" from the path.
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p))
        msg = err["msg"].removeprefix("Value error, ")
        kind = err["type"]
        if kind == "missing":
            found, expected = "missing", "expected a value (required field)"
        elif kind == "extra_forbidden":
            found, expected = f"unknown field {loc[-1]!r}", _expected_fields(root, loc)
        else:
            value = err.get("input")
            # A rule across several fields: name the fields present, not the whole mapping.
            found = describe(value)
            if isinstance(value, dict) and found.endswith("..."):
                found = f"fields {', '.join(map(str, value))}"
            expected = msg[0].lower() + msg[1:]
        out.append(f"{doc.at(loc)}: {found}; {expected}")
    return out


# Team sizes (slo_jobs.decisions.teams) and the release policy (slo_jobs.decisions.policy)
# live beside the SLO files but are no SLOs.
TEAM_FILE_NAMES = ("teams.yaml", "teams.yml")
POLICY_FILE_NAMES = ("release-policy.yaml", "release-policy.yml")


def beside(paths: Iterable[Path], names: Sequence[str]) -> Path | None:
    """The first file named one of ``names`` in the SLO folders (given with ``--slos``, or
    the folders of the files given): the team file, the release policy."""
    for p in paths:
        folder = p if p.is_dir() else p.parent
        for name in names:
            if (folder / name).is_file():
                return folder / name
    return None
