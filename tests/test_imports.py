"""``import mlc`` needs only the core dependencies and loads none of the optional ones:
SciPy alone would add half a second to every program's start."""
import subprocess
import sys

OPTIONAL = ("scipy", "torch", "jax", "pycuda", "pyopencl", "mpi4py", "matplotlib", "pytensor", "sklearn")

SCRIPT = f"""
import sys
import mlc, mlc.compiler, mlc.compiler.tensor, mlc.nn, mlc.train
loaded = [name for name in {OPTIONAL!r} if name in sys.modules]
assert not loaded, loaded
"""


def test_import_loads_no_optional_dependency():
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
