"""Python catboost on the real feature matrix that `modelops features build` wrote (run by hand, not by CI).

The side-by-side of issue 4: the oblivious booster's figures come from `modelops train` on the same project
(`cb_holdout_rmspe`, `cb_train_time_seconds`, `cb_train_peak_rss_mib`), this script gives catboost's on the
same rows, with the same settings (config/best_hyperparameters.json's `catboost` entry, the reference's 1500
iterations, Bayesian bootstrap, seed 42), the same target (ln(1 + Sales)) and the same thread count:

    modelops --project-dir P data ingest --data-dir RAW && modelops --project-dir P features build
    modelops --project-dir P train --threads 2 --no-register
    .tools/pyenv/bin/python crates/modelops-models/benches/catboost_real.py P [iterations] [threads]

Training rows: `IsHoldout = 0`, open days with Sales > 0 (the rolling-origin rows `modelops train` fits);
scored rows: the holdout's open days with Sales > 0 (RMSPE ignores Sales = 0 days; closed days predict 0).
Categorical columns (kind `categorical` in feature_spec.json) go in as CatBoost categoricals, missing as -1.
Prints rows, fit wall/CPU time, peak RSS of this process and the holdout RMSPE.
"""

import json
import os
import resource
import sys
import time

import numpy as np
import pyarrow.parquet as pq
from catboost import Pool
from catboost_settings import regressor


def main():
    project = sys.argv[1]
    iterations = int(sys.argv[2]) if len(sys.argv) > 2 else 1500
    threads = int(sys.argv[3]) if len(sys.argv) > 3 else os.cpu_count()
    processed = os.path.join(project, "data", "processed")
    spec = json.load(open(os.path.join(processed, "feature_spec.json")))
    names = spec["names"]
    categorical = [i for i, k in enumerate(spec["kinds"]) if k.get("kind") == "categorical"]
    hp_path = os.path.join(project, "config", "best_hyperparameters.json")
    if not os.path.exists(hp_path):
        hp_path = os.path.join(os.path.dirname(__file__), "..", "..", "..", "config", "best_hyperparameters.json")
    hp = json.load(open(hp_path))["catboost"]["hyperparameters"]

    frame = pq.read_table(os.path.join(processed, "train_features.parquet")).to_pandas()
    model_rows = (frame["Open"] == 1) & (frame["Sales"] > 0)
    train = frame[model_rows & (frame["IsHoldout"] == 0)]
    holdout = frame[model_rows & (frame["IsHoldout"] == 1)]

    def pool(part):
        x = part[names].copy()
        for i in categorical:
            col = names[i]
            x[col] = x[col].fillna(-1).astype(np.int64)
        for i, col in enumerate(names):
            if i not in categorical:
                x[col] = x[col].astype(np.float64)
        return Pool(x, label=np.log1p(part["Sales"].to_numpy(np.float64)), cat_features=categorical)

    train_pool, holdout_pool = pool(train), pool(holdout)
    model = regressor(hp, iterations, threads)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    model.fit(train_pool)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    sales = holdout["Sales"].to_numpy(np.float64)
    pred = np.expm1(model.predict(holdout_pool))
    rmspe = float(np.sqrt(np.mean(((sales - pred) / sales) ** 2)))
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"catboost {catboost_version()} on {len(train)} train rows x {len(names)} features "
        f"({len(categorical)} categorical), {iterations} trees, {threads} threads: fit wall {wall:.1f}s, "
        f"cpu {cpu:.1f}s ({1000 * wall / iterations:.1f} ms/tree), peak RSS {peak_mib:.0f} MiB, "
        f"holdout rows {len(holdout)} RMSPE {rmspe:.5f}"
    )


def catboost_version():
    import catboost

    return catboost.__version__


if __name__ == "__main__":
    main()
