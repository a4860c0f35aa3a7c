"""``import mlc`` needs only the core dependencies and loads none of the optional ones:
SciPy alone would add half a second to every program's start."""
import os
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


def test_import_shortens_openblas_spinning_unless_the_user_set_it():
    # NumPy's OpenBLAS reads the timeout as it loads: it must be set when NumPy's import starts
    script = """
import os, sys
seen = []
class Watch:
    def find_spec(self, name, path=None, target=None):
        if name == "numpy" and not seen:
            seen.append(os.environ.get("OPENBLAS_THREAD_TIMEOUT"))
sys.meta_path.insert(0, Watch())
import mlc
print(seen[0])
"""
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_THREAD_TIMEOUT"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    assert done.stdout.strip() == "20", done.stderr
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env={**env, "OPENBLAS_THREAD_TIMEOUT": "26"})
    assert done.stdout.strip() == "26", done.stderr
