"""Local development and the demo city: debug on unless DEBUG says otherwise."""

from .base import *
from .base import env

DEBUG = env.bool("DEBUG", default=True)
