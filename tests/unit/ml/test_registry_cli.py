"""Registry, promote and the `train | evaluate | model` commands on small generated data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from microservices.cli import main
from microservices.ml.registry import ModelRegistry

pytest.importorskip("lightgbm")

SMALL = ["--generated", "--rows", "3000", "--label", "sign", "--horizon", "5s",
         "--rounds", "60"]  # fmt: skip


@pytest.fixture
def model_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "models"
    monkeypatch.setenv("ML_MODEL_DIR", str(folder))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    (tmp_path / "empty.env").write_text("")
    monkeypatch.chdir(tmp_path)
    return folder


def _cli(*args: str) -> int:
    return main(["--env-file", "empty.env", *args])


def test_train_generated_writes_model_report_and_promotes(
    model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _cli("train", *SMALL, "--promote") == 0
    version = model_dir / "versions" / "v0001"
    for name in ("model.txt", "params.json", "features.json", "metadata.json", "meta/meta.json",
                 "report/report.md", "report/window_results.csv",
                 "report/walk_forward_results.png", "report/feature_importance.png"):  # fmt: skip
        assert (version / name).is_file(), name
    meta = json.loads((version / "metadata.json").read_text())
    assert meta["training_window"]["rows"] == 2995  # 3000 rows, the last 5 s have no label
    assert meta["label"] == {"kind": "sign", "horizon_ms": 5000, "barriers": "fixed",
                             "tp_bps": 10.0, "sl_bps": 10.0, "cost_bps": 5.0}  # fmt: skip
    assert meta["code_version"].startswith(("git:", "package:"))
    assert "avg_price" not in meta["features"] and "binance_bybit_ratio" in meta["features"]
    assert "is_unbalance" not in meta["params"] and meta["params"]["scale_pos_weight"] == 10.0
    assert meta["walk_forward"]["pooled_auc"] > 0.6  # the planted lead-lag
    assert (model_dir / "current").read_text().strip() == "v0001"
    rows = (version / "report" / "window_results.csv").read_text().splitlines()
    assert rows[0].startswith("window,train_start,train_end,test_start,test_end,train_rows")
    out = capsys.readouterr().out
    assert "model v0001" in out and "promoted: current -> v0001" in out

    assert _cli("evaluate", *SMALL, "--seed", "8") == 0
    evaluation = json.loads((version / "evaluation-latest.json").read_text())
    assert evaluation["version"] == "v0001" and evaluation["auc"] > 0.6


def test_registry_versions_and_promote(model_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    registry = ModelRegistry(model_dir)
    assert registry.current() is None and registry.names() == []
    for _ in range(2):
        name, path = registry.new_version_dir()
        registry.write_metadata(path, {"created_at": "t", "walk_forward": {"pooled_auc": 0.5}})
    assert registry.names() == ["v0001", "v0002"]
    assert registry.promote("v0002").name == "v0002"
    assert registry.current_name() == "v0002"
    assert _cli("model", "promote", "v0001") == 0
    assert registry.current_name() == "v0001"
    assert _cli("model", "promote", "v0009") == 2  # unknown: refused, pointer unchanged
    assert registry.current_name() == "v0001"
    capsys.readouterr()
    assert _cli("model", "list") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("* v0001") and lines[1].startswith("  v0002")
    (model_dir / "current").write_text("../../etc\n")  # a bad pointer is no model
    assert registry.current() is None


def test_train_without_data_source_fails_cleanly(model_dir: Path) -> None:
    assert _cli("train") == 2  # no --generated/--parquet and no DATABASE_URL
    with pytest.raises(SystemExit) as exc:  # argparse refuses a bad duration
        _cli("train", "--generated", "--horizon", "soon")
    assert exc.value.code == 2
