"""Local development and the demo city: debug on unless DEBUG says otherwise."""

from .base import *
from .base import env, use_pool

DEBUG = env.bool("DEBUG", default=True)
# Pooled connections, as in production (see base).
DB_POOL_MAX_SIZE = use_pool(DATABASES, default_size=10)
