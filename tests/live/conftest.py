import pytest
from asgiref.sync import SyncToAsync
from django.db import connections

from notifications import pool
from tests.cases.conftest import world  # noqa: F401 - the small working city


@pytest.fixture(autouse=True)
def threads_connections_closed():
    """The threads that async tests run sync code on (the live pool, and
    asgiref's one sync thread for the tests' own ``sync_to_async``) give
    their database connections back after each test, so that the test
    database can be dropped at the end. (The consumer no longer hops to the
    sync thread at each message, which closed that one by the way.)"""
    yield
    pool.close_connections()
    SyncToAsync.single_thread_executor.submit(connections.close_all).result()
