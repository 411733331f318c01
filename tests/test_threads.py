"""BLAS threads sized to the work (bioplastic._threads): one thread for a small network's
per-step products, the library's own count back for one large call (RTRL's influence)."""

import numpy as np
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


def test_bptts_weight_gradient_product_asks_for_threads_by_its_size(monkeypatch):
    asked = asked_for_threads(monkeypatch, bp.rules.base)
    net = bp.LeakyRNN.random(2, 6, 1, tau=2.0, seed=0)
    bp.gradient(net, np.zeros((3, 4, 2)), np.zeros((3, 4, 1)), rule="bptt")
    assert asked == [2.0 * 4 * 3 * 6 * 6]
