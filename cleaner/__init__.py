"""cleaner: label every unit of a scraped page content / boilerplate / spam, excise injected
spans, and return the sanitized article with an audit of everything removed."""

import os

__version__ = "1.0.0"

# Cleaning is one small page at a time, where OpenMP's thread pool (scikit-learn's boosted trees
# use it) costs far more than it saves and, on a busy machine, stalls for milliseconds per call.
# Parallelism comes from processes instead (`cleaner batch --workers`, gunicorn workers). Only a
# default: set OMP_NUM_THREADS yourself to override it, before importing cleaner.
os.environ.setdefault("OMP_NUM_THREADS", "1")

from cleaner.cleaning import Cleaner, clean, default_cleaner  # noqa: E402
from cleaner.result import Line, Result, Span  # noqa: E402

__all__ = ["Cleaner", "Line", "Result", "Span", "clean", "default_cleaner", "__version__"]
