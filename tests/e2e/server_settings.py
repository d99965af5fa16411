"""Settings of the end-to-end servers (``server_stack`` in conftest.py): the
test settings with the JSON object in E2E_SETTINGS over them, alike in
gunicorn and uvicorn."""

import json
import os

from governance.settings.test import *  # noqa: F403

globals().update(json.loads(os.environ["E2E_SETTINGS"]))
