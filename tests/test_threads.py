"""Threads sized to the work (bioplastic._threads): one BLAS thread for a small network's
per-step products, the library's own count back for one large call (RTRL's influence), and a
batch's trials split over bioplastic's own threads in the time loops, bitwise as one."""

import multiprocessing
import threading
import time

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

import bioplastic as bp
from bioplastic import _threads


def blas_threads() -> int:
    return max(lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas")


def test_small_networks_get_one_thread_and_a_large_call_gets_the_librarys_count():
    _threads._get_controller()
    default = _threads._default[0]
    with threadpool_limits(2, user_api="blas"):  # a machine with two threads by default
        before = blas_threads()
        with _threads.blas_threads_for(32):
            assert blas_threads() == 1
            with _threads.blas_threads_for_call(_threads.LARGE_CALL / 10):
                assert blas_threads() == 1  # a small call: unchanged
            with _threads.blas_threads_for_call(_threads.LARGE_CALL):
                assert blas_threads() == default  # the count the library started with
            assert blas_threads() == 1
        with _threads.blas_threads_for(_threads.SMALL):
            assert blas_threads() == before  # a large network: unchanged
        assert blas_threads() == before


def asked_for_threads(monkeypatch, module) -> list[float]:
    """The flop counts ``module`` passes to ``blas_threads_for_call``, as they come."""
    asked: list[float] = []

    def spy(flops):
        asked.append(flops)
        return _threads.blas_threads_for_call(flops)

    monkeypatch.setattr(module, "blas_threads_for_call", spy)
    return asked


def test_rtrls_influence_product_runs_with_the_librarys_threads(monkeypatch):
    """RTRL asks for the library's threads exactly when its product is large."""
    asked = asked_for_threads(monkeypatch, bp.rules.rtrl)
    net = bp.LeakyRNN.random(2, 5, 1, tau=2.0, seed=0)
    x = np.zeros((3, 4, 2))
    bp.gradient(net, x, np.zeros((3, 4, 1)), rule="rtrl")
    n, m = 5, 5 + 2 + 1
    assert asked == [2.0 * 3 * n * n * (n * m)] * 4


@pytest.fixture
def two_threads(monkeypatch):
    """As on a machine whose BLAS runs two threads, with every call large enough to split."""
    _threads._get_controller()
    monkeypatch.setattr(_threads, "_default", [2])
    monkeypatch.setattr(_threads, "LARGE_CALL", 0.0)


def test_split_ranges_cover_the_items_in_blocks_of_eight(two_threads, monkeypatch):
    split = _threads.split_ranges
    assert split(32, 1.0) == [(0, 16), (16, 32)]
    assert split(20, 1.0) == [(0, 8), (8, 20)]
    assert split(15, 1.0) == [(0, 15)]  # too few for two blocks of eight
    monkeypatch.setattr(_threads, "_default", [4])
    assert split(33, 1.0) == [(0, 8), (8, 16), (16, 24), (24, 33)]
    assert split(40, 1.0) == [(0, 8), (8, 16), (16, 24), (24, 40)]
    monkeypatch.setattr(_threads, "LARGE_CALL", 10.0)
    assert split(32, 9.0) == [(0, 32)]  # a small call: one thread
    seen = []
    worker = threading.Thread(target=lambda: seen.append(split(32, 11.0)))
    worker.start()
    worker.join()
    assert seen == [[(0, 32)]]  # only the main thread splits (dask's threads do not)


def test_over_ranges_runs_every_range_and_reraises_a_threads_error(two_threads):
    done = []

    def fn(tag, i0, i1):
        done.append((tag, i0, i1))
        if i0 > 0:
            raise ValueError(f"range {i0}")

    with pytest.raises(ValueError, match="range 8"):
        _threads.over_ranges(fn, ("a",), [(0, 8), (8, 16)])
    assert sorted(done) == [("a", 0, 8), ("a", 8, 16)]


@pytest.mark.parametrize("n", [30, 32, 64])
def test_the_split_weight_gradient_product_equals_one_product_bitwise(two_threads, n):
    rng = np.random.default_rng(n)
    G, R = rng.standard_normal((6400, n)), rng.standard_normal((6400, n))
    with threadpool_limits(1, user_api="blas"):
        assert len(_threads.split_ranges(n, 1.0)) == 2
        np.testing.assert_array_equal(_threads.gram(G, R), G.T @ R)


@pytest.mark.parametrize("form", ["rate", "current"])
@pytest.mark.parametrize("n_trials", [16, 21, 40])
def test_time_loops_over_threads_give_the_one_thread_result_bitwise(monkeypatch, form, n_trials):
    """Trials split over threads (forward, BPTT's credit, the W_rec product) change no bit."""
    net = bp.LeakyRNN.random(3, 30, 2, tau=np.linspace(2.0, 9.0, 30), seed=5, form=form)
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((n_trials, 13, 3)), rng.standard_normal((n_trials, 13, 2))
    _threads._get_controller()
    monkeypatch.setattr(_threads, "LARGE_CALL", 0.0)
    out = {}
    for threads in (1, 2):
        monkeypatch.setattr(_threads, "_default", [threads])
        out[threads] = net.run(x).states, bp.gradient(net, x, y, rule="bptt")
    np.testing.assert_array_equal(out[1][0], out[2][0])
    for k in out[1][1]:
        np.testing.assert_array_equal(out[1][1][k], out[2][1][k], err_msg=k)


def _gradient_in_a_child(queue) -> None:
    net = bp.LeakyRNN.random(2, 30, 1, tau=4.0, seed=0)
    x = np.ones((16, 20, 2))
    queue.put(float(bp.gradient(net, x, np.zeros((16, 20, 1)))["W_rec"].sum()))


def test_a_forked_child_gets_its_own_threads(two_threads):
    """A child forked after the pool started (multiprocessing's fork) must not wait forever on
    the parent's threads, which it does not have."""
    net = bp.LeakyRNN.random(2, 30, 1, tau=4.0, seed=0)
    x = np.ones((16, 20, 2))
    want = float(bp.gradient(net, x, np.zeros((16, 20, 1)))["W_rec"].sum())  # starts the pool
    assert _threads._pool
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_gradient_in_a_child, args=(queue,))
    child.start()
    child.join(timeout=60)
    if child.is_alive():
        child.kill()
    assert child.exitcode == 0, "the forked child hung or failed"
    assert queue.get(timeout=5) == want


