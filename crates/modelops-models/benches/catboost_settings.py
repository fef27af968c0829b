"""The oblivious booster's settings as a Python `CatBoostRegressor`, for the side-by-side scripts
(`catboost_compare.py`, `catboost_real.py`, and `crates/modelops-tune/benches/optuna_rossmann.py`).

`hp` holds the tuned CatBoost values (`depth`, `learning_rate`, `l2_leaf_reg`, `random_strength`,
`bagging_temperature`, `border_count`, as in config/best_hyperparameters.json); the rest is what modelops'
booster does: RMSE, Bayesian bootstrap (CatBoost 1.2's CPU default would be MVS, which ignores
bagging_temperature), seed 42. `threads` <= 0 means all cores.
"""

from catboost import CatBoostRegressor


def regressor(hp, iterations, threads, **extra):
    return CatBoostRegressor(
        loss_function="RMSE",
        iterations=iterations,
        depth=int(hp["depth"]),
        learning_rate=float(hp["learning_rate"]),
        l2_leaf_reg=float(hp["l2_leaf_reg"]),
        random_strength=float(hp["random_strength"]),
        bagging_temperature=float(hp["bagging_temperature"]),
        bootstrap_type="Bayesian",
        border_count=int(hp["border_count"]),
        random_seed=42,
        thread_count=threads if threads > 0 else -1,
        verbose=0,
        allow_writing_files=False,
        **extra,
    )
