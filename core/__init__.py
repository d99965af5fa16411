"""Shared plumbing of the apps: the error types and the API's one error shape,
API helpers, throttles, database helpers, the configuration cache, admin
building blocks and the two database roles.

This app imports no domain app (organisation, grids, cases, notifications)
and nothing from ``governance``, the project's configuration package; the
domain apps build on it (tests/test_architecture.py holds both rules)."""
