import pytest

from notifications import pool
from tests.cases.conftest import world  # noqa: F401 - the small working city


@pytest.fixture(autouse=True)
def live_pool_closed():
    """The live pool's threads give their database connections back after
    each test: the test database can be dropped at the end."""
    yield
    pool.close_connections()
