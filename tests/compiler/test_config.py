import os
import subprocess
import sys

import pytest

from mlc.compiler.config import Config, config


def test_defaults_and_change():
    assert config.floatX == "float64"
    with config.change(floatX="float32"):
        assert config.floatX == "float32"
    assert config.floatX == "float64"


def test_unknown_key_and_bad_value_list_valid_ones():
    with pytest.raises(AttributeError, match="valid keys:.*floatX"):
        config.floatx
    with pytest.raises(KeyError, match="valid keys:.*floatX"):
        config.floatx = "float32"
    with pytest.raises(ValueError, match="'float64', 'float32'"):
        config.floatX = "float8"
    with pytest.raises(ValueError, match="device"):
        config.device = "tpu"


def test_precedence_rc_then_flags(tmp_path):
    rc = tmp_path / "mlcrc"
    rc.write_text("[global]\nfloatX = float32\nmode = FAST_COMPILE\n")
    c = Config(rc_path=str(rc), flags="")
    assert c.floatX == "float32" and c.mode == "FAST_COMPILE"
    c = Config(rc_path=str(rc), flags="floatX=float64")
    assert c.floatX == "float64" and c.mode == "FAST_COMPILE"
    with pytest.raises(ValueError, match=r"unknown config key .floatx. \(from MLC_FLAGS\)"):
        Config(rc_path="", flags="floatx=float32")
    bad = tmp_path / "bad"
    bad.write_text("[global]\nfloatX = float7\n")
    with pytest.raises(ValueError, match="bad"):
        Config(rc_path=str(bad), flags="")


def test_mlc_flags_environment_in_a_fresh_process():
    env = dict(os.environ, MLC_FLAGS="floatX=float32")
    out = subprocess.run([sys.executable, "-c", "import mlc.compiler as t, mlc.compiler.tensor as T;"
                          "print(t.config.floatX, T.matrix().dtype)"], env=env, capture_output=True, text=True)
    assert out.stdout.split() == ["float32", "float32"], out.stderr


def test_theano_flags_are_read_and_mlc_flags_win():
    import os
    import subprocess
    import sys
    code = ("import warnings; warnings.simplefilter('ignore'); import mlc.compiler as theano; c = theano.config; "
            "print(c.floatX, c.device, c.mode, c.optimizer, c.allow_gc, c.warn.round, c.cache_dir, "
            "c.environment_error)")
    env = dict(os.environ, THEANO_FLAGS="floatX=float32,device=gpu0,mode=DebugMode,optimizer=None,allow_gc=False,"
                                        "warn.round=False,compiledir=/tmp/theano-dir,lib.cnmem=0.8",
               MLC_FLAGS="floatX=float64")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.stdout.split() == ["float64", "cuda0", "DEBUG", "none", "False", "False", "/tmp/theano-dir", "None"], \
        out.stderr


def test_theano_config_names_are_honoured(recwarn):
    import numpy as np
    import pytest
    import mlc.compiler as theano
    import mlc.compiler.tensor as T
    x = T.dvector("x")
    with theano.config.change_flags(optimizer=None):
        plain = theano.function([x], x * 1 + 0)
    rewritten = theano.function([x], x * 1 + 0)
    kept = [str(n.op) for n in plain.maker.fgraph.toposort()]
    assert "Elemwise{mul}" in kept and "Elemwise{add}" in kept  # no rewrites: the *1 and +0 stay
    assert len(rewritten.maker.fgraph.toposort()) < len(kept)
    with theano.config.change(linker="py"):
        assert all(type(s[3]).__name__ != "ElemwiseThunk" for s in theano.function([x], T.exp(x)).maker.vm.steps)
    with theano.config.change(warn_float64="raise"), pytest.raises(TypeError, match="computes in float64"):
        theano.function([x], x * 2)
    with theano.config.change(warn_float64="warn"):
        theano.function([x], x * 2)
    assert any("computes in float64" in str(w.message) for w in recwarn)
    f32 = T.fvector("f")
    with theano.config.change(floatX="float32", warn_float64="raise"):
        assert theano.function([f32], T.exp(f32) * 2)(np.ones(2, "float32")).dtype == np.float32
    theano.config.allow_gc = False  # a Theano flag mlc does not use: accepted, readable
    assert theano.config.allow_gc is False
