"""Settings of the end-to-end server (``asgi_server`` in conftest.py): the test
settings with the JSON object in E2E_SETTINGS over them, alike in the server
and in the HTTP worker processes it starts."""

import json
import os

from governance.settings.test import *  # noqa: F403

globals().update(json.loads(os.environ["E2E_SETTINGS"]))
