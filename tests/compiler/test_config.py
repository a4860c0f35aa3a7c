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
