"""The shared cache: Redis, failing open.

The cache holds only rate-limit counters and other data that can be lost. While Redis is unreachable a read
misses and a write is dropped, so sign-in and reporting keep working with their rate limits lapsed, instead
of every request that touches a limit failing with a 500.
"""

import logging
from functools import wraps

from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

UNREACHABLE = (RedisConnectionError, RedisTimeoutError)


def _fail_open(fallback):
    """Wrap a cache method so that, while Redis is unreachable, it returns `fallback(*args, **kwargs)`."""

    def decorate(method):
        @wraps(method)
        def wrapper(self, *args, **kwargs):
            try:
                return method(self, *args, **kwargs)
            except UNREACHABLE as exc:
                logger.warning("cache unreachable, %s skipped: %s", method.__name__, exc)
                return fallback(*args, **kwargs)

        return wrapper

    return decorate


def _default(key, default=None, *args, **kwargs):
    return default


class FailOpenRedisCache(RedisCache):
    """Django's RedisCache whose get/add/set/incr/delete degrade to a miss while Redis is unreachable.

    `add` answers True (as if the key were new) and `incr` answers `delta`, so a counter restarts at one:
    rate limits count from zero again rather than refusing everyone.
    """

    get = _fail_open(_default)(RedisCache.get)
    get_many = _fail_open(lambda keys, *args, **kwargs: {})(RedisCache.get_many)
    add = _fail_open(lambda *args, **kwargs: True)(RedisCache.add)
    set = _fail_open(lambda *args, **kwargs: None)(RedisCache.set)
    incr = _fail_open(lambda key, delta=1, *args, **kwargs: delta)(RedisCache.incr)
    delete = _fail_open(lambda *args, **kwargs: False)(RedisCache.delete)
