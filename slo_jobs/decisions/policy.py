"""The release policy: the decision for a change by budget status and change risk.

The default is ``release-policy.yaml`` beside this module (the table of docs/slo-math.md,
also ``sql/release_decision.sql``); a team overrides it with ``release-policy.yaml`` beside
its SLO files, validated as strictly as they are (one line per problem naming file, line,
field, found and expected). The report names the file the decisions came from.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..core import verdict
from ..core.errors import SpecError
from ..spec import io as specio

FILE_NAMES = specio.POLICY_FILE_NAMES
DEFAULT_FILE = Path(__file__).resolve().parent / "release-policy.yaml"
RISKS = ("low", "medium", "high")
ROWS = ("healthy", "attention", "warning", "critical", "exhausted", "unjudged")
DECISIONS = ("approve", "review", "defer", "block")
UNJUDGED = verdict.UNJUDGED  # no data, too little, too few events: nothing to block on


@dataclass(frozen=True)
class Policy:
    name: str  # the file it was read from, as the report names it
    matrix: dict[str, dict[str, str]]  # row (a status, or "unjudged") -> risk -> decision

    def decide(self, status: str, risk: str) -> str:
        return self.matrix["unjudged" if status in UNJUDGED else status][risk]


def find(paths: Iterable[Path]) -> Path | None:
    """The policy file of the first SLO folder (given with ``--slos``) that has one."""
    return specio.beside(paths, FILE_NAMES)


def check(path: Path) -> tuple[dict[str, dict[str, str]], list[str]]:
    """The matrix of ``path`` and every problem found, as lines."""
    try:
        docs = specio.read_documents(path)
    except SpecError as exc:
        return {}, [str(exc)]
    if len(docs) != 1 or not isinstance(docs[0].data, dict) \
            or set(docs[0].data) != {"releasePolicy"}:
        data = docs[0].data if docs else None
        found = sorted(map(str, data)) if isinstance(data, dict) else specio.describe(data)
        return {}, [f"{path}:1: (document): found {found}; expected one mapping with only "
                    "the key releasePolicy"]
    doc, table = docs[0], docs[0].data["releasePolicy"]
    if not isinstance(table, dict):
        return {}, [f"{doc.at(('releasePolicy',))}: found {specio.describe(table)}; expected "
                    f"a mapping of {', '.join(ROWS)} to {{low: ..., medium: ..., high: ...}}"]
    problems = [f"{doc.at(('releasePolicy', str(k)))}: unknown status; expected one of "
                f"{', '.join(ROWS)}" for k in table if k not in ROWS]
    problems += [f"{doc.at(('releasePolicy',))}: {row} missing; expected every status of "
                 f"{', '.join(ROWS)}" for row in ROWS if row not in table]
    matrix: dict[str, dict[str, str]] = {}
    for row in (r for r in ROWS if r in table):
        cells, loc = table[row], ("releasePolicy", row)
        if not isinstance(cells, dict) or set(map(str, cells)) != set(RISKS):
            problems.append(f"{doc.at(loc)}: found {specio.describe(cells)}; expected "
                            "{low: ..., medium: ..., high: ...}")
            continue
        allowed = DECISIONS[1:] if row == "unjudged" else DECISIONS  # no data: never approve
        for risk in RISKS:
            if cells[risk] not in allowed:
                problems.append(f"{doc.at((*loc, risk))}: found {specio.describe(cells[risk])}"
                                f"; expected one of {', '.join(allowed)}")
        matrix[row] = {risk: str(cells[risk]) for risk in RISKS}
    return matrix, problems


def load(path: Path | None = None) -> Policy:
    """The policy of ``path`` (the default without one); SpecError listing every problem."""
    path = path or DEFAULT_FILE
    matrix, problems = check(path)
    if problems:
        raise SpecError("\n".join(problems))
    return Policy("default" if path == DEFAULT_FILE else str(path), matrix)


def load_for(paths: Iterable[Path]) -> Policy:
    return load(find(paths))
