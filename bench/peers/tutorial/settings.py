"""Peer: the Channels tutorial chat, as a Django team would first write it.

Default RedisChannelLayer configuration (only the host), no database.
"""

import os

SECRET_KEY = "bench-peer-only"  # noqa: S105
DEBUG = False
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = ["daphne", "channels"]
ASGI_APPLICATION = "bench.peers.tutorial.asgi.application"
DATABASES: dict = {}
USE_TZ = True
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [os.environ["REDIS_URL"]], "prefix": "tutorial-peer"},
    }
}
