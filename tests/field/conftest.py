from tests.cases.conftest import world  # noqa: F401 - the same small working city
