"""ML layer of seed 003 (issue 17): datasets with triple-barrier labels, LightGBM training,
walk-forward evaluation, meta-labeling, Optuna tuning, a model registry and online signals.

Pure modules (labels, dataset, generator, metrics) import no I/O; lightgbm, optuna,
scikit-learn and matplotlib (the `ml` extra) are imported lazily inside the functions that
need them, so the engine starts without them when no model is used.
"""
