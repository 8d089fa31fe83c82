"""The delivery stage: what readers are sent once a period is computed and rendered, and
warnings while a month runs. It composes messages (recipients, subject, body, attachments,
chat text) and decides, through the lake's delivery ledger (``lake.ledger``), whether each
was already sent; the sending itself is Airflow's notifiers (SMTP, Slack webhook), wired in
``dags/`` with Connections, so no secret passes through here.

``monthly``: the monthly report's messages (an email per team, the chat summary, a copy on an
object store); :func:`send_once` sends each message not yet in the ledger and records it.

May import: ``report``, ``review``, ``compute``, ``decisions``, ``lake``, ``spec``, ``core``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from ..lake import LakeDir, ledger

Message = dict[str, Any]


def chat_escape(text: str) -> str:
    """``text`` for a chat webhook: the three characters Slack's message format reserves
    (links, mentions), escaped as its documentation does."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def send_once(lake_dir: LakeDir, label: str, channel: str, messages: Sequence[Message],
              send: Callable[[Message], None], detail: Callable[[Message], dict[str, Any]],
              as_of: datetime) -> dict[str, list[str]]:
    """Send each message (its ``key`` says whom it is for) that the ledger has no record of
    for ``label`` and ``channel``, and record it once sent; a send that raises stops here,
    and the retry sends only what is left. Returns the keys sent and those already sent."""
    done: dict[str, list[str]] = {"sent": [], "already": []}
    for message in messages:
        key = message["key"]
        if ledger.sent(lake_dir, label, channel, key) is not None:
            done["already"].append(key)
            continue
        send(message)
        ledger.mark_sent(lake_dir, label, channel, key, detail(message), as_of)
        done["sent"].append(key)
    return done
