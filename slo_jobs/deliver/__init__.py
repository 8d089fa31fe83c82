"""The delivery stage: what readers are sent once a period is computed and rendered, and
warnings while a month runs. It composes messages (recipients, subject, body, attachments,
chat text) and decides, through the lake's delivery ledger (``lake.ledger``), whether each
was already sent; the sending itself is Airflow's notifiers (SMTP, Slack webhook), wired in
``dags/`` with Connections, so no secret passes through here.

May import: ``report``, ``review``, ``compute``, ``decisions``, ``lake``, ``spec``, ``core``.
"""
