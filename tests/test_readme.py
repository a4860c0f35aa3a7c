"""Every Python block of README.md runs as written (in a fresh process, in a directory
where the run the README tells you to make first exists)."""
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BLOCKS = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)


def test_the_readme_has_python_blocks():
    assert len(BLOCKS) >= 3


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A directory holding runs/digits, as `mlc-train configs/mlp_digits.toml --out runs/digits` makes it."""
    work = tmp_path_factory.mktemp("readme")
    made = subprocess.run([sys.executable, "-c", "import sys; from mlc.train.cli import train_main as m; "
                           "sys.exit(m(sys.argv[1:]))", str(ROOT / "configs" / "mlp_digits.toml"), "--out",
                           "runs/digits", "--set", "train.epochs=2", "--quiet"], cwd=work, capture_output=True,
                          text=True)
    assert made.returncode == 0, made.stderr
    return work


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_block_runs_as_written(index, workdir):
    out = subprocess.run([sys.executable, "-c", BLOCKS[index]], cwd=workdir, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, f"README python block {index + 1}:\n{BLOCKS[index]}\n{out.stderr[-3000:]}"
