"""The team file: how many people each team has (the toil budget), who reads its reports
(``email``: the monthly report and budget alerts are sent there) and at which shares of a
month's error budget it is warned while the month runs (``budgetAlerts``).

``teams.yaml`` sits beside the SLO files (spec loading skips it) and is validated as
strictly as they are, one line per problem naming file, line, field, found and expected::

    teams:
      payments: {size: 6, email: [payments-sre@example.com], budgetAlerts: [0.5, 0.75, 1.0]}
      discovery: {size: 4, hoursPerWeek: 38}
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.errors import SpecError
from ..core.names import SAFE_NAME, SAFE_NAME_HINT
from ..spec import io as specio
from . import policy
from .policy import Policy

FILE_NAMES = specio.TEAM_FILE_NAMES
MAX_SIZE = 1000
DEFAULT_HOURS = 40.0
FIELDS = ("size", "hoursPerWeek", "email", "budgetAlerts")
# Shares of the month's budget at which a running month warns (docs/report.md).
DEFAULT_BUDGET_ALERTS = (0.5, 0.75, 1.0)
# An address as a mail header may carry it: no spaces, control characters, commas or angle
# brackets, so that no value can add a header or a recipient.
EMAIL = re.compile(r"\A[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9.-]{1,253}\Z")
MAX_RECIPIENTS = 50


@dataclass(frozen=True)
class Team:
    name: str
    size: int
    hours_per_week: float = DEFAULT_HOURS
    email: tuple[str, ...] = ()
    budget_alerts: tuple[float, ...] = DEFAULT_BUDGET_ALERTS


def find(paths: Iterable[Path]) -> Path | None:
    """The team file of the first SLO folder (given with ``--slos``) that has one."""
    return specio.beside(paths, FILE_NAMES)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _team(doc: specio.RawDoc, name: Any, value: Any) -> tuple[Team | None, list[str]]:
    loc: tuple[str, ...] = ("teams", str(name))
    if not isinstance(name, str) or not SAFE_NAME.match(name):
        return None, [f"{doc.at(loc)}: team name {specio.describe(name)}; "
                      f"{SAFE_NAME_HINT}"]
    if not isinstance(value, dict):
        return None, [f"{doc.at(loc)}: found {specio.describe(value)}; expected a mapping "
                      "such as {size: 6}"]
    problems = [f"{doc.at((*loc, str(k)))}: unknown field; expected one of "
                f"{', '.join(FIELDS)}" for k in value if k not in FIELDS]
    size: Any = value.get("size")
    hours: Any = value.get("hoursPerWeek", DEFAULT_HOURS)
    if "size" not in value:
        problems.append(f"{doc.at(loc)}: size missing; expected the number of people, "
                        "e.g. {size: 6}")
    elif not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= MAX_SIZE:
        problems.append(f"{doc.at((*loc, 'size'))}: found {specio.describe(size)}; expected "
                        f"a whole number of people from 1 to {MAX_SIZE}")
    if not _number(hours) or not 0 < hours <= 80:
        problems.append(f"{doc.at((*loc, 'hoursPerWeek'))}: found {specio.describe(hours)}; "
                        "expected working hours per person and week, more than 0 and at "
                        "most 80")
    email: Any = value.get("email", [])
    if (not isinstance(email, list) or len(email) > MAX_RECIPIENTS
            or not all(isinstance(e, str) and EMAIL.match(e) for e in email)):
        problems.append(f"{doc.at((*loc, 'email'))}: found {specio.describe(email)}; expected "
                        f"a list of up to {MAX_RECIPIENTS} addresses such as "
                        "[payments-sre@example.com]")
        email = []
    shares: Any = value.get("budgetAlerts", list(DEFAULT_BUDGET_ALERTS))
    if (not isinstance(shares, list) or not shares
            or not all(_number(x) and 0 < x <= 1 for x in shares)
            or sorted(set(shares)) != shares):
        problems.append(f"{doc.at((*loc, 'budgetAlerts'))}: found {specio.describe(shares)}; "
                        "expected rising shares of the budget above 0 and at most 1, such as "
                        "[0.5, 0.75, 1.0]")
    if problems:
        return None, problems
    return Team(name, size, float(hours), tuple(email),
                tuple(float(x) for x in shares)), []


def check(path: Path) -> tuple[dict[str, Team], list[str]]:
    """Every team of ``path`` and every problem found, as lines."""
    try:
        docs = specio.read_documents(path)
    except SpecError as exc:
        return {}, [str(exc)]
    if len(docs) != 1:
        return {}, [f"{path}:1: (document): {len(docs)} documents; expected one mapping "
                    "with the key teams"]
    doc = docs[0]
    data = doc.data
    if not isinstance(data, dict) or set(data) != {"teams"}:
        found = sorted(map(str, data)) if isinstance(data, dict) else specio.describe(data)
        return {}, [f"{doc.at(())}: found {found}; expected a mapping with only the key "
                    "teams"]
    if not isinstance(data["teams"], dict) or not data["teams"]:
        return {}, [f"{doc.at(('teams',))}: found {specio.describe(data['teams'])}; "
                    "expected a mapping of team names to {size: N}"]
    teams: dict[str, Team] = {}
    problems: list[str] = []
    for name, value in data["teams"].items():
        team, found_problems = _team(doc, name, value)
        problems += found_problems
        if team is not None:
            teams[team.name] = team
    return teams, problems


def load(path: Path | None) -> dict[str, Team]:
    """The teams of ``path`` (none without a file); SpecError listing every problem."""
    if path is None:
        return {}
    teams, problems = check(path)
    if problems:
        raise SpecError("\n".join(problems))
    return teams


class TeamFile(dict[str, Team]):
    """The teams of the SLO folders' team file, with the release policy found beside it: the
    settings of the decisions, read from the same folders and handed to the compute stage
    together."""

    def __init__(self, teams: dict[str, Team], release_policy: Policy) -> None:
        super().__init__(teams)
        self.release_policy = release_policy


def load_for(paths: Sequence[Path]) -> TeamFile:
    return TeamFile(load(find(paths)), policy.load_for(paths))
