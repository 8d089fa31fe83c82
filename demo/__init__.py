"""Deterministic demo history: the data behind `make demo` and the integration tests."""
