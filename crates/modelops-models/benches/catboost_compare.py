"""Times Python catboost on exactly the matrices of `benches/oblivious.rs` (run by hand, not by CI).

    OBLIVIOUS_BENCH_DUMP=/tmp/obl cargo bench -p modelops-models --bench oblivious
    .tools/pyenv/bin/python crates/modelops-models/benches/catboost_compare.py /tmp/obl [iterations] [threads]

Same settings as the Rust run (the reference's tuned CatBoost parameters: depth 10, border_count 226,
learning_rate 0.0603, l2_leaf_reg 5.84, random_strength 0.0772, seed 42), Bayesian bootstrap with the reference's
bagging_temperature (CatBoost 1.2's CPU default would be MVS, which ignores bagging_temperature), categorical
columns as CatBoost categoricals. Prints wall and CPU time of `fit` and the RMSPE on the test rows.
"""

import json
import os
import sys
import time

import numpy as np
import pandas as pd
from catboost import Pool
from catboost_settings import regressor


# The reference's tuned CatBoost values, as `ObliviousConfig::reference()` in benches/oblivious.rs.
REFERENCE = {
    "depth": 10,
    "learning_rate": 0.060279781584468055,
    "l2_leaf_reg": 5.843952578300897,
    "random_strength": 0.07720203612333576,
    "bagging_temperature": 0.6628074422804099,
    "border_count": 226,
}


def load(directory, name, meta):
    n_cols = len(meta["names"])
    x = np.fromfile(os.path.join(directory, f"{name}_x.f32"), dtype="<f4").reshape(-1, n_cols)
    y = np.fromfile(os.path.join(directory, f"{name}_y.f32"), dtype="<f4")
    frame = pd.DataFrame(x.astype(np.float64), columns=meta["names"])
    for c in meta["cat_columns"]:
        col = meta["names"][c]
        frame[col] = frame[col].astype(np.int64)  # codes; CatBoost hashes their text, as our JSON export assumes
    return Pool(frame, label=y, cat_features=meta["cat_columns"]), y


def main():
    directory = sys.argv[1]
    meta = json.load(open(os.path.join(directory, "meta.json")))
    iterations = int(sys.argv[2]) if len(sys.argv) > 2 else meta["iterations"]
    threads = int(sys.argv[3]) if len(sys.argv) > 3 else (meta["threads"] or os.cpu_count())
    train, _ = load(directory, "train", meta)
    test, test_y = load(directory, "test", meta)
    model = regressor(REFERENCE, iterations, threads)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    model.fit(train)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    pred = model.predict(test)
    rmspe = float(np.sqrt(np.mean(((test_y - pred) / test_y) ** 2)))
    print(
        f"catboost {iterations} trees, {threads} threads: fit wall {wall:.1f}s, cpu {cpu:.1f}s "
        f"({1000 * wall / iterations:.1f} ms/tree wall), test RMSPE {rmspe:.5f}"
    )


if __name__ == "__main__":
    main()
