from tests.cases.conftest import world  # noqa: F401 - the small working city
