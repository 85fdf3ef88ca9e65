"""cleaner: label every unit of a scraped page content / boilerplate / spam, excise injected
spans, and return the sanitized article with an audit of everything removed."""

import os
from typing import TYPE_CHECKING, Any

__version__ = "1.0.0"

# Cleaning is one small page at a time, where OpenMP's thread pool (scikit-learn's boosted trees
# use it) costs far more than it saves and, on a busy machine, stalls for milliseconds per call.
# Parallelism comes from processes instead (`cleaner batch --workers`, gunicorn workers). Only a
# default: set OMP_NUM_THREADS yourself to override it, before importing cleaner.
os.environ.setdefault("OMP_NUM_THREADS", "1")

if TYPE_CHECKING:
    from cleaner.cleaning import Cleaner, clean, default_cleaner
    from cleaner.result import Line, Result, Span

__all__ = ["Cleaner", "Line", "Result", "Span", "clean", "default_cleaner", "__version__"]

# Where each public name lives. Resolved on first use (PEP 562), because importing
# scikit-learn costs two seconds: the batch runner's parent process, the CLI's --help and its
# error paths import `cleaner.*` modules but never clean a page themselves.
_HOMES = {
    "Cleaner": "cleaner.cleaning",
    "clean": "cleaner.cleaning",
    "default_cleaner": "cleaner.cleaning",
    "Line": "cleaner.result",
    "Result": "cleaner.result",
    "Span": "cleaner.result",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'cleaner' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
