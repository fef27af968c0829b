"""Optuna's TPE on the synthetic objectives of tests/it/quality.rs, for a side-by-side with our TPE.

Same functions, dimensions, bounds, trial budgets and seed counts as the Rust test, which prints its own medians:
    python benches/optuna_synthetic.py          (needs optuna; e.g. pip install optuna==5.0.0)
    cargo test -p modelops-tune --test it quality -- --nocapture
"""
import statistics
import time

import optuna

optuna.logging.set_verbosity(optuna.logging.WARNING)


def shifted_quadratic(xs):
    return sum((x - (1.5 - 0.7 * i)) ** 2 for i, x in enumerate(xs))


def rosenbrock(xs):
    return sum(100.0 * (b - a * a) ** 2 + (1.0 - a) ** 2 for a, b in zip(xs, xs[1:]))


def best(f, dims, n_trials, seed, sampler_cls):
    study = optuna.create_study(sampler=sampler_cls(seed=seed))
    study.optimize(lambda t: f([t.suggest_float(f"x{i}", -5.0, 5.0) for i in range(dims)]), n_trials=n_trials)
    return study.best_value


for name, f, dims, n_trials, seeds in [("shifted quadratic", shifted_quadratic, 4, 60, 41), ("rosenbrock", rosenbrock, 3, 80, 31)]:
    start = time.perf_counter()
    tpe = [best(f, dims, n_trials, s, optuna.samplers.TPESampler) for s in range(seeds)]
    elapsed = time.perf_counter() - start
    rnd = [best(f, dims, n_trials, s + 10_000, optuna.samplers.RandomSampler) for s in range(seeds)]
    print(
        f"{name}, {dims} dims, {n_trials} trials, {seeds} seeds: median best Optuna TPE {statistics.median(tpe):.4f}, "
        f"random {statistics.median(rnd):.4f}; TPE {elapsed / seeds / n_trials * 1000:.2f} ms per trial"
    )
