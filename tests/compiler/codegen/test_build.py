"""The compile cache: concurrent builds, corrupt entries, no compiler, DEBUG mode."""
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

import mlc.compiler as theano
import mlc.compiler.tensor as T
from mlc.compiler.runtime import backend

SCRIPT = """
import sys, mlc.compiler as theano, mlc.compiler.tensor as T, numpy as np
from mlc.compiler.codegen import cache
theano.config.cache_dir = sys.argv[1]
x = T.dvector()
f = theano.function([x], T.exp(x) * 3 + T.sin(x) * 0.123456789)
assert np.allclose(f(np.ones(3)), np.exp(1) * 3 + np.sin(1) * 0.123456789)
print(cache.builds)
"""


def _libs(cache):
    return list(Path(cache).rglob("*.so"))


def test_two_processes_build_a_key_once(tmp_path):
    procs = [subprocess.Popen([sys.executable, "-c", SCRIPT, str(tmp_path)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate() for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    assert sorted(int(o[0].strip()) for o in outs) == [0, 1]  # one built it, the other loaded it
    assert len(_libs(tmp_path)) == 1


def test_truncated_cache_entry_is_rebuilt(tmp_path):
    run = [sys.executable, "-c", SCRIPT, str(tmp_path)]
    assert subprocess.run(run, capture_output=True, text=True).stdout.strip() == "1"
    (lib,) = _libs(tmp_path)
    lib.write_bytes(lib.read_bytes()[:100])
    again = subprocess.run(run, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == "1"
    assert subprocess.run(run, capture_output=True, text=True).stdout.strip() == "0"


def test_no_compiler_falls_back_with_one_warning(monkeypatch):
    monkeypatch.setattr(backend, "_warned", set())
    with theano.config.change(cxx=""):
        x = T.dvector()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            f = theano.function([x], T.exp(x) + 1)
            g = theano.function([x], T.exp(x) + 2)
        assert f(np.zeros(2)).tolist() == [2.0, 2.0] and g(np.zeros(1)).tolist() == [3.0]
        assert len([w for w in caught if "perform" in str(w.message)]) == 1
        assert all(step[3] is None for step in f.maker.vm.steps)


def test_debug_mode_reports_nan_from_finite_inputs_with_user_line():
    x = T.dvector("x")
    y = T.log(x - 2) * 1.5  # THE BAD LINE
    f = theano.function([x], y, mode="DEBUG")
    with pytest.raises(FloatingPointError, match="NaN") as info:
        f(np.ones(3))
    assert "THE BAD LINE" in str(info.value)
    assert np.isnan(theano.function([x], y)(np.ones(3))).all()  # FAST_RUN computes NumPy's answer


def test_debug_mode_catches_a_kernel_disagreeing_with_perform(monkeypatch):
    from mlc.compiler.codegen.cstyle import CStyleRenderer
    original = CStyleRenderer.scalar_expression

    def wrong(self, name, args, arg_dtypes, out):
        expr = original(self, name, args, arg_dtypes, out)
        return f"({expr} + 1)" if name == "tanh" else expr
    monkeypatch.setattr(CStyleRenderer, "scalar_expression", wrong)
    x = T.dvector("x")
    f = theano.function([x], T.tanh(x) * 0.5, mode="DEBUG")
    with pytest.raises(AssertionError, match="disagrees with its perform"):
        f(np.ones(2))


def test_cuda_device_warns_that_it_runs_on_cpu(monkeypatch):
    monkeypatch.setattr(backend, "_warned", set())
    x = T.dvector()
    with theano.config.change(device="cuda"), pytest.warns(RuntimeWarning, match="CPU"):
        f = theano.function([x], x * 2)
    assert f(np.ones(2)).tolist() == [2.0, 2.0]


def _fresh_function(tag):
    x = T.dvector()
    return theano.function([x], T.exp(x) * tag + T.sin(x))  # a new constant: a new library


def test_cache_dir_below_a_regular_file_warns_once_and_uses_a_private_cache(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with theano.config.change(cache_dir=str(blocker / "cache")), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        f, g = _fresh_function(1.25), _fresh_function(1.5)
    messages = [str(w.message) for w in caught if "cannot be used" in str(w.message)]
    assert len(messages) == 1 and str(blocker / "cache") in messages[0], messages
    assert "ElemwiseThunk" in [type(s[3]).__name__ for s in f.maker.vm.steps]  # still compiled
    np.testing.assert_allclose(g(np.zeros(2)), [1.5, 1.5])


def test_a_compiler_that_writes_nothing_falls_back_to_perform(tmp_path, monkeypatch):
    monkeypatch.setattr(backend, "_warned", set())
    with theano.config.change(cache_dir=str(tmp_path), cxx="/bin/true"), \
            pytest.warns(RuntimeWarning, match="wrote no library"):
        f = _fresh_function(2.75)
    np.testing.assert_allclose(f(np.zeros(2)), [2.75, 2.75])
    assert not list(tmp_path.rglob("*.tmp*"))


def test_read_only_cache_dir_warns_and_compiles(tmp_path):
    mount = tmp_path / "ro"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(mount)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a read-only filesystem here (needs root)")
    try:
        with theano.config.change(cache_dir=str(mount / "cache")), pytest.warns(RuntimeWarning, match="Read-only"):
            f = _fresh_function(3.25)
        np.testing.assert_allclose(f(np.zeros(1)), [3.25])
    finally:
        subprocess.run(["umount", str(mount)])


def test_cache_keeps_under_its_size_limit_dropping_the_least_recently_used(tmp_path):
    with theano.config.change(cache_dir=str(tmp_path)):
        _fresh_function(4.0)
    entry_size = sum(f.stat().st_size for f in _libs(tmp_path)[0].parent.iterdir())
    script = ("import sys, mlc.compiler as theano, mlc.compiler.tensor as T, numpy as np\n"
              "theano.config.cache_dir = sys.argv[1]; theano.config.cache_max_mb = float(sys.argv[2])\n"
              "x = T.dvector()\n"
              "for k in range(6):\n"
              "    theano.function([x], T.exp(x) * (5 + k) + T.sin(x))(np.ones(2))\n")
    result = subprocess.run([sys.executable, "-c", script, str(tmp_path), str(2.5 * entry_size / 2 ** 20)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    total = sum(f.stat().st_size for f in tmp_path.glob("??/*"))
    assert total <= 2.5 * entry_size * 1.1 and 1 <= len(_libs(tmp_path)) <= 3
    kept = [lib.with_suffix(".src").read_text() for lib in _libs(tmp_path)]
    assert any("10.0" in src for src in kept)  # the newest entry (5 + 5) stays


def test_killed_builds_leave_no_temporary_files(tmp_path):
    from mlc.compiler.codegen import cache
    stray = tmp_path / "ab" / "ab00.tmp999999999.so"  # a process id that is not running
    stray.parent.mkdir()
    stray.write_bytes(b"half a library")
    cache.tidy(tmp_path, 2 ** 30)
    assert not stray.exists()


UNITS_SCRIPT = """
import sys, mlc.compiler as theano, mlc.compiler.tensor as T, numpy as np
from mlc.compiler.runtime.cpu import toolchain
toolchain.PARALLEL_BUILDS = int(sys.argv[2])
theano.config.cache_dir = sys.argv[1]
x, y = T.dmatrix(), T.dvector()
f = theano.function([x, y], [T.exp(x).sum(axis=1) + y, T.tanh(x * 2) - T.sqrt(abs(y)).dimshuffle(0, 'x')])
a, b = f(np.arange(6.0).reshape(2, 3) / 7, np.array([1.0, -4.0]))
np.save(sys.argv[3], np.concatenate([a.ravel(), b.ravel()]))
assert "pycparser" not in sys.modules  # loading kernels parses no C declarations
"""


def test_kernels_split_into_units_compiled_at_once_give_the_same_results(tmp_path):
    results = []
    for units in (1, 3):
        out = tmp_path / f"r{units}.npy"
        done = subprocess.run([sys.executable, "-c", UNITS_SCRIPT, str(tmp_path / f"cache{units}"), str(units), out],
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        results.append(np.load(out))
    assert np.array_equal(*results)


def test_rendered_units_hold_one_kernel_each_named_by_what_it_computes():
    from mlc.compiler.codegen import render_nodes, renderer_for
    x, y = T.dmatrix(), T.dvector()
    f = theano.function([x, y], [T.exp(x).sum(axis=1) + y, T.tanh(x * 2) - T.sqrt(abs(y)).dimshuffle(0, 'x')])
    program, kernels = render_nodes(f.maker.linked.nodes, renderer_for("c"))
    assert len(program.units) == len({name for name, _ in kernels.values()}) >= 3
    assert sorted(e.name for u in program.units + program.deferred for e in u.entries) == \
        sorted(e.name for e in program.entries)
    assert {e.name for u in program.deferred for e in u.entries} == \
        {e.name for e in program.entries if e.name.endswith("_strided")} != set()
    for unit in program.units + program.deferred:
        assert unit.source.startswith("#ifndef MLC_KERNEL_HEADER")
        assert all(f"void {e.name}(" in unit.source for e in unit.entries)
        assert sum(f"void {e.name}(" in other.source for other in program.units + program.deferred
                   for e in unit.entries) == len(unit.entries)
    # the whole program, every unit and deferred unit in one file, compiles too
    from mlc.compiler.runtime.cpu import CPU
    _, whole = CPU.build(program._replace(units=(), deferred=()))
    assert all(hasattr(whole, e.name) for e in program.entries)
    # the same kernel in another function: the same name and the same unit, whatever its neighbours
    g = theano.function([x, y], [T.tanh(x * 2) - T.sqrt(abs(y)).dimshuffle(0, 'x'), (x * 3).max()])
    again, _ = render_nodes(g.maker.linked.nodes, renderer_for("c"))
    shared = {u.source for u in program.units} & {u.source for u in again.units}
    assert len(shared) == len(again.units) - 1 >= 1  # all but the new max


def _new_constant() -> float:
    """A number no other test's kernel holds: its kernel is built, not found loaded."""
    return 1 + time.time_ns() % 10 ** 9 / 10 ** 10


def test_strided_loops_are_built_at_the_first_call_that_needs_one(tmp_path):
    from mlc.compiler.codegen import cache
    c = _new_constant()
    x, y = T.dmatrix(), T.dmatrix()
    a, b = np.random.default_rng(0).normal(size=(2, 5, 4))
    with theano.config.change(cache_dir=str(tmp_path)):
        before = cache.builds
        f = theano.function([x, y], T.exp(x) * c + y)
        built = cache.builds - before
        np.testing.assert_allclose(f(a, b), np.exp(a) * c + b)
        assert cache.builds - before == built == 1  # contiguous calls: the flat loop alone
        np.testing.assert_allclose(f(a.T, b.T), np.exp(a.T) * c + b.T)
        assert cache.builds - before == 2  # a transposed call built the strided loop
        np.testing.assert_allclose(f(a[:, ::2], b[:, 1:3]), np.exp(a[:, ::2]) * c + b[:, 1:3])
        g = theano.function([x, y], T.exp(x) * c + y)
        np.testing.assert_allclose(g(a.T, b.T), np.exp(a.T) * c + b.T)
        assert cache.builds - before == 2  # and every later call and function finds it


def test_a_strided_call_without_a_compiler_runs_the_flat_loop_on_copies(tmp_path, monkeypatch):
    from mlc.compiler.runtime.cpu import CPU
    c = _new_constant()
    x, y = T.dmatrix(), T.dvector()
    with theano.config.change(cache_dir=str(tmp_path)):
        f = theano.function([x, y], T.tanh(x) * c - y)
    a, b = np.random.default_rng(0).normal(size=(4, 4)), np.arange(4.0)
    builds, build = [], CPU.build
    monkeypatch.setattr(CPU, "build", lambda program: builds.append(1) or build(program))
    with theano.config.change(cache_dir=str(tmp_path), cxx=""), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.testing.assert_allclose(f(a.T, b), np.tanh(a.T) * c - b)  # b broadcast over rows
        np.testing.assert_allclose(f(a[::2, ::-1], b), np.tanh(a[::2, ::-1]) * c - b)
        np.testing.assert_allclose(f(a, b), np.tanh(a) * c - b)
    assert builds == [1]  # the strided loop was tried once, not again at every call


SHARED_SCRIPT = """
import sys, mlc.compiler as theano, mlc.compiler.tensor as T, numpy as np
from mlc.compiler.codegen import cache
from mlc.compiler.runtime.cpu import toolchain
toolchain.PARALLEL_BUILDS = 2
theano.config.cache_dir = sys.argv[1]
x, y = T.dmatrix(), T.dvector()
counts = []
def compiled(outputs):
    before = cache.builds
    f = theano.function([x, y], outputs)
    counts.append(cache.builds - before)
    return f
a = T.exp(x).sum(axis=1) * 1.5
b = T.tanh(x * 2.5) - T.sqrt(abs(y)).dimshuffle(0, 'x')
f = compiled([a + y, b])
g = compiled(b * 0.25)          # b's kernel again, beside a new one
h = compiled([a + y, b])        # all of f's kernels
xv, yv = np.arange(6.0).reshape(2, 3) / 7, np.array([1.0, -4.0])
ra, rb = f(xv, yv)
np.testing.assert_allclose(ra, np.exp(xv).sum(axis=1) * 1.5 + yv)
np.testing.assert_allclose(rb, np.tanh(xv * 2.5) - np.sqrt(abs(yv))[:, None])
np.testing.assert_allclose(g(xv, yv), rb * 0.25)
np.testing.assert_allclose(h(xv, yv)[1], rb)
print(*counts)
"""


def test_a_kernel_is_compiled_once_for_every_function_and_process_that_uses_it(tmp_path):
    run = [sys.executable, "-c", SHARED_SCRIPT, str(tmp_path)]
    first = subprocess.run(run, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    built_f, built_g, built_h = map(int, first.stdout.split())
    assert built_f == 2  # f's kernels, in two libraries built at the same time
    assert built_g == 1 and built_h == 0  # g's new kernel alone; h's all found
    assert len(list(tmp_path.rglob("*.ref"))) >= 2  # the kernels of a shared library point at it
    second = subprocess.run(run, capture_output=True, text=True)  # a new process finds them all
    assert second.returncode == 0, second.stderr
    assert second.stdout.split() == ["0", "0", "0"]


def test_a_ref_to_a_lost_library_means_its_kernel_is_built_again(tmp_path):
    run = [sys.executable, "-c", SHARED_SCRIPT, str(tmp_path)]
    assert subprocess.run(run, capture_output=True, text=True).returncode == 0
    refs = list(tmp_path.rglob("*.ref"))
    group = refs[0].read_text()
    for f in (tmp_path / group[:2]).glob(f"{group}.*"):
        f.unlink()  # the library several kernels were built into is gone (evicted, deleted)
    refs[1].write_text("not a key")
    again = subprocess.run(run, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert int(again.stdout.split()[0]) >= 1
    assert subprocess.run(run, capture_output=True, text=True).stdout.split() == ["0", "0", "0"]


def test_a_functions_libraries_compile_at_the_same_time_as_its_kernels(tmp_path, monkeypatch, rng):
    # a first function's kernels and the crossentropy library its thunk calls: one core
    # would idle if they were built one after the other
    from mlc.compiler.runtime.cpu import toolchain
    spans = []
    run_all = toolchain._run_all

    def timed(commands, cxx):
        start = time.perf_counter()
        run_all(commands, cxx)
        spans.append((start, time.perf_counter()))
    monkeypatch.setattr(toolchain, "_run_all", timed)
    monkeypatch.setattr(toolchain, "_loaded", {})  # nothing loaded: everything is built in tmp_path
    x, y = T.fmatrix("x"), T.lvector("y")
    p = T.nnet.softmax(T.tanh(x) * 2)
    cost = -T.mean(T.log(p)[T.arange(y.shape[0]), y])
    with theano.config.change(cache_dir=str(tmp_path)):
        f = theano.function([x, y], [cost, T.grad(cost, x)])
    assert any("Crossentropy" in type(n.op).__name__ for n in f.maker.fgraph.apply_nodes)
    spans.sort()
    assert len(spans) >= 2 and spans[1][0] < spans[0][1], spans  # the second began before the first ended
    xv, yv = rng.normal(size=(5, 4)).astype("float32"), np.array([0, 3, 1, 1, 2])
    z = np.tanh(xv.astype("float64")) * 2
    q = np.exp(z - z.max(axis=1, keepdims=True))
    q /= q.sum(axis=1, keepdims=True)
    got_cost, got_grad = f(xv, yv)
    assert np.isclose(got_cost, -np.log(q[np.arange(5), yv]).mean(), rtol=1e-5)
    onehot = np.eye(4)[yv]
    assert np.allclose(got_grad, (q - onehot) / 5 * 2 * (1 - np.tanh(xv.astype("float64")) ** 2), atol=1e-6)


def test_compiler_identity_changes_with_the_compiler_and_runs_nothing(tmp_path, monkeypatch):
    from mlc.compiler.runtime.cpu import toolchain
    cc = tmp_path / "cc"
    cc.write_text("#!/bin/sh\nexit 1\n")  # running it would fail: identity must not run it
    cc.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    toolchain._compiler_identity.cache_clear()
    before = toolchain._compiler_identity("cc")
    cc.write_text("#!/bin/sh\nexit 22\n")  # an upgrade: another file (timestamps may be coarse: another size too)
    toolchain._compiler_identity.cache_clear()
    after = toolchain._compiler_identity("cc")
    toolchain._compiler_identity.cache_clear()
    assert before and after and before != after and str(cc) in before
    assert toolchain._compiler_identity("no-such-compiler-here") is None


def test_the_cache_is_scanned_at_a_first_build_and_when_it_may_pass_its_limit(tmp_path, monkeypatch):
    from mlc.compiler.codegen import cache
    scans = []
    tidy = cache.tidy
    monkeypatch.setattr(cache, "tidy", lambda *a, **k: scans.append(a) or tidy(*a, **k))
    monkeypatch.setattr(cache, "_estimates", {})
    with theano.config.change(cache_dir=str(tmp_path)):
        for k in range(3):
            _fresh_function(5.5 + k)
        assert len(scans) == 1  # thousands of entries made every build pay for a scan
        root = cache.cache_root()
        cache._estimates[root] = theano.config.cache_max_mb * 2 ** 20 - 1  # as if the cache were full
        _fresh_function(9.5)  # the estimate passes the limit: scanned (the real size is far below)
        assert len(scans) == 2 and cache._estimates[root] == sum(f.stat().st_size for f in tmp_path.glob("??/*"))
        _fresh_function(10.5)
        assert len(scans) == 2 and len(_libs(tmp_path)) == 5


PROBE_SCRIPT = """
import sys, threading, mlc.compiler as theano, mlc.compiler.tensor as T, numpy as np
from mlc.compiler.runtime.cpu import toolchain
theano.config.cache_dir = sys.argv[1]
probes, real = [], toolchain._probe_features
def probe(cxx):
    probes.append(threading.current_thread().name)
    return real(cxx)
toolchain._probe_features = probe
x = T.dvector()
f = theano.function([x], T.exp(x) + 1)
g = theano.function([x], T.exp(x) + 2)
assert np.allclose(f(np.zeros(3)), 2) and np.allclose(g(np.zeros(3)), 3)
print(probes)
"""


def test_an_empty_cache_probes_the_compiler_once_beside_the_first_rewriting(tmp_path):
    done = subprocess.run([sys.executable, "-c", PROBE_SCRIPT, str(tmp_path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['mlc-compiler-probe']"
    again = subprocess.run([sys.executable, "-c", PROBE_SCRIPT, str(tmp_path)], capture_output=True, text=True)
    assert again.returncode == 0 and again.stdout.strip() == "[]"  # remembered in the cache


def test_a_features_record_of_an_older_format_is_probed_again_with_the_vector_width(tmp_path):
    import json
    from mlc.compiler.runtime.cpu import toolchain
    cxx = toolchain.compiler()
    if cxx is None:
        pytest.skip("no C compiler")
    toolchain._feature_flags.cache_clear()
    try:
        with theano.config.change(cache_dir=str(tmp_path)):
            toolchain._feature_flags(cxx)
            (record,) = tmp_path.glob("features-*.json")
            flags, vector, width = json.loads(record.read_text())
            macros = subprocess.run([cxx, *toolchain.BASE_FLAGS, "-dM", "-E", "-x", "c", os.devnull],
                                    capture_output=True, text=True).stdout
            assert width == (64 if "__AVX512F__" in macros else 32 if "__AVX__" in macros else 16)
            record.write_text(json.dumps([flags, vector]))  # as written before the width was kept
            toolchain._feature_flags.cache_clear()
            assert toolchain._feature_flags(cxx) == (tuple(flags), vector, width)
            assert json.loads(record.read_text()) == [flags, vector, width]
    finally:
        toolchain._feature_flags.cache_clear()
