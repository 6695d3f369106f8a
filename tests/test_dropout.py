"""Dropout: the Philox4x32-10 masks, the network's loss and gradient with
fixed masks (against a NumPy forward pass and finite differences), and the
estimators: the random stream, threads and instruction sets, partial_fit,
warm starts, pickling, sparse input, every stochastic optimizer, divergence."""

import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from activation_reference import NEW, VALUE
from scipy.special import log_softmax
from sklearn import neural_network as sknn

from gainprop import MLPClassifier, MLPRegressor, _core
from gainprop._engine import BN_EPS, DropoutStream, Engine, Layout, Matrix
from gainprop.optimizers import OPTIMIZERS

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

KEY = 0x0123456789ABCDEF


# ----------------------------------------------------------------------
# The generator and the masks
# ----------------------------------------------------------------------
@pytest.mark.parametrize("counter,key,expected", [
    # Random123's known-answer vectors for philox4x32-10 (kat_vectors)
    ([0, 0, 0, 0], [0, 0], (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ([0xFFFFFFFF] * 4, [0xFFFFFFFF] * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ([0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344], [0xA4093822, 0x299F31D0],
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
])
def test_philox_known_answers(counter, key, expected):
    assert _core.philox4x32(counter, key) == expected


def test_a_mask_draw_is_word_j_mod_4_of_its_philox_block():
    """The definition in gainprop.h: counter (j / 4, row, batch mod 2^32,
    (batch >> 32) << 8 | layer), key (key mod 2^32, key >> 32), kept below
    floor((1 - p) 2^32)."""
    batch, layer, p = (5 << 32) + 17, 3, 0.25
    keep = _core.dropout_keep(KEY, batch, layer, p, 9, 2, 8)
    for r in range(2):
        for j in range(8):
            words = _core.philox4x32([j // 4, 9 + r, batch & 0xFFFFFFFF, (5 << 8) | layer],
                                     [KEY & 0xFFFFFFFF, KEY >> 32])
            assert keep[r, j] == (words[j % 4] < int(0.75 * 2**32))


def test_masks_are_a_pure_function_of_where_the_unit_is():
    whole = _core.dropout_keep(KEY, 7, 1, 0.5, 0, 12, 21)
    np.testing.assert_array_equal(_core.dropout_keep(KEY, 7, 1, 0.5, 5, 4, 10), whole[5:9, :10])
    # another batch, layer or key: other masks
    for other in (_core.dropout_keep(KEY, 8, 1, 0.5, 0, 12, 21),
                  _core.dropout_keep(KEY, 7, 2, 0.5, 0, 12, 21),
                  _core.dropout_keep(KEY + 1, 7, 1, 0.5, 0, 12, 21)):
        assert 0.3 < np.mean(other != whole) < 0.7
    # a higher rate drops a superset of the units
    assert np.all(_core.dropout_keep(KEY, 7, 1, 0.8, 0, 12, 21) <= whole)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_fraction_kept_is_one_minus_p(p):
    keep = _core.dropout_keep(KEY, 123, 1, p, 0, 400, 500)
    sigma = np.sqrt(p * (1 - p) / keep.size)
    assert abs(keep.mean() - (1 - p)) < 4 * sigma
    # no structure along rows or columns (a counter word mixed in wrongly shows here)
    for axis, n in ((0, 400), (1, 500)):
        frac = keep.mean(axis=axis)
        assert np.std(frac) < 2 * np.sqrt(p * (1 - p) / n)
    # neighbouring units and rows are independent
    a, b = keep[:, :-1].ravel().astype(float), keep[:, 1:].ravel().astype(float)
    assert abs(np.corrcoef(a, b)[0, 1]) < 0.02
    a, b = keep[:-1].ravel().astype(float), keep[1:].ravel().astype(float)
    assert abs(np.corrcoef(a, b)[0, 1]) < 0.02


def test_dropout_keep_checks_its_arguments():
    with pytest.raises(ValueError, match="key"):
        _core.dropout_keep(-1, 0, 1, 0.5, 0, 2, 2)
    with pytest.raises(ValueError, match="batch"):
        _core.dropout_keep(KEY, _core.DROPOUT_MAX_BATCH, 1, 0.5, 0, 2, 2)
    with pytest.raises(ValueError, match="rate"):
        _core.dropout_keep(KEY, 0, 1, 1.0, 0, 2, 2)
    for row0, n_rows in [(2**32, 1), (2**62, 2**62), (2**63 - 1, 1)]:  # (sums past int64)
        with pytest.raises(ValueError, match="2\\*\\*32 rows"):
            _core.dropout_keep(KEY, 0, 1, 0.5, row0, n_rows, 0)


@pytest.mark.parametrize("key", [2**64 - 1, 2**64 - 1000, 2**63])
def test_numpy_integers_are_keys_up_to_the_last_one(key):
    # the loader takes a stream whose key is a numpy integer; the core must
    # read the same range (a float64 comparison refused 2**64 - 1 as a uint64)
    expected = _core.dropout_keep(key, 3, 1, 0.5, 0, 4, 8)
    np.testing.assert_array_equal(_core.dropout_keep(np.uint64(key), np.uint64(3), 1, 0.5, 0, 4, 8),
                                  expected)
    with pytest.raises(ValueError, match="key"):
        _core.dropout_keep(2**64, 3, 1, 0.5, 0, 4, 8)


# ----------------------------------------------------------------------
# The network with fixed masks
# ----------------------------------------------------------------------
def _numpy_loss(layout, params, X, Y, sw, activation, rates, stream, batch_norm):
    """The mean log loss of a forward pass in NumPy with dropout's masks from
    _core.dropout_keep (inverted dropout: kept values scaled by 1 / (1 - p))."""
    n = X.shape[0]
    rates = list(rates)

    def drop(a, layer):
        p = rates[layer]
        if p == 0:
            return a
        keep = _core.dropout_keep(stream.key, stream.batch, layer, p, 0, n, a.shape[1])
        return a * keep / (1 - p)

    a = drop(np.asarray(X.todense() if sp.issparse(X) else X), 0)
    coefs, intercepts = layout.coef_views(params), layout.intercept_views(params)
    bn = layout.bn_views(params)
    for i, (W, b) in enumerate(zip(coefs, intercepts)):
        z = a @ W + b
        if i == len(coefs) - 1:
            break
        if batch_norm:
            z = (z - z.mean(axis=0)) / np.sqrt(z.var(axis=0) + BN_EPS) * bn[i][0] + bn[i][1]
        a = drop(VALUE[activation](z), i + 1)
    losses = -(Y * log_softmax(z, axis=1)).sum(axis=1)
    w = np.ones(n) if sw is None else sw
    return (w * losses).sum() / w.sum()


def _dropout_engine(layout, activation, rates, chunk_rows, d, dense):
    return Engine(layout, activation, "softmax", "log_loss", 0.05, 1, chunk_rows, np.float64, d,
                  dense and rates[0] > 0, dropout=rates[1:], input_dropout=rates[0])


@pytest.mark.parametrize("batch_norm", [False, True], ids=["plain", "batch-norm"])
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("activation", ["relu", "tanh", "logistic"] + NEW)
def test_loss_and_gradient_with_fixed_masks(activation, sparse, batch_norm, finite_differences):
    rng = np.random.RandomState(11)
    n, units = 14, [6, 9, 8, 3]
    layout = Layout(units, batch_norm=batch_norm)
    params = rng.uniform(-0.8, 0.8, layout.n_params)
    if activation in ("relu", "leaky_relu"):  # keep pre-activations away from the kink
        params[: layout.n_coef] += np.sign(params[: layout.n_coef]) * 0.05
    for gamma, _ in layout.bn_views(params):
        gamma += 1.0
    X = rng.randn(n, units[0])
    if sparse:
        X[rng.rand(n, units[0]) < 0.4] = 0.0
        X = sp.csr_matrix(X)
    Y = np.eye(units[-1])[rng.randint(units[-1], size=n)]
    sw = rng.uniform(0.5, 2.0, n)
    rates = [0.3, 0.4, 0.25]  # inputs, hidden 1, hidden 2
    stream = DropoutStream(KEY, 41)
    Xm = Matrix(X, np.float64)
    # without batch norm, blocks of 5 rows: rows are counted in the batch, not the block
    eng = _dropout_engine(layout, activation, rates, n if batch_norm else 5, units[0],
                          not sparse)

    def objective(p):
        data, l2 = eng.loss_grad(Xm, Y, sw, p, stream)
        return data + l2

    data, _ = eng.loss_grad(Xm, Y, sw, params, stream)
    assert data == pytest.approx(
        _numpy_loss(layout, params, X, Y, sw, activation, rates, stream, batch_norm), rel=1e-12)
    grad = eng.grad.copy()
    numeric = finite_differences(objective, params)
    assert np.linalg.norm(grad - numeric) / np.linalg.norm(numeric) < 1e-7
    big = np.abs(numeric) > 1e-4
    np.testing.assert_allclose(grad[big], numeric[big], rtol=1e-5)
    # the masks matter: another batch number gives another loss
    assert eng.loss_grad(Xm, Y, sw, params, DropoutStream(KEY, 42))[0] != pytest.approx(data)
    # the weights of dropped inputs get no gradient from a row... and the
    # stream is not advanced by loss_grad
    assert stream.batch == 41


def test_a_network_with_dropout_needs_a_stream_and_checks_rates(rng):
    layout = Layout([4, 5, 3, 2])
    eng = _dropout_engine(layout, "relu", [0.0, 0.5, 0.0], 8, 4, True)
    X, Y = Matrix(rng.randn(8, 4), np.float64), np.eye(2)[rng.randint(2, size=8)]
    params = rng.uniform(-0.5, 0.5, layout.n_params)
    with pytest.raises(ValueError, match="stream"):
        eng.loss_grad(X, Y, None, params)
    with pytest.raises(ValueError, match="batch counter"):
        eng.loss_grad(X, Y, None, params, DropoutStream(KEY, _core.DROPOUT_MAX_BATCH))
    with pytest.raises(ValueError, match="key"):
        eng.loss_grad(X, Y, None, params, DropoutStream(None, 0))
    for rates, match in (([0.5], "one rate per hidden layer"), ([0.5, 1.0], r"\[0, 1\)"),
                         ([0.5, np.nan], r"\[0, 1\)")):
        with pytest.raises(ValueError, match=match):
            Engine(layout, "relu", "softmax", "log_loss", 0.0, 1, 8, np.float64, 4, False,
                   dropout=rates)
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        Engine(layout, "relu", "softmax", "log_loss", 0.0, 1, 8, np.float64, 4, False,
               input_dropout=-0.1)


# ----------------------------------------------------------------------
# The estimators
# ----------------------------------------------------------------------
def _fit(X, y, cls=MLPClassifier, **kw):
    params = dict(hidden_layer_sizes=(24, 16), dropout=0.3, input_dropout=0.1, max_iter=3,
                  batch_size=64, random_state=0)
    params.update(kw)
    return cls(**params).fit(X, y)


def test_without_dropout_no_key_is_drawn_and_the_weights_are_sklearns(digits):
    X, y = digits[0][:300], digits[1][:300]
    kw = dict(hidden_layer_sizes=(13, 7), solver="sgd", learning_rate_init=1e-300, max_iter=1,
              random_state=3, shuffle=False)
    sk = sknn.MLPClassifier(**kw).fit(X, y)
    plain = MLPClassifier(**kw).fit(X, y)
    dropped = MLPClassifier(dropout=[0.5, 0.2], input_dropout=0.2, **kw).fit(X, y)
    assert plain._dropout_stream.key is None
    for a, b, c in zip(sk.coefs_ + sk.intercepts_, plain.coefs_ + plain.intercepts_,
                       dropped.coefs_ + dropped.intercepts_):
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-15)
        np.testing.assert_allclose(c, a, rtol=0, atol=1e-15)
    # the key is the draw that follows the weights (shuffle=False: nothing else drew)
    assert dropped._dropout_stream.key == plain._random_state.randint(0, 2**64, dtype=np.uint64)


def test_the_stream_counts_mini_batches_across_calls(digits):
    X, y = digits[0][:300], digits[1][:300]
    clf = _fit(X, y, batch_size=64)  # 5 batches per epoch
    assert clf._dropout_stream.batch == 3 * 5
    key = clf._dropout_stream.key
    clf.partial_fit(X, y)
    assert (clf._dropout_stream.key, clf._dropout_stream.batch) == (key, 20)
    clf.set_params(warm_start=True, max_iter=2).fit(X, y)
    assert (clf._dropout_stream.key, clf._dropout_stream.batch) == (key, 30)
    clf.set_params(warm_start=False).fit(X, y)  # a new model: a new stream
    assert (clf._dropout_stream.key, clf._dropout_stream.batch) == (key, 10)


def test_dropout_switched_on_by_a_warm_start_draws_a_key(digits):
    X, y = digits[0][:300], digits[1][:300]
    clf = _fit(X, y, dropout=0.0, input_dropout=0.0, max_iter=2)
    assert clf._dropout_stream.key is None and clf._dropout_stream.batch == 10
    before = clf._dropout_stream
    clf.set_params(warm_start=True, dropout=[0.5, 0.0]).fit(X, y)
    assert clf._dropout_stream.key is not None and clf._dropout_stream.batch == 20
    assert before.key is None  # the committed model's stream was not written while staging


@pytest.mark.skipif(not _core.openmp_enabled(),
                    reason="a serial build lets BLAS thread itself, whose results depend on it")
@pytest.mark.parametrize("case", [dict(activation="relu"), dict(activation="gelu"),
                                  dict(activation="silu", batch_norm=True),
                                  dict(activation="elu", sparse=True)],
                         ids=["relu", "gelu", "silu-bn", "elu-csr"])
def test_results_do_not_depend_on_threads(case):
    rng = np.random.RandomState(0)
    X = rng.randn(512, 100)
    y = rng.randint(0, 5, 512)
    case = dict(case)
    if case.pop("sparse", False):
        X[rng.rand(*X.shape) < 0.7] = 0.0
        X = sp.csr_matrix(X)
    runs = []
    for n_threads in (1, 2):
        clf = _fit(X, y, hidden_layer_sizes=(256, 128), batch_size=256, max_iter=2,
                   n_threads=n_threads, **case)
        runs.append(clf._params.copy())
    np.testing.assert_array_equal(runs[0], runs[1])


def test_partial_fit_continues_fit_and_pickles_mid_training(digits):
    X, y = digits[0][:400], digits[1][:400]
    kw = dict(shuffle=False, tol=0.0, n_iter_no_change=100, solver="adam")
    whole = _fit(X, y, max_iter=4, **kw)
    parts = MLPClassifier(**{**whole.get_params(), "max_iter": 1})
    parts.partial_fit(X, y, classes=np.arange(10))
    parts.partial_fit(X, y)
    twin = pickle.loads(pickle.dumps(parts))
    for model in (parts, twin):
        model.partial_fit(X, y)
        model.partial_fit(X, y)
    np.testing.assert_array_equal(parts._params, whole._params)
    np.testing.assert_array_equal(twin._params, whole._params)
    assert twin._dropout_stream.batch == whole._dropout_stream.batch == 4 * 7
    # and with every unit kept at each step, the trajectory would be another one
    plain = _fit(X, y, max_iter=4, dropout=0.0, input_dropout=0.0, **kw)
    assert np.abs(plain._params - whole._params).max() > 1e-3


def test_a_warm_start_after_unpickling_equals_one_without(digits):
    X, y = digits[0][:400], digits[1][:400]
    a = _fit(X, y, max_iter=2, batch_norm=True, activation="gelu")
    b = pickle.loads(pickle.dumps(a))
    for model in (a, b):
        model.set_params(warm_start=True, max_iter=2).fit(X, y)
    np.testing.assert_array_equal(a._params, b._params)
    np.testing.assert_array_equal(a._running, b._running)


def test_dense_and_sparse_input_train_alike(digits):
    X, y = digits[0][:300], digits[1][:300]
    dense = _fit(X, y, input_dropout=0.4, activation="tanh")
    sparse = _fit(sp.csr_matrix(X), y, input_dropout=0.4, activation="tanh")
    np.testing.assert_allclose(sparse._params, dense._params, rtol=1e-9, atol=1e-12)
    unshuffled = _fit(X, y, input_dropout=0.4, activation="tanh", shuffle=False)
    unshuffled_csr = _fit(sp.csr_matrix(X), y, input_dropout=0.4, activation="tanh",
                          shuffle=False)
    np.testing.assert_allclose(unshuffled_csr._params, unshuffled._params, rtol=1e-9,
                               atol=1e-12)


@pytest.mark.parametrize("solver", sorted(OPTIMIZERS))
def test_every_stochastic_optimizer_trains_with_dropout(solver, digits):
    X, y = digits[0][:300], digits[1][:300]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # sign-based rules on mini-batches
        clf = _fit(X, y, solver=solver, max_iter=2)
        plain = _fit(X, y, solver=solver, max_iter=2, dropout=0.0, input_dropout=0.0)
    assert np.isfinite(clf._params).all()
    assert clf._dropout_stream.batch == 2 * 5
    assert np.abs(clf._params - plain._params).max() > 0


def test_lbfgs_refuses_dropout(digits):
    X, y = digits
    for kw in (dict(dropout=0.2), dict(dropout=[0.0, 0.3]), dict(input_dropout=0.1)):
        with pytest.raises(ValueError, match="dropout needs a stochastic solver"):
            MLPClassifier(hidden_layer_sizes=(5, 4), solver="lbfgs", **kw).fit(X, y)
    MLPClassifier(hidden_layer_sizes=(5,), solver="lbfgs", dropout=0.0, max_iter=2).fit(X, y)


@pytest.mark.parametrize("dropout,match", [
    ([0.1], "one rate per hidden layer"), ([0.1, 0.2, 0.3], "one rate per hidden layer"),
    ([0.1, 1.0], r"\[0, 1\)"), ([[0.1, 0.2]], "one rate per hidden layer"),
    (1.0, "dropout"), (-0.1, "dropout"), ("half", "dropout"),
])
def test_bad_dropout_is_a_clear_error(dropout, match, digits):
    X, y = digits
    with pytest.raises(ValueError, match=match):
        MLPClassifier(hidden_layer_sizes=(5, 4), dropout=dropout, max_iter=1).fit(X, y)
    with pytest.raises(ValueError, match="input_dropout"):
        MLPClassifier(input_dropout=1.0, max_iter=1).fit(X, y)


def test_predict_keeps_every_unit_and_is_deterministic(digits):
    X, y = digits[0][:300], digits[1][:300]
    clf = _fit(X, y, dropout=[0.5, 0.3], input_dropout=0.2, activation="elu")
    proba = clf.predict_proba(X)
    np.testing.assert_array_equal(clf.predict_proba(X), proba)
    a = X
    for i, (W, b) in enumerate(zip(clf.coefs_, clf.intercepts_)):
        a = a @ W + b
        if i < len(clf.coefs_) - 1:
            a = VALUE["elu"](a)
    np.testing.assert_allclose(proba, np.exp(log_softmax(a, axis=1)), rtol=1e-10, atol=1e-14)


def _diverging(**kw):
    rng = np.random.RandomState(0)
    X = rng.randn(100, 5) * 100
    y = X @ rng.randn(5) * 100
    return X, y, MLPRegressor(hidden_layer_sizes=(50,), solver="sgd", momentum=0.9,
                              learning_rate_init=10.0, batch_size=20, dropout=0.2,
                              random_state=0, **kw)


def test_a_diverging_epoch_puts_the_batch_counter_back():
    X, y, reg = _diverging(early_stopping=True, max_iter=50)  # 90 rows for training: 5 batches
    reg.fit(X, y)
    assert np.isnan(reg.loss_curve_[-1])  # the last epoch diverged and was undone
    assert reg._dropout_stream.batch == 5 * (reg.n_iter_ - 1)
    X, y, reg = _diverging(max_iter=1)
    reg.set_params(learning_rate_init=1e-6).partial_fit(X, y)
    before = reg._dropout_stream.batch
    with pytest.raises(ValueError, match="non-finite"):
        for _ in range(20):
            reg.set_params(learning_rate_init=10.0).partial_fit(X, y)
    assert np.isfinite(reg._params).all()
    assert reg._dropout_stream.batch == before + 5 * (reg.t_ // 100 - 1)


def test_fitted_copies_for_callbacks_have_their_own_stream(digits):
    X, y = digits[0][:200], digits[1][:200]
    clf = _fit(X, y, max_iter=1)
    attrs = clf._fitted_attributes(clf._params, clf._running)()
    assert attrs["_dropout_stream"] is not clf._dropout_stream
    assert (attrs["_dropout_stream"].key, attrs["_dropout_stream"].batch) == (
        clf._dropout_stream.key, clf._dropout_stream.batch)
