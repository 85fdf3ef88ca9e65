"""gunicorn settings for the cleaner service.

Run: gunicorn -c gunicorn.conf.py 'service:create_app()'

gthread workers because cleaning is CPU-bound but short and the model is read-only: a few
processes (true parallelism) times a few threads (overlap slow clients) keeps every core busy
without a copy of the model per thread. preload_app loads the model once in the master, so a
bad model fails the deploy at boot and workers share its memory copy-on-write.
Every setting can be overridden by environment (CLEANER_*), or by gunicorn's own flags.
"""

import multiprocessing
import os

bind = os.environ.get("CLEANER_BIND", "127.0.0.1:" + os.environ.get("PORT", "8000"))
worker_class = "gthread"
workers = int(os.environ.get("CLEANER_WORKERS", min(4, multiprocessing.cpu_count())))
threads = int(os.environ.get("CLEANER_THREADS", "4"))
preload_app = True
# A 5 MB page cleans in well under this; a request that does not is stuck, not slow.
timeout = int(os.environ.get("CLEANER_TIMEOUT", "60"))
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then so slow leaks (e.g. in native parsers) cannot accumulate.
max_requests = int(os.environ.get("CLEANER_MAX_REQUESTS", "2000"))
max_requests_jitter = 200
limit_request_line = 8190
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("CLEANER_LOG_LEVEL", "info")
