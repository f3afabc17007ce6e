"""Optuna tuning (seed 003): HyperparameterOptimizer (TPE sampler, median pruning on the
validation AUC every 10 rounds) and MultiObjectiveOptimizer (precision / recall Pareto front).

Studies live in an SQLAlchemy storage: the project's PostgreSQL (`postgresql+psycopg://`)
when configured, else an SQLite file. optuna and lightgbm are imported when a study runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from microservices.ml.pipeline import DEFAULT_PARAMS, clean_matrix
from microservices.ml.report import pyplot

PRUNE_EVERY = 10
# dart rescales the dropped trees every round (no early stopping either): its rounds are capped
DART_MAX_ROUNDS = 150
METRICS = ("roc_auc", "f1", "precision", "recall")


def storage_url(explicit: str, database_url: str | None, model_dir: Path) -> str:
    """ML_OPTUNA_STORAGE, else DATABASE_URL with the psycopg driver, else SQLite."""
    if explicit:
        return explicit
    if database_url:
        for prefix in ("postgresql://", "postgres://", "postgresql+asyncpg://"):
            if database_url.startswith(prefix):
                return "postgresql+psycopg://" + database_url[len(prefix) :]
        return database_url
    model_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(model_dir / 'optuna.db').resolve()}"


def suggest_params(trial: Any, base: dict[str, Any] | None = None) -> dict[str, Any]:
    """The seed's search space. goss is LightGBM 4's data_sample_strategy (it refuses
    bagging next to it, so goss trials carry no bagging_fraction)."""
    boosting = trial.suggest_categorical("boosting_type", ["gbdt", "dart", "goss"])
    params: dict[str, Any] = {
        "num_leaves": trial.suggest_int("num_leaves", 15, 127),
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.3, log=True),
        "max_depth": trial.suggest_int("max_depth", 3, 12),
        "feature_fraction": trial.suggest_float("feature_fraction", 0.5, 1.0),
        "bagging_fraction": trial.suggest_float("bagging_fraction", 0.5, 1.0),
        "reg_alpha": trial.suggest_float("reg_alpha", 1e-8, 10.0, log=True),
        "reg_lambda": trial.suggest_float("reg_lambda", 1e-8, 10.0, log=True),
        "scale_pos_weight": trial.suggest_float("scale_pos_weight", 1.0, 20.0),
    }
    return lightgbm_params(boosting, {**(base or {}), **params})


def lightgbm_params(boosting: str, params: dict[str, Any]) -> dict[str, Any]:
    out = {**DEFAULT_PARAMS, **params, "boosting_type": boosting}
    if boosting == "goss":
        out.update(boosting_type="gbdt", data_sample_strategy="goss")
        out.pop("bagging_fraction", None)
        out.pop("bagging_freq", None)
    return out


def score(metric: str, y: np.ndarray, prob: np.ndarray, threshold: float = 0.5) -> float:
    from sklearn.metrics import f1_score, precision_score, recall_score, roc_auc_score

    if metric == "roc_auc":
        return float(roc_auc_score(y, prob))
    pred = (prob >= threshold).astype(int)
    fn = {"f1": f1_score, "precision": precision_score, "recall": recall_score}[metric]
    return float(fn(y, pred, zero_division=0))


class _Data:
    def __init__(self, x_train: pd.DataFrame, y_train: np.ndarray, x_val: pd.DataFrame,
                 y_val: np.ndarray) -> None:  # fmt: skip
        import lightgbm as lgb

        self.columns = list(x_train.columns)
        self.train = lgb.Dataset(clean_matrix(x_train, self.columns), label=y_train,
                                 free_raw_data=False)  # fmt: skip
        self.x_val = clean_matrix(x_val, self.columns)
        self.y_val = y_val
        self.valid = lgb.Dataset(self.x_val, label=y_val, reference=self.train)

    def fit(self, params: dict[str, Any], rounds: int, callbacks: list[Any]) -> np.ndarray:
        import lightgbm as lgb

        if params.get("boosting_type") == "dart":  # no early stopping; cost grows with rounds
            rounds = min(rounds, DART_MAX_ROUNDS)
        else:
            callbacks = [*callbacks, lgb.early_stopping(30, verbose=False)]
        booster = lgb.train(params, self.train, rounds, valid_sets=[self.valid],
                            valid_names=["valid"], callbacks=callbacks)  # fmt: skip
        best = booster.best_iteration or None
        return np.asarray(booster.predict(self.x_val, num_iteration=best), dtype=float)


def _route_optuna_logs() -> None:
    """Optuna's per-trial lines go through our (JSON) logging instead of its own handler."""
    import optuna

    optuna.logging.disable_default_handler()
    optuna.logging.enable_propagation()


def _pruning_callback(trial: Any) -> Any:
    import optuna

    def callback(env: Any) -> None:
        if (env.iteration + 1) % PRUNE_EVERY:
            return
        for _, name, value, _ in env.evaluation_result_list:
            if name == "auc":
                trial.report(value, env.iteration + 1)
                if trial.should_prune():
                    raise optuna.TrialPruned()

    return callback


