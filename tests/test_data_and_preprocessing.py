"""load_letters, load_cifar10, make_cifar_like and ZCAWhitener."""

import pickle
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from gainprop import MLPClassifier
from gainprop.datasets import load_cifar10, load_letters, make_cifar_like
from gainprop.preprocessing import ZCAWhitener


# ---------------------------------------------------------------- letters
def test_letters_shapes_classes_and_range():
    b = load_letters(520, random_state=0)
    assert b.data.shape == (520, 841) and b.images.shape == (520, 29, 29)
    assert b.data.dtype == np.float32
    assert np.bincount(b.target).tolist() == [20] * 26
    assert list(b.target_names) == [chr(ord("A") + i) for i in range(26)]
    assert b.data.min() >= 0 and b.data.max() <= 1
    np.testing.assert_array_equal(b.images.reshape(520, -1), b.data)
    X, y = load_letters(53, random_state=0, return_X_y=True, dtype=np.float64)
    assert X.dtype == np.float64 and np.bincount(y, minlength=26).min() == 2


def test_letters_are_deterministic_and_differ_between_seeds():
    a = load_letters(100, random_state=3, return_X_y=True)
    b = load_letters(100, random_state=3, return_X_y=True)
    c = load_letters(100, random_state=4, return_X_y=True)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


def test_letters_look_like_distinct_letters():
    b = load_letters(1040, random_state=0, difficulty="easy")
    means = np.array([b.data[b.target == k].mean(axis=0) for k in range(26)])
    # every class's mean image is closer to itself than to any other class's
    d = ((means[:, None] - means[None]) ** 2).sum(-1)
    off = d + np.eye(26) * 1e9
    assert off.min() > 1.0
    # strokes: a sensible fraction of ink
    ink = (b.data > 0.5).mean()
    assert 0.05 < ink < 0.4


def test_a_small_network_learns_letters_well_above_chance():
    X, y = load_letters(2600, random_state=0, difficulty="hard", return_X_y=True)
    Xt, yt = load_letters(1300, random_state=1, difficulty="hard", return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = MLPClassifier(hidden_layer_sizes=(100,), activation="logistic", max_iter=60,
                            random_state=0).fit(X, y)
    assert clf.score(Xt, yt) > 0.5  # chance is 1/26
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        X, y = load_letters(1300, random_state=0, return_X_y=True)
        clf.fit(X, y)
    Xt, yt = load_letters(520, random_state=1, return_X_y=True)
    assert clf.score(Xt, yt) > 0.9  # the easy set generalises easily


def test_letters_frame_and_errors():
    pd = pytest.importorskip("pandas")
    X, y = load_letters(52, random_state=0, return_X_y=True, as_frame=True)
    assert isinstance(X, pd.DataFrame) and isinstance(y, pd.Series) and X.shape == (52, 841)
    b = load_letters(52, random_state=0, as_frame=True)
    assert b.frame.shape == (52, 842)
    with pytest.raises(ValueError, match="difficulty"):
        load_letters(10, difficulty="medium")
    with pytest.raises(ValueError, match="n_samples"):
        load_letters(0)


# ---------------------------------------------------------------- CIFAR-10
def _write_cifar(folder, n_per_batch=20, seed=0):
    rng = np.random.RandomState(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {b"data": rng.randint(0, 256, (n_per_batch, 3072), dtype=np.uint8),
                 b"labels": list(rng.randint(0, 10, n_per_batch)),
                 b"batch_label": name.encode()}
        with open(folder / name, "wb") as f:
            pickle.dump(batch, f)
    names = [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse",
             b"ship", b"truck"]
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({b"label_names": names, b"num_vis": 3072}, f)


def test_load_cifar10_reads_the_python_format(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    _write_cifar(folder)
    b = load_cifar10(folder)
    assert b.data.shape == (100, 3072) and b.data.dtype == np.float32
    assert b.data.min() >= 0 and b.data.max() <= 1
    assert list(b.target_names[:2]) == ["airplane", "automobile"]
    with open(folder / "data_batch_1", "rb") as f:
        first = pickle.load(f, encoding="bytes")
    np.testing.assert_allclose(b.data[:20], first[b"data"] / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(b.target[:20], first[b"labels"])
    X, y = load_cifar10(tmp_path, subset="test", return_X_y=True)  # the parent folder
    assert X.shape == (20, 3072)
    X, y = load_cifar10(folder, subset="all", n_samples=50, dtype=np.float64,
                        return_X_y=True)
    assert X.shape == (50, 3072) and X.dtype == np.float64


def test_load_cifar10_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="data_batch_1"):
        load_cifar10(tmp_path)
    folder = tmp_path / "c"
    _write_cifar(folder)
    (folder / "data_batch_3").write_bytes(b"not a pickle")
    with pytest.raises(ValueError, match="data_batch_3"):
        load_cifar10(folder)
    with open(folder / "data_batch_3", "wb") as f:
        pickle.dump({b"data": np.zeros((5, 100), np.uint8), b"labels": [0] * 5}, f)
    with pytest.raises(ValueError, match=r"\(n, 3072\)"):
        load_cifar10(folder)
    with pytest.raises(ValueError, match="subset"):
        load_cifar10(folder, subset="val")


def test_make_cifar_like_is_learnable():
    X, y = make_cifar_like(600, random_state=0)
    assert X.shape == (600, 3072) and X.dtype == np.float32 and set(y) == set(range(10))
    assert 0 <= X.min() and X.max() <= 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = MLPClassifier(hidden_layer_sizes=(64,), max_iter=30, random_state=0)
        clf.fit(X[:450], y[:450])
    assert clf.score(X[450:], y[450:]) > 0.5


# ---------------------------------------------------------------- ZCA
def test_zca_whitens_to_identity_covariance():
    rng = np.random.RandomState(0)
    X = rng.randn(2000, 6) @ rng.randn(6, 6) + 3.0
    zca = ZCAWhitener(epsilon=1e-10)
    Z = zca.fit_transform(X)
    np.testing.assert_allclose(Z.mean(axis=0), 0, atol=1e-9)
    np.testing.assert_allclose(np.cov(Z, rowvar=False, bias=True), np.eye(6), atol=1e-6)
    np.testing.assert_allclose(zca.inverse_transform(Z), X, rtol=1e-8, atol=1e-8)
    # zero phase: the whitening matrix is symmetric (no rotation into PCA axes)
    np.testing.assert_allclose(zca.whitening_, zca.whitening_.T, atol=1e-10)


def test_zca_keeps_float32_and_handles_fewer_samples_than_features():
    rng = np.random.RandomState(0)
    X = rng.rand(30, 50).astype(np.float32)
    zca = ZCAWhitener(epsilon=0.1).fit(X)
    Z = zca.transform(X)
    assert Z.dtype == np.float32 and np.isfinite(Z).all()
    assert zca.inverse_transform(Z).dtype == np.float32


def test_zca_in_a_pipeline():
    X, y = load_letters(520, random_state=0, return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pipe = make_pipeline(ZCAWhitener(epsilon=0.1),
                             MLPClassifier(hidden_layer_sizes=(32,), max_iter=30,
                                           random_state=0)).fit(X, y)
    assert pipe.score(X, y) > 0.9


@parametrize_with_checks([ZCAWhitener()])
def test_zca_estimator_checks(estimator, check):
    check(estimator)
