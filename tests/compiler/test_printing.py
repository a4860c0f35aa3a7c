import shutil

import numpy as np
import pytest

import mlc.compiler as theano
import mlc.compiler.tensor as T
from mlc.compiler.pictures import dot_source


def test_debugprint_and_pp():
    x, y = T.dscalar("x"), T.dscalar("y")
    z = T.exp(x) * 2 + y
    text = theano.debugprint(z, file="str")
    assert "Elemwise{add}" in text and "Elemwise{exp}" in text and "x [id" in text
    assert theano.pp(z) == "((exp(x) * 2.0) + y)"
    f = theano.function([x, y], z)
    assert "[id A]" in theano.debugprint(f, file="str")


def test_print_shows_the_value_each_call_and_passes_gradients(capsys):
    x = T.dvector("x")
    printed = theano.printing.Print("this is a very important value")(x)
    f = theano.function([x], [printed * 5, theano.grad((printed ** 2).sum(), x)])
    out, grad = f([1.0, 2.0, 3.0])
    assert out.tolist() == [5.0, 10.0, 15.0] and grad.tolist() == [2.0, 4.0, 6.0]
    assert "this is a very important value __str__ = [1. 2. 3.]" in capsys.readouterr().out
    shapes = theano.function([x], theano.printing.Print("x", attrs=("shape",))(x))
    shapes(np.ones(4))
    assert "x shape = (4,)" in capsys.readouterr().out


def test_pprint_reads_as_math():
    x = T.dvector("x")
    assert theano.printing.pprint(x * 2 + 1) == "((x * 2.0) + 1.0)"


def _trained_step():
    x = T.dvector("x")
    W = theano.shared(np.ones((3, 2)), "W")
    cost = T.nnet.sigmoid(T.dot(x, W)).sum()
    return theano.function([x], cost, updates={W: W - 0.1 * theano.grad(cost, W)})


def test_pydotprint_marks_fused_inplace_and_shared_nodes(tmp_path):
    text = theano.printing.pydotprint(_trained_step(), format="dot", return_image=True).decode()
    assert text.startswith("digraph mlc {")
    assert "fillcolor=lightblue" in text and "Composite" in text  # a fused kernel
    assert "color=red" in text  # an in-place node
    assert '"W"' in text and "fillcolor=cadetblue1" in text  # the shared weight


def test_pydotprint_marks_device_transfers():
    pytest.importorskip("pyopencl")
    x = T.fmatrix("x")
    with theano.config.change(device="opencl", force_device=True):
        f = theano.function([x], T.exp(x).sum(axis=1))
    assert "shape=hexagon" in dot_source(f)


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
@pytest.mark.parametrize("fmt,magic", [("png", b"\x89PNG"), ("svg", b"<?xml")])
def test_pydotprint_draws_png_and_svg(tmp_path, fmt, magic):
    out = tmp_path / f"graph.{fmt}"
    theano.printing.pydotprint(_trained_step(), outfile=str(out), format=fmt, print_output_file=False)
    assert out.read_bytes().startswith(magic)


def test_pydotprint_without_graphviz_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="apt-get install graphviz"):
        theano.printing.pydotprint(_trained_step(), outfile=str(tmp_path / "g.png"))
