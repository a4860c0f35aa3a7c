import mlc.compiler as theano
import mlc.compiler.tensor as T


def test_debugprint_and_pp():
    x, y = T.dscalar("x"), T.dscalar("y")
    z = T.exp(x) * 2 + y
    text = theano.debugprint(z, file="str")
    assert "Elemwise{add}" in text and "Elemwise{exp}" in text and "x [id" in text
    assert theano.pp(z) == "((exp(x) * 2.0) + y)"
    f = theano.function([x, y], z)
    assert "[id A]" in theano.debugprint(f, file="str")
