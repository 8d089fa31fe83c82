"""The report stage: a computed month as HTML, PDF, JSON and CSV (``monthly``), the streamed
render of large months (``stream``), quarter and year roll-ups (``rollup``), the breakdown
pages (``breakdown``), each SLO's last 12 months (``history``), charts (``charts``) and the
text the CLI prints (``text``, light enough for ``slo-jobs show``).

May import: ``compute``, ``decisions``, ``lake``, ``spec``, ``core``.
"""
