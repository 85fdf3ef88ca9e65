"""Imported once by the batch runner's forkserver, so that every worker forks from a process
that already has scikit-learn imported and the shipped model loaded.

A worker then starts in milliseconds and shares the model's pages with its siblings
(copy-on-write) instead of each one importing and unpickling it again. The forkserver itself
has never run a prediction, so it has no OpenMP or BLAS threads whose locks a fork could copy
while held (the reason workers are not forked from the parent). A model that fails to load here
is not an error yet: the worker loads it again and reports the failure properly.
"""

from cleaner.cleaning import default_cleaner

try:
    default_cleaner()
except Exception:  # noqa: BLE001 - reported by the worker's own load
    pass
