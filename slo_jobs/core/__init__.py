"""What every stage shares and nothing else: periods and time arithmetic (``periods``), the
burn-rate constants (``burnrate``), the verdict rules (``verdict``), errors, names, secret
masking (``redaction``) and where the SQL and templates are (``resources``).

May import: nothing of slo_jobs outside ``core``.
"""
