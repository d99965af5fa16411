"""Local development and the demo city (``bin/run``). Debug pages are off
unless DEBUG=true: the demo answers errors as production does, and a debug
page shows settings such as the database URL to whoever triggers it."""

from .base import *
from .base import env

DEBUG = env.bool("DEBUG", default=False)
