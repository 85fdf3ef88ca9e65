"""gunicorn settings for the cleaner service: the production server.

Run: cleaner serve            (or: gunicorn -c gunicorn.conf.py 'service:create_app()')

- preload_app: the model is loaded (and checked against its manifest, and warmed up on one
  page) once in the master before forking, so a bad model fails the deploy at boot and workers
  share its memory copy-on-write.
- gthread workers: cleaning is CPU-bound Python, so processes give the parallelism (one per
  core by default) and a few threads per process overlap network I/O and slow clients.
- One BLAS/OpenMP thread per process: the gradient-boosted stage would otherwise start a
  thread per core in every worker and they would fight over the same cores.
- Metrics: every worker is a process with its own counters; prometheus_client's multiprocess
  mode aggregates them through files in PROMETHEUS_MULTIPROC_DIR. The variable must be set
  before prometheus_client is imported (here, before the app is preloaded); when it is not
  given, a private directory is made and removed at exit. Files of dead workers are marked
  dead (child_exit), and a given directory is emptied at start, as prometheus_client requires.
- Timeouts: `timeout` (the master kills a worker whose heartbeat stops) cannot see a stuck
  request thread in a gthread worker, whose main thread keeps beating; the app's limits bound
  every request and its watchdog (CLEANER_HARD_TIMEOUT) retires a worker in which a request
  still runs anyway. See docs/security.md for which limit protects against what.

Every setting is read from the environment (CLEANER_*), and gunicorn's own flags still win.
"""

import os
import shutil
import tempfile

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

_OWN_METRICS_DIR = None
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    _OWN_METRICS_DIR = tempfile.mkdtemp(prefix="cleaner-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = _OWN_METRICS_DIR
else:
    _dir = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    os.makedirs(_dir, exist_ok=True)
    for _name in os.listdir(_dir):  # values of a previous run would be added to this one's
        if _name.endswith(".db"):
            os.unlink(os.path.join(_dir, _name))

bind = os.environ.get("CLEANER_BIND", "127.0.0.1:" + os.environ.get("PORT", "8000"))
worker_class = "gthread"
workers = int(os.environ.get("CLEANER_WORKERS", os.cpu_count() or 1))
threads = int(os.environ.get("CLEANER_THREADS", "4"))
preload_app = True
timeout = int(os.environ.get("CLEANER_TIMEOUT", "120"))
graceful_timeout = int(os.environ.get("CLEANER_GRACEFUL_TIMEOUT", "30"))
# Keep-alive off by default: a gthread worker serves every request of a connection it accepted,
# so a few persistent clients (a proxy, a batch job, wrk) can all land on one worker while the
# other idles. Measured with benchmarks/load.py's pages, 8 connections, 2 workers, eight 10 s runs:
# keep-alive 5 s gave 16-45 req/s (a run's connections split unevenly), 0 gave 38-44. A new
# connection per request costs well under a millisecond on a page that costs tens.
keepalive = int(os.environ.get("CLEANER_KEEPALIVE", "0"))
# Recycling workers now and then bounds slow leaks (e.g. in native parsers); with preload a new
# worker is a fork of the master, so it costs milliseconds. 0 disables it.
max_requests = int(os.environ.get("CLEANER_MAX_REQUESTS", "10000"))
max_requests_jitter = max_requests // 10
# Request line and headers: gunicorn refuses oversize ones itself (400, plain text).
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190
# No gunicornc control socket: its default path is shared by every server on the machine.
control_socket_disable = True
# The heartbeat file in memory, not on a disk that may stall (containers: /dev/shm).
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
# The app writes one JSON line per request itself (with its id, units and timing).
accesslog = None
errorlog = "-"
loglevel = os.environ.get("CLEANER_LOG_LEVEL", "info").lower()
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "cleaner.telemetry.json_formatter"}},
    "handlers": {
        "stderr": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "stream": "ext://sys.stderr",
        }
    },
    "root": {"handlers": ["stderr"], "level": "WARNING"},
    "loggers": {
        "gunicorn.error": {"handlers": ["stderr"], "level": loglevel.upper(), "propagate": False},
        "gunicorn.access": {"handlers": [], "propagate": False},
        "cleaner": {"handlers": ["stderr"], "level": loglevel.upper(), "propagate": False},
    },
}


def post_worker_init(worker):
    """Start the app's watchdog in this worker (threads do not survive the fork)."""
    watchdog = getattr(worker.wsgi, "extensions", {}).get("cleaner_watchdog")
    if watchdog is not None:
        watchdog.start()


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if _OWN_METRICS_DIR:
        shutil.rmtree(_OWN_METRICS_DIR, ignore_errors=True)
