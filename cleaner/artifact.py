"""Where the model artifact lives and what its manifest says, without scikit-learn.

Kept apart from `cleaner.model` because the processes that only need to name or identify a
model (the batch runner's parent, `--resume`'s check, Spark's driver shipping the bytes) would
otherwise import scikit-learn for it: two seconds of start-up, paid before the workers that do
the cleaning can even begin.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

MODEL_DIR = Path(__file__).parent / "models"
DEFAULT_MODEL = MODEL_DIR / "default.joblib"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def manifest_path(model_path: Path) -> Path:
    return Path(model_path).with_suffix(".json")
