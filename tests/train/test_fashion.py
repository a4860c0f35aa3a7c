"""Fashion-MNIST configs against published references (slow; needs Debian's dataset-fashion-mnist)."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from mlc.train.data import DataError, load_dataset

ROOT = Path(__file__).resolve().parents[2]


def _have_fashion():
    try:
        load_dataset("fashion-mnist")
        return True
    except DataError:
        return False


@pytest.mark.slow
@pytest.mark.skipif(not _have_fashion(), reason="dataset-fashion-mnist is not installed")
@pytest.mark.parametrize("config,target", [("logreg_fashion.toml", 0.84), ("mlp_fashion.toml", 0.88),
                                           ("cnn_fashion.toml", 0.91)])
def test_fashion_reaches_reference_accuracy(config, target, tmp_path):
    out = subprocess.run([sys.executable, "-m", "mlc.train.cli", str(ROOT / "configs" / config), "--out",
                          str(tmp_path), "--quiet"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert json.loads((tmp_path / "results.json").read_text())["test_accuracy"] >= target
