"""Preprocessing: ZCA whitening, as in Ndauka & Zheng's CIFAR-10 experiment."""

from numbers import Real

import numpy as np
import scipy.linalg
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted, validate_data

__all__ = ["ZCAWhitener"]


class ZCAWhitener(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    r"""Zero-phase component analysis (ZCA) whitening.

    .. math::

        X \leftarrow (X - \mu)\, U \operatorname{diag}(1/\sqrt{\lambda + \epsilon})\, U^\top

    from the eigen-decomposition :math:`C = U \operatorname{diag}(\lambda) U^\top`
    of the training covariance.  Unlike PCA whitening, ZCA keeps the data in
    its original coordinates (whitened images still look like images, with
    edges enhanced); Ndauka & Zheng whitened CIFAR-10 with it.  ε regularises
    the small eigenvalues (and makes the transform defined when there are
    fewer samples than features); with data in [0, 1] a value around 1e-2
    to 1e-1 is usual.

    Computed in float64; float32 input gives float32 output.

    Parameters
    ----------
    epsilon : float, default=1e-2
        Added to every eigenvalue, > 0.
    copy : bool, default=True
        Ignored (the transform always returns a new array); kept for
        scikit-learn's transformer conventions.

    Attributes
    ----------
    mean_ : ndarray of shape (n_features,)
        The training mean.
    whitening_ : ndarray of shape (n_features, n_features)
        W, so that ``transform(X) = (X - mean_) @ whitening_``.
    dewhitening_ : ndarray of shape (n_features, n_features)
        The inverse map used by ``inverse_transform``.
    eigenvalues_ : ndarray of shape (n_features,)
        Of the training covariance, ascending.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Only when X had string column names.

    Examples
    --------
    >>> import numpy as np
    >>> from gainprop.preprocessing import ZCAWhitener
    >>> X = np.random.RandomState(0).rand(500, 3) @ [[1, 0.5, 0], [0, 1, 0.3], [0, 0, 1]]
    >>> Z = ZCAWhitener(epsilon=1e-8).fit_transform(X)
    >>> np.allclose(np.cov(Z, rowvar=False, bias=True), np.eye(3), atol=1e-6)
    True
    """

    _parameter_constraints = {
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "copy": ["boolean"],
    }

    def __init__(self, epsilon=1e-2, copy=True):
        self.epsilon = epsilon
        self.copy = copy

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the mean and the whitening matrix of X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : None
            Ignored.

        Returns
        -------
        self : ZCAWhitener
            The fitted transformer.
        """
        X = validate_data(self, X, dtype=[np.float64, np.float32], ensure_min_samples=2)
        X64 = np.asarray(X, dtype=np.float64)
        self.mean_ = X64.mean(axis=0)
        centred = X64 - self.mean_
        cov = centred.T @ centred / X64.shape[0]
        eigenvalues, U = scipy.linalg.eigh(cov)
        eigenvalues = np.maximum(eigenvalues, 0.0)  # rounding can make tiny ones negative
        scale = 1.0 / np.sqrt(eigenvalues + self.epsilon)
        self.eigenvalues_ = eigenvalues
        self.whitening_ = (U * scale) @ U.T
        self.dewhitening_ = (U / scale) @ U.T
        return self

    def transform(self, X):
        """Whiten X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data to whiten.

        Returns
        -------
        X_white : ndarray of shape (n_samples, n_features)
            In X's float dtype (float32 stays float32).
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        out = (np.asarray(X, dtype=np.float64) - self.mean_) @ self.whitening_
        return out.astype(X.dtype, copy=False)

    def inverse_transform(self, X):
        """Map whitened data back to the original space.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Whitened data.

        Returns
        -------
        X_original : ndarray of shape (n_samples, n_features)
            In X's float dtype.
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        out = np.asarray(X, dtype=np.float64) @ self.dewhitening_ + self.mean_
        return out.astype(X.dtype, copy=False)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
