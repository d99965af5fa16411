import pytest

from tests.cases.conftest import world  # noqa: F401 - the same small working city
from tests.field.urls_frame import frame_urls_needed


@pytest.fixture(autouse=True)
def field_frame(settings):
    """The field frame's home and report links, stood in for until they exist."""
    if frame_urls_needed():
        settings.ROOT_URLCONF = "tests.field.urls_frame"
