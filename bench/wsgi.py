"""The app as production serves it, plus the bench-only URLs when ``BENCH_VIEWS=1``.

``ROOT_URLCONF`` is overridden here rather than in a settings module: the
project package reads its settings while being imported (Celery app), so a
settings module that imports ``marketplace.settings`` from another package
would be read half-built.
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")

from django.conf import settings
from django.core.wsgi import get_wsgi_application

if os.environ.get("BENCH_VIEWS") == "1":
    settings.ROOT_URLCONF = "bench.urls"

application = get_wsgi_application()
