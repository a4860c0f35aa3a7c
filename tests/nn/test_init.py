import numpy as np
import pytest

from mlc.nn import init


@pytest.mark.parametrize("name", ["glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "normal", "uniform"])
def test_seeded_and_reproducible(name):
    fn = init.get(name)
    a = fn((200, 300), np.random.default_rng(1))
    b = fn((200, 300), np.random.default_rng(1))
    np.testing.assert_array_equal(a, b)
    assert a.shape == (200, 300) and a.dtype == np.float64


def test_scales():
    rng = np.random.default_rng(0)
    limit = np.sqrt(6 / 500)
    W = init.glorot_uniform((200, 300), rng)
    assert np.abs(W).max() <= limit and np.abs(W).max() > 0.95 * limit
    W4 = init.glorot_uniform((200, 300), rng, gain=4)
    assert np.abs(W4).max() <= 4 * limit and np.abs(W4).max() > 3.8 * limit
    assert abs(init.glorot_normal((400, 600), rng).std() - np.sqrt(2 / 1000)) < 2e-3
    assert abs(init.he_normal((400, 600), rng).std() - np.sqrt(2 / 400)) < 2e-3
    assert np.abs(init.he_uniform((400, 600), rng)).max() <= np.sqrt(6 / 400)
    assert not init.zeros((3, 2)).any() and (init.constant((2,), value=0.5) == 0.5).all()


def test_dict_spec_and_errors():
    fn = init.get({"name": "normal", "std": 2.0})
    assert abs(fn((1000, 100), np.random.default_rng(0)).std() - 2.0) < 0.05
    with pytest.raises(ValueError, match="valid:.*glorot_uniform"):
        init.get("xavier")
    with pytest.raises(ValueError, match="2 dims"):
        init.glorot_uniform((3,))
