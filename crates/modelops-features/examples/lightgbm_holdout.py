"""Holdout RMSPE of Python LightGBM on matrices written by the export_matrices example (log target).

Usage: lightgbm_holdout.py <dir> [rounds=1000] [learning_rate=0.1] [num_leaves=63] [drop=Name,Name] [min_history_days=0] [add_store=0]
Prints the holdout RMSPE and the top-15 gain importances. Not run by tests: a measurement aid until the Rust
LightGBM engine is wired into `modelops baseline`/training."""
import json, sys, time, numpy as np, lightgbm as lgb
d = sys.argv[1]
rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
lr = float(sys.argv[3]) if len(sys.argv) > 3 else 0.1
leaves = int(sys.argv[4]) if len(sys.argv) > 4 else 63
drop = sys.argv[5].split(',') if len(sys.argv) > 5 and sys.argv[5] else []
min_hist = int(sys.argv[6]) if len(sys.argv) > 6 else 0
add_store = bool(int(sys.argv[7])) if len(sys.argv) > 7 else False
meta = json.load(open(f"{d}/meta.json"))
names = meta["names"]; p = len(names)
def load(prefix, n):
    x = np.fromfile(f"{d}/{prefix}_x.f32", dtype=np.float32).reshape(n, p)
    y = np.fromfile(f"{d}/{prefix}_y.f32", dtype=np.float32)
    k = np.fromfile(f"{d}/{prefix}_keys.i32", dtype=np.int32).reshape(n, 3)
    return x, y, k
xt, yt, kt = load("train", meta["n_train"]); xh, yh, kh = load("holdout", meta["n_holdout"])
first = kt[:, 2].min()
keep = kt[:, 2] >= first + min_hist
xt, yt, kt = xt[keep], yt[keep], kt[keep]
cols = [i for i, n in enumerate(names) if n not in drop]
xt, xh = xt[:, cols], xh[:, cols]; used = [names[i] for i in cols]
cat = [used.index(names[i]) for i in meta["categorical"] if names[i] in used]
if add_store:
    xt = np.hstack([xt, kt[:, :1].astype(np.float32)]); xh = np.hstack([xh, kh[:, :1].astype(np.float32)]); used = used + ["Store"]
params = dict(objective="regression", learning_rate=lr, num_leaves=leaves, min_data_in_leaf=50, feature_fraction=0.8,
              bagging_fraction=0.8, bagging_freq=1, seed=42, verbosity=-1, num_threads=2)
t = time.time()
ds = lgb.Dataset(xt, np.log(yt), feature_name=used, categorical_feature=cat, free_raw_data=False)
m = lgb.train(params, ds, num_boost_round=rounds)
pred = np.exp(m.predict(xh))
rmspe = np.sqrt(np.mean(((yh - pred) / yh) ** 2))
print(f"rows {len(yt)} rounds {rounds} lr {lr} leaves {leaves} drop {drop} min_hist {min_hist} store {add_store}: holdout RMSPE {rmspe:.5f} ({time.time()-t:.0f}s)")
for c in [0.97, 0.98, 0.99, 1.0, 1.01]:
    print(f"  x{c}: {np.sqrt(np.mean(((yh - c*pred) / yh) ** 2)):.5f}", end="")
print()
imp = sorted(zip(used, m.feature_importance("gain")), key=lambda t: -t[1])
tot = sum(g for _, g in imp)
print("top15:", ", ".join(f"{n} {g/tot:.3f}" for n, g in imp[:15]))
