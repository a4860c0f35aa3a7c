"""The examples of Theano 1.0's library reference for ``tensor.extra_ops`` (the only
examples in that page and in ``nlinalg``/``slinalg``, which document their functions without
any) and ``config`` (its launch examples: printing the configuration, ``THEANO_FLAGS`` with
the right-most definition winning, ``.theanorc`` files and ``THEANORC``), run as documented
with only the imports changed."""
import doctest
import os
import subprocess
import sys

import pytest

SEARCHSORTED_EXAMPLES = """
>>> import mlc.compiler.tensor as tensor
>>> x = tensor.dvector()
>>> idx = x.searchsorted(3)
>>> idx.eval({x: [1,2,3,4,5]})
array(2)
>>> tensor.extra_ops.searchsorted([1,2,3,4,5], 3).eval()
array(2)
>>> tensor.extra_ops.searchsorted([1,2,3,4,5], 3, side='right').eval()
array(3)
>>> tensor.extra_ops.searchsorted([1,2,3,4,5], [-10, 10, 2, 3]).eval()
array([0, 5, 1, 2])
"""


def test_extra_ops_searchsorted_examples():
    test = doctest.DocTestParser().get_doctest(SEARCHSORTED_EXAMPLES, {}, "searchsorted", None, 0)
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    assert runner.failures == 0 and runner.tries == 7


def _python(code, **env):
    environment = {k: v for k, v in os.environ.items() if k not in ("THEANO_FLAGS", "MLC_FLAGS", "THEANORC")}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**environment, **env})


def test_printing_the_configuration_lists_every_flag():
    done = _python("import mlc.compiler as theano; print(theano.config)")
    assert done.returncode == 0, done.stderr
    assert "floatX = 'float64'" in done.stdout and "device = 'cpu'" in done.stdout


def test_theano_flags_right_most_definition_wins_and_foreign_flags_are_accepted():
    done = _python("import mlc.compiler as theano; print(theano.config.floatX, theano.config.device)",
                   THEANO_FLAGS="floatX=float32,device=gpu0,nvcc.fastmath=True,device=cpu")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["float32", "cpu"]
    assert "nvcc.fastmath" in done.stderr  # one note: accepted, not used


@pytest.mark.parametrize("separate_files", [False, True])
def test_theanorc_files_and_their_precedence(tmp_path, separate_files):
    system, personal = tmp_path / "theanorc", tmp_path / ".theanorc"
    system.write_text("[global]\nfloatX = float32\nwarn_float64 = warn\n\n[nvcc]\nfastmath = True\n")
    personal.write_text("[global]\nfloatX = float64\n")
    files = f"{system}{os.pathsep}{personal}" if separate_files else str(system)
    code = ("import mlc.compiler as theano; c = theano.config; "
            "print(c.floatX, c.warn_float64, c.nvcc.fastmath if hasattr(c, 'nvcc') else 'accepted')")
    done = _python(code, THEANORC=files)
    assert done.returncode == 0, done.stderr
    floatX, warn, _ = done.stdout.split()
    assert floatX == ("float64" if separate_files else "float32")  # later files win
    assert warn == "warn"
    flags_win = _python("import mlc.compiler as theano; print(theano.config.floatX)", THEANORC=files,
                        THEANO_FLAGS="floatX=float16")
    assert flags_win.stdout.split() == ["float16"], flags_win.stderr  # THEANO_FLAGS over .theanorc
