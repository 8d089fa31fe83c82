"""Keeping credentials out of everything slo-jobs shows or writes.

Known secrets are the values of secret-named environment variables (``*_TOKEN``,
``*_PASSWORD``, ...) and those a configuration registers (a Connection's password or
token). :func:`redact` replaces them, and the ``user:password@`` of any URL, by ``***``;
any part of :data:`FRAGMENT` characters or more of a secret too (a server echoing the
first 24 characters of a token, a secret cut short by a message's length limit).
A bottom-layer module: it imports nothing of slo_jobs.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

MASK = "***"
# A variable whose name says it holds a credential (SLO_JOBS_PROMETHEUS_TOKEN, DB_PASSWORD,
# AWS_SECRET_ACCESS_KEY, ...).
_SECRET_NAME = re.compile(r"TOKEN|PASSW|SECRET|CREDENTIAL|API_?KEY|PRIVATE_?KEY", re.I)
# Shorter values ("1", "true") would mask ordinary text and hide nothing worth hiding.
MIN_SECRET_LEN = 6
# Any run of this many characters of a secret is masked wherever it appears: fewer would
# mask ordinary words of a report; a part this long identifies the secret and gives it away.
FRAGMENT = 8
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/?#@\s\"'<>]*@")
_registered: set[str] = set()
_warned: set[str] = set()
log = logging.getLogger("slo_jobs")


class _MaskRecords(logging.Filter):
    """What slo-jobs logs (a task's log, the CLI's warnings) is an output like any other."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            record.msg, record.args = redact(record.getMessage()), None
        except (TypeError, ValueError):  # arguments that do not fit: masked as written
            record.msg = redact(str(record.msg))
        return True


log.addFilter(_MaskRecords())


def is_secret_name(name: str) -> bool:
    return bool(_SECRET_NAME.search(name))


def register(*values: str | None) -> None:
    """Remember credentials that did not come from the environment (a Connection's)."""
    _registered.update(v for v in values if v and len(v) >= MIN_SECRET_LEN)


def known_secrets(env: Mapping[str, str] | None = None) -> list[str]:
    """Every known secret, longest first (so a secret containing another goes whole)."""
    environ = os.environ if env is None else env
    found = {v for k, v in environ.items() if is_secret_name(k) and len(v) >= MIN_SECRET_LEN}
    return sorted(found | _registered, key=len, reverse=True)


def redact(text: str, extra: tuple[str | None, ...] = ()) -> str:
    """``text`` without URL credentials, known secrets or the ``extra`` ones."""
    return masker(extra)(text)


def masker(extra: tuple[str | None, ...] = ()) -> Callable[[str], str]:
    """:func:`redact` with the secrets known now, for many texts in a row (a report's
    thousands of parts) without looking them up for each."""
    secrets = sorted({e for e in extra if e}, key=len, reverse=True) + known_secrets()
    fragments = _Fragments.of(tuple(dict.fromkeys(secrets)))

    def mask(text: str) -> str:
        return fragments.mask(_USERINFO.sub(lambda m: m.group(1) + MASK + "@", text))

    return mask


class _Fragments:
    """Masks the secrets, whole, and every part of them at least FRAGMENT long.

    Built once per set of secrets (cached): the FRAGMENT-character windows of each secret.
    Every place a window occurs is found by a plain substring search (the text is scanned
    in C once per window, not character by character in Python); windows that overlap or
    touch make one part, masked as one ``***``.
    """

    def __init__(self, secrets: tuple[str, ...]) -> None:
        forms = {f for s in secrets for f in _written(s)}
        self.short = sorted((f for f in forms if len(f) < FRAGMENT), key=len, reverse=True)
        self.windows = sorted({f[i:i + FRAGMENT] for f in forms
                               for i in range(len(f) - FRAGMENT + 1)})

    @staticmethod
    @lru_cache(maxsize=16)
    def of(secrets: tuple[str, ...]) -> _Fragments:
        return _Fragments(secrets)

    def mask(self, text: str) -> str:
        for secret in self.short:
            text = text.replace(secret, MASK)
        starts: list[int] = []
        for window in self.windows:
            at = text.find(window)
            while at >= 0:
                starts.append(at)
                at = text.find(window, at + 1)
        if not starts:
            return text
        out: list[str] = []
        done, run_start, run_end = 0, -1, -1
        for at in sorted(starts):
            if at > run_end:  # a new part: the one before is complete
                if run_end >= 0:
                    out += [text[done:run_start], MASK]
                    done = run_end
                run_start = at
            run_end = max(run_end, at + FRAGMENT)
        out += [text[done:run_start], MASK, text[run_end:]]
        return "".join(out)


def _written(secret: str) -> set[str]:
    """``secret`` as each output writes it: as is, HTML-escaped (Jinja2's and Python's
    entities), inside a JSON string (ASCII or not) and inside a quoted CSV field. A secret
    with a quote or an ``&`` is masked in summary.json and report.html too."""
    html = secret.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return {secret, html.replace("'", "&#39;").replace('"', "&#34;"),
            html.replace("'", "&#x27;").replace('"', "&quot;"),
            json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1],
            secret.replace('"', '""')}


def mask_values(value: Any) -> Any:
    """``value`` (nested dicts and lists) with every string in it masked, for a structure
    to be written as YAML or JSON: its writer then escapes or quotes the masked text."""
    mask = masker()

    def walk(v: Any) -> Any:
        if isinstance(v, str):
            return mask(v)
        if isinstance(v, dict):
            return {walk(k): walk(x) for k, x in v.items()}
        return [walk(x) for x in v] if isinstance(v, list) else v

    return walk(value)


def split_userinfo(url: str) -> tuple[str, str | None, str | None]:
    """``http://user:pw@host/x`` -> (``http://host/x``, ``user``, ``pw``), decoded."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, None, None
    userinfo, _, host = parts.netloc.rpartition("@")
    user, sep, password = userinfo.partition(":")
    return (urlunsplit(parts._replace(netloc=host)), unquote(user) or None,
            unquote(password) if sep else None)


def is_loopback(url: str) -> bool:
    """By the parsed address, never a prefix: ``localhost``, or an IP literal in 127.0.0.0/8
    or ``::1`` (``127.0.0.1.example.com`` is a name like any other)."""
    try:
        host = (urlsplit(url).hostname or "").lower()
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:  # not an IP literal (or not a URL)
        return False


def warn_plain_http(url: str, what: str) -> None:
    """Warn once per URL (one line, to the log or stderr) that credentials for ``what``
    would cross the network unencrypted; loopback and https are fine."""
    if url.lower().startswith("http://") and not is_loopback(url) and url not in _warned:
        _warned.add(url)
        # Without logging configured (the CLI), Python prints this line alone on stderr.
        log.warning("warning: %s at %s: credentials are sent over plain http, readable on "
                    "the network; expected an https:// URL", what, redact(url))


def take_url_credentials(config: Any) -> None:
    """Move ``user:password@`` out of a frozen config's ``url`` into its ``username`` and
    ``password`` (unless set), so the URL can appear in messages; register the secrets."""
    url, user, password = split_userinfo(config.url)
    if user is not None or password is not None:
        object.__setattr__(config, "url", url)
        object.__setattr__(config, "username", config.username or user)
        object.__setattr__(config, "password", config.password or password)
    register(getattr(config, "token", None), config.password)
