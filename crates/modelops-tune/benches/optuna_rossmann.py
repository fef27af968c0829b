"""Optuna 5 on exactly the CV folds `modelops tune` optimises: the side-by-side of issue 10 (run by hand, not CI).

    modelops --project-dir P tune --model all --max-rounds R --export-folds FOLDS     # same flags as the run
    .tools/pyenv/bin/python crates/modelops-tune/benches/optuna_rossmann.py FOLDS MODEL SEED [TRIALS]

`FOLDS/folds.json` carries what the Rust objective uses: per fold the training rows, the early-stopping block
(the days just before the fold's origin) and the scored days, the feature kinds, the target transform, the round
cap, the early-stopping patience, the thread count and the search space. This script runs the reference's study
on them — `TPESampler(seed)` with Optuna's defaults, `MedianPruner(n_startup_trials=5, n_warmup_steps=2)`, one
trial at a time (`n_jobs=1`, as the reference) — with the same engine settings as `modelops` (LightGBM and XGBoost
through their Python packages, the real CatBoost for `catboost`), and prints one JSON line: best value, trial
counts and wall time. The feature matrices (and CatBoost's pools) are built once, before the clock starts.
"""

import json
import os
import sys
import time

import numpy as np
import optuna
import pyarrow.parquet as pq

# The CatBoost side uses the same CatBoostRegressor settings as the engine benchmarks of modelops-models.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "modelops-models", "benches"))
import catboost_settings  # noqa: E402

optuna.logging.set_verbosity(optuna.logging.WARNING)


def load(folds_dir, model):
    manifest = json.load(open(os.path.join(folds_dir, "folds.json")))
    names = manifest["feature_names"]
    categorical = [i for i, k in enumerate(manifest["feature_kinds"]) if k["kind"] == "categorical"]
    forward = np.log1p if manifest["target"] == "log1p" else (lambda v: v)
    inverse = np.expm1 if manifest["target"] == "log1p" else (lambda v: v)
    folds = []
    for files in manifest["folds"]:
        fold = {}
        for part in ("train", "stop", "valid"):
            table = pq.read_table(os.path.join(folds_dir, files[part])).to_pandas()
            x = table[names].to_numpy(dtype=np.float32, na_value=np.nan)
            sales = table["Sales"].to_numpy(dtype=np.float64)
            y = forward(sales.astype(np.float32)).astype(np.float32)
            fold[part] = (x, sales, y)
            if model == "catboost":
                fold[f"{part}_pool"] = catboost_pool(x, y, names, categorical)
        folds.append(fold)
    return manifest, names, categorical, inverse, folds


def catboost_pool(x, y, names, categorical):
    """A CatBoost pool of one fold part: categorical codes as integers (missing as -1), the rest as float64."""
    import pandas as pd
    from catboost import Pool

    frame = {}
    for i, name in enumerate(names):
        col = x[:, i]
        frame[name] = np.where(np.isnan(col), -1, col).astype(np.int64) if i in categorical else col.astype(np.float64)
    return Pool(pd.DataFrame(frame), label=y, cat_features=categorical)


def suggest(trial, space):
    params = {}
    for name, d in space.items():
        if d["type"] == "int":
            params[name] = trial.suggest_int(name, d["low"], d["high"], step=d.get("step", 1), log=d["log"])
        elif d["type"] == "float":
            params[name] = trial.suggest_float(name, d["low"], d["high"], step=d.get("step"), log=d["log"])
        else:
            params[name] = trial.suggest_categorical(name, d["choices"])
    return params


def rmspe(actual, predicted):
    return float(np.sqrt(np.mean(((actual - predicted) / actual) ** 2)))


def fit_predict(model, p, fold, manifest, names, categorical):
    """Fits one fold with modelops' engine settings and returns the model-scale predictions of the scored days."""
    rounds, patience, threads = manifest["max_rounds"], manifest["early_stopping_rounds"], manifest["threads"]
    (x_tr, _, y_tr), (x_st, _, y_st), (x_va, _, _) = fold["train"], fold["stop"], fold["valid"]
    if model == "lightgbm":
        import lightgbm as lgb

        params = {
            "objective": "regression", "boosting": "gbdt", "metric": "rmse", "num_leaves": p["num_leaves"],
            "max_depth": p["max_depth"], "learning_rate": p["learning_rate"],
            "feature_fraction": p["feature_fraction"], "bagging_fraction": p["bagging_fraction"],
            "bagging_freq": p["bagging_freq"], "min_data_in_leaf": p["min_child_samples"],
            "lambda_l1": p["reg_alpha"], "lambda_l2": p["reg_lambda"], "seed": 42, "num_threads": threads,
            "deterministic": True, "force_col_wise": True, "verbosity": -1,
        }
        train = lgb.Dataset(x_tr, y_tr, feature_name=names, categorical_feature=categorical, params=params)
        stop = lgb.Dataset(x_st, y_st, reference=train)
        booster = lgb.train(params, train, num_boost_round=rounds, valid_sets=[stop],
                            callbacks=[lgb.early_stopping(patience, verbose=False)])
        return booster.predict(x_va, num_iteration=booster.best_iteration)
    if model == "xgboost":
        import xgboost as xgb

        params = {
            "verbosity": 0, "booster": "gbtree", "tree_method": "hist", "objective": "reg:squarederror",
            "eval_metric": "rmse", "max_depth": p["max_depth"], "eta": p["learning_rate"],
            "subsample": p["subsample"], "colsample_bytree": p["colsample_bytree"],
            "min_child_weight": p["min_child_weight"], "alpha": p["reg_alpha"], "lambda": p["reg_lambda"],
            "gamma": p["gamma"], "max_bin": 256, "seed": 42, "nthread": threads,
        }
        train = xgb.DMatrix(x_tr, y_tr, missing=np.nan)
        stop = xgb.DMatrix(x_st, y_st, missing=np.nan)
        booster = xgb.train(params, train, num_boost_round=rounds, evals=[(stop, "stop")],
                            early_stopping_rounds=patience, verbose_eval=False)
        return booster.predict(xgb.DMatrix(x_va, missing=np.nan), iteration_range=(0, booster.best_iteration + 1))
    reg = catboost_settings.regressor(p, rounds, threads, early_stopping_rounds=patience, use_best_model=True)
    reg.fit(fold["train_pool"], eval_set=fold["stop_pool"])
    return reg.predict(fold["valid_pool"])


def main():
    folds_dir, model, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
    n_trials = int(sys.argv[4]) if len(sys.argv) > 4 else 50
    manifest, names, categorical, inverse, folds = load(folds_dir, model)
    space = manifest["search_spaces"][model]

    def objective(trial):
        p = suggest(trial, space)
        total = 0.0
        for k, fold in enumerate(folds):
            predicted = inverse(fit_predict(model, p, fold, manifest, names, categorical).astype(np.float64))
            total += rmspe(fold["valid"][1], predicted)
            trial.report(total / (k + 1), k)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return total / len(folds)

    study = optuna.create_study(
        direction="minimize",
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=2),
    )
    started = time.perf_counter()
    study.optimize(objective, n_trials=n_trials, n_jobs=1)
    wall = time.perf_counter() - started
    states = [t.state for t in study.trials]
    print(json.dumps({
        "tuner": f"optuna {optuna.__version__}", "model": model, "seed": seed, "trials": n_trials,
        "best_rmspe": study.best_value, "complete": states.count(optuna.trial.TrialState.COMPLETE),
        "pruned": states.count(optuna.trial.TrialState.PRUNED), "wall_seconds": round(wall, 1),
        "best_params": study.best_params,
    }))


if __name__ == "__main__":
    main()
