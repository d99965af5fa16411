"""Settings of the live benchmark's server and driver: the local settings
with a channel layer prefix of the run's own (``LIVE_BENCH_PREFIX``).

Redis pub/sub channels are not scoped by database number, so with the
default prefix a development server on the same Redis would push the
benchmark's events to its own clients (and the other way round: its events
to the benchmark's clients, which would count them as unexpected). Nothing
else differs from ``governance.settings.local``: the same
RedisPubSubChannelLayer on the same Redis server.
"""

import os

from governance.settings.local import *  # noqa: F403
from governance.settings.local import CHANNEL_LAYERS

CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] = os.environ.get(
    "LIVE_BENCH_PREFIX", "governance-bench-live"
)
