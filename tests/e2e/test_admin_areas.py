import os

import pytest

from tests.factories import DEMO_PASSWORD, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def log_in(page, live_server, username):
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#user-tools")


def test_admin_lists_areas_by_level_and_shows_the_boundary_on_a_map(page, live_server, small_city):
    UserFactory(username="root", is_staff=True, is_superuser=True)
    log_in(page, live_server, "root")

    # The list, filtered to grids, ordered by code
    page.goto(f"{live_server.url}/admin/grids/area/?level__exact=5")
    codes = page.locator("#result_list tbody th a").all_inner_texts()
    assert codes == sorted(small_city.grids)

    # One grid's page draws its boundary as a polygon on the map
    grid = small_city.grids["320402001001002"]
    page.goto(f"{live_server.url}/admin/grids/area/{grid.pk}/change/")
    page.wait_for_selector(".leaflet-container path.leaflet-interactive", timeout=15000)
    path = page.locator(".leaflet-container path.leaflet-interactive").first
    box = path.bounding_box()
    assert box["width"] > 20 and box["height"] > 20
    screenshot = os.environ.get("E2E_SCREENSHOT_DIR")
    if screenshot:
        page.screenshot(path=os.path.join(screenshot, "admin-area-map.png"))


def test_admin_is_refused_to_a_user_who_is_not_staff(page, live_server, small_city):
    UserFactory(username="worker", is_staff=False)

    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "worker")
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("input[type=submit]")

    page.wait_for_selector(".errornote")
    page.goto(f"{live_server.url}/admin/grids/area/")
    assert "/admin/login/" in page.url