def test_nested_one_thread_blocks_set_the_limit_once(monkeypatch):
    ctl = _threads._get_controller()
    entered = []
    real = ctl.limit

    def spy(**kw):
        entered.append(kw["limits"])
        return real(**kw)

    monkeypatch.setattr(ctl, "limit", spy)
    with _threads.blas_threads_for(32), _threads.blas_threads_for(30):
        with _threads.blas_threads_for_call(_threads.LARGE_CALL):
            with _threads.blas_threads_for(8):  # the large call lifted it: set it again
                assert blas_threads() == 1
        _threads.over_ranges(lambda i0, i1: None, (), [(0, 8), (8, 16)])
    assert entered == [1, _threads._default[0], 1]
    assert not _threads._one_thread


def test_every_simulation_of_a_small_network_holds_blas_at_one_thread(monkeypatch):
    """net.run, the loss and the gradient all simulate inside a one-thread block."""
    net = bp.LeakyRNN.random(2, 12, 1, tau=2.0, seed=0)
    inside = []
    real = bp.LeakyRNN._forward

    def spy(self, *args):
        inside.append(bool(_threads._one_thread))
        return real(self, *args)

    monkeypatch.setattr(bp.LeakyRNN, "_forward", spy)
    x, y = np.zeros((2, 5, 2)), np.zeros((2, 5, 1))
    net.run(x)
    bp.loss(net, x, y)
    bp.gradient(net, x, y)
    assert inside == [True, True, True]


def test_over_ranges_waits_for_its_threads_when_the_first_range_fails(two_threads):
    done = []

    def fn(i0, i1):
        if i0 == 0:
            raise RuntimeError("first range")
        time.sleep(0.2)
        done.append(i0)

    with pytest.raises(RuntimeError, match="first range"):
        _threads.over_ranges(fn, (), [(0, 8), (8, 16)])
    assert done == [8]  # the other thread had finished before the error came out
