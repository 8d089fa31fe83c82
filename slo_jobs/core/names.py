"""Names that become paths: one strict shape for SLO and service names.

At the bottom of the package: the spec validates names with it and the lake checks them
again before building a partition path, without either loading the other.
"""

from __future__ import annotations

import re

# Names become partition paths (slo=<name>), so only a strict, path-safe shape passes.
# \Z, not $: $ also matches before a final newline, and "name\n" must not pass.
SAFE_NAME = re.compile(r"\A[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\Z")
SAFE_NAME_HINT = ("expected lower-case letters, digits and dashes (at most 63), "
                  "starting and ending with a letter or digit")


def safe_name(value: str) -> str:
    """``value`` itself when it is a safe name; ValueError with the expected shape if not."""
    if not SAFE_NAME.match(value):
        raise ValueError(SAFE_NAME_HINT)
    return value
