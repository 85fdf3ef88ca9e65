"""The cleaning job for spark-submit on a cluster (locally, `cleaner spark ...` is the same job).

    spark-submit --master yarn examples/spark_job.py \
        s3a://bucket/crawl/*.jsonl.gz --output s3a://bucket/clean.parquet

Every executor needs cleaner installed (`pip install 'cleaner[spark]'`, or ship a wheel with
--py-files / a packed venv via --archives); the model itself is broadcast by the job.
"""

import sys

from cleaner.spark import main

if __name__ == "__main__":
    sys.exit(main())