class HyperparameterOptimizer:
    def __init__(self, study_name: str, storage: str, direction: str = "maximize",
                 n_trials: int = 100, n_jobs: int = 1, seed: int = 17,
                 base_params: dict[str, Any] | None = None) -> None:  # fmt: skip
        """base_params: fixed LightGBM parameters every trial gets (e.g. num_threads)."""
        self.study_name, self.storage, self.base = study_name, storage, base_params
        self.direction, self.n_trials, self.n_jobs, self.seed = direction, n_trials, n_jobs, seed
        self.study: Any = None

    def optimize_lightgbm(self, x_train: pd.DataFrame, y_train: np.ndarray,
                          x_val: pd.DataFrame, y_val: np.ndarray, metric: str = "roc_auc",
                          num_boost_round: int = 500) -> dict[str, Any]:  # fmt: skip
        """Best LightGBM parameters (ready for LightGBMPipeline) by `metric` on the
        validation rows; the study is created or resumed in the storage."""
        import optuna

        if metric not in METRICS:
            raise ValueError(f"metric must be one of {', '.join(METRICS)}")
        data = _Data(x_train, y_train, x_val, y_val)
        _route_optuna_logs()
        self.study = optuna.create_study(
            study_name=self.study_name, storage=self.storage, direction=self.direction,
            sampler=optuna.samplers.TPESampler(seed=self.seed),
            pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=PRUNE_EVERY),
            load_if_exists=True,
        )  # fmt: skip

        def objective(trial: Any) -> float:
            params = suggest_params(trial, self.base)
            prob = data.fit(params, num_boost_round, [_pruning_callback(trial)])
            return score(metric, data.y_val, prob)

        self.study.optimize(objective, n_trials=self.n_trials, n_jobs=self.n_jobs)
        best = dict(self.study.best_trial.params)
        return lightgbm_params(best.pop("boosting_type"), best)

    def get_study_summary(self) -> dict[str, Any]:
        import optuna

        states = [t.state for t in self.study.trials]
        return {
            "study": self.study_name, "trials": len(states),
            "complete": states.count(optuna.trial.TrialState.COMPLETE),
            "pruned": states.count(optuna.trial.TrialState.PRUNED),
            "best_value": self.study.best_value, "best_params": self.study.best_params,
        }  # fmt: skip

    def plot_optimization_history(self, path: Path) -> Path:
        """Objective per complete trial, the best so far, and pruned trials at their last
        reported (intermediate) value (matplotlib)."""
        import optuna

        plt = pyplot()
        state = optuna.trial.TrialState
        done = [t for t in self.study.trials if t.state == state.COMPLETE]
        pruned = [t for t in self.study.trials if t.state == state.PRUNED and t.intermediate_values]
        values = [t.value for t in done]
        accumulate = np.maximum if self.direction == "maximize" else np.minimum
        fig, ax = plt.subplots(figsize=(8, 4))
        ax.scatter([t.number for t in done], values, s=14, label="complete")
        ax.scatter([t.number for t in pruned], [t.intermediate_values[max(t.intermediate_values)]
                                                for t in pruned], s=14, marker="x",
                   color="grey", label="pruned (last reported)")  # fmt: skip
        if values:
            ax.step([t.number for t in done], accumulate.accumulate(values), where="post",
                    color="tab:red", label="best so far")  # fmt: skip
        ax.set_xlabel("trial")
        ax.set_ylabel("objective")
        ax.set_title(f"Optimisation history: {self.study_name}")
        ax.legend()
        fig.tight_layout()
        fig.savefig(path, dpi=90)
        plt.close(fig)
        return path


class MultiObjectiveOptimizer:
    """Precision and recall at the threshold, both maximised; the Pareto-optimal trials."""

    def __init__(self, study_name: str, storage: str, n_trials: int = 100,
                 threshold: float = 0.5, seed: int = 17,
                 base_params: dict[str, Any] | None = None) -> None:  # fmt: skip
        self.study_name, self.storage, self.n_trials = study_name, storage, n_trials
        self.base = base_params
        self.threshold, self.seed = threshold, seed
        self.study: Any = None

    def optimize_precision_recall(self, x_train: pd.DataFrame, y_train: np.ndarray,
                                  x_val: pd.DataFrame, y_val: np.ndarray,
                                  num_boost_round: int = 300) -> list[dict[str, Any]]:  # fmt: skip
        import optuna

        data = _Data(x_train, y_train, x_val, y_val)
        _route_optuna_logs()
        self.study = optuna.create_study(
            study_name=self.study_name, storage=self.storage,
            directions=["maximize", "maximize"], load_if_exists=True,
            sampler=optuna.samplers.TPESampler(seed=self.seed),
        )  # fmt: skip

        def objective(trial: Any) -> tuple[float, float]:
            prob = data.fit(suggest_params(trial, self.base), num_boost_round, [])
            return (score("precision", data.y_val, prob, self.threshold),
                    score("recall", data.y_val, prob, self.threshold))  # fmt: skip

        self.study.optimize(objective, n_trials=self.n_trials)
        return [{"precision": t.values[0], "recall": t.values[1], "params": t.params}
                for t in self.study.best_trials]  # fmt: skip

    def plot_pareto_front(self, path: Path) -> Path:
        plt = pyplot()
        done = [t for t in self.study.trials if t.values is not None]
        front = {t.number for t in self.study.best_trials}
        fig, ax = plt.subplots(figsize=(6, 5))
        ax.scatter([t.values[1] for t in done], [t.values[0] for t in done], s=14, label="trial")
        pareto = sorted((t.values[1], t.values[0]) for t in done if t.number in front)
        ax.plot([p[0] for p in pareto], [p[1] for p in pareto], color="tab:red", marker="o",
                label="Pareto front")  # fmt: skip
        ax.set_xlabel("recall")
        ax.set_ylabel("precision")
        ax.legend()
        fig.tight_layout()
        fig.savefig(path, dpi=90)
        plt.close(fig)
        return path


def write_json(path: Path, value: Any) -> None:
    path.write_text(json.dumps(value, indent=2, default=float) + "\n")
