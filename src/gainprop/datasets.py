"""Data sets of the published experiments gainprop reproduces.

Generated letter images (the local-gains experiments), a CIFAR-10 reader and
a CIFAR-shaped stand-in (Ndauka & Zheng's mini-batch iRprop− experiment).
Nothing is downloaded."""

import os
import pickle

import numpy as np
from sklearn.utils import Bunch, check_random_state

__all__ = ["load_letters", "load_cifar10", "make_cifar_like"]

# ---------------------------------------------------------------------------
# A stroke font for A-Z in the unit box (x right, y up).  Each letter is a
# list of polylines; arcs are written as ("arc", cx, cy, rx, ry, deg0, deg1).
# ---------------------------------------------------------------------------
_FONT = {
    "A": [[(0, 0), (0.5, 1), (1, 0)], [(0.22, 0.42), (0.78, 0.42)]],
    "B": [[(0, 0), (0, 1), (0.55, 1), ("arc", 0.55, 0.75, 0.3, 0.25, 90, -90), (0, 0.5)],
          [(0, 0.5), (0.6, 0.5), ("arc", 0.6, 0.25, 0.35, 0.25, 90, -90), (0, 0)]],
    "C": [[("arc", 0.55, 0.5, 0.5, 0.5, 40, 320)]],
    "D": [[(0, 0), (0, 1), (0.4, 1), ("arc", 0.4, 0.5, 0.6, 0.5, 90, -90), (0, 0)]],
    "E": [[(1, 1), (0, 1), (0, 0), (1, 0)], [(0, 0.5), (0.75, 0.5)]],
    "F": [[(1, 1), (0, 1), (0, 0)], [(0, 0.5), (0.75, 0.5)]],
    "G": [[("arc", 0.55, 0.5, 0.5, 0.5, 40, 355), (1, 0.45), (0.6, 0.45)]],
    "H": [[(0, 0), (0, 1)], [(1, 0), (1, 1)], [(0, 0.5), (1, 0.5)]],
    "I": [[(0.5, 0), (0.5, 1)], [(0.2, 1), (0.8, 1)], [(0.2, 0), (0.8, 0)]],
    "J": [[(0.3, 1), (0.85, 1)], [(0.7, 1), (0.7, 0.3), ("arc", 0.4, 0.3, 0.3, 0.3, 0, -180)]],
    "K": [[(0, 0), (0, 1)], [(0.95, 1), (0, 0.4)], [(0.3, 0.62), (1, 0)]],
    "L": [[(0, 1), (0, 0), (0.9, 0)]],
    "M": [[(0, 0), (0, 1), (0.5, 0.3), (1, 1), (1, 0)]],
    "N": [[(0, 0), (0, 1), (1, 0), (1, 1)]],
    "O": [[("arc", 0.5, 0.5, 0.5, 0.5, 0, 360)]],
    "P": [[(0, 0), (0, 1), (0.55, 1), ("arc", 0.55, 0.74, 0.4, 0.26, 90, -90), (0, 0.48)]],
    "Q": [[("arc", 0.5, 0.5, 0.5, 0.5, 0, 360)], [(0.55, 0.3), (1, -0.05)]],
    "R": [[(0, 0), (0, 1), (0.55, 1), ("arc", 0.55, 0.74, 0.4, 0.26, 90, -90), (0, 0.48)],
          [(0.4, 0.48), (1, 0)]],
    "S": [[("arc", 0.5, 0.75, 0.45, 0.25, 20, 270), ("arc", 0.5, 0.25, 0.45, 0.25, 90, -160)]],
    "T": [[(0, 1), (1, 1)], [(0.5, 1), (0.5, 0)]],
    "U": [[(0, 1), (0, 0.35), ("arc", 0.5, 0.35, 0.5, 0.35, 180, 360), (1, 1)]],
    "V": [[(0, 1), (0.5, 0), (1, 1)]],
    "W": [[(0, 1), (0.25, 0), (0.5, 0.65), (0.75, 0), (1, 1)]],
    "X": [[(0, 0), (1, 1)], [(0, 1), (1, 0)]],
    "Y": [[(0, 1), (0.5, 0.5), (1, 1)], [(0.5, 0.5), (0.5, 0)]],
    "Z": [[(0, 1), (1, 1), (0, 0), (1, 0)]],
}
LETTERS = tuple(sorted(_FONT))


def _segments(letter):
    """The letter's strokes as an (n, 4) array of segments x0, y0, x1, y1."""
    segs = []
    for stroke in _FONT[letter]:
        points = []
        for item in stroke:
            if item[0] == "arc":
                _, cx, cy, rx, ry, a0, a1 = item
                n = max(4, int(abs(a1 - a0) / 15))
                t = np.radians(np.linspace(a0, a1, n + 1))
                points.extend(zip(cx + rx * np.cos(t), cy + ry * np.sin(t)))
            else:
                points.append(item)
        p = np.asarray(points, dtype=float)
        segs.append(np.hstack([p[:-1], p[1:]]))
    return np.vstack(segs)


_SEGMENTS = {letter: _segments(letter) for letter in LETTERS}

#: distortion ranges by difficulty: scale, rotation (deg), shear, shift (px),
#: stroke width (px), pixel noise
_DIFFICULTY = {
    "easy": dict(scale=(0.9, 1.05), rotation=6.0, shear=0.08, shift=1.0, width=(1.4, 1.9),
                 aspect=0.05, noise=0.05, jitter=0.0),
    "hard": dict(scale=(0.65, 1.1), rotation=18.0, shear=0.3, shift=3.0, width=(0.9, 2.6),
                 aspect=0.2, noise=0.2, jitter=0.06),
}


def _render(letter, n, size, rs, d):
    """n images (n, size, size) of one letter with random distortions."""
    segs = _SEGMENTS[letter]
    s = segs.shape[0]
    # the glyph box (unit square, y up) -> centred pixel coordinates (y down)
    box = 0.62 * size
    p0 = segs[:, :2] - 0.5
    p1 = segs[:, 2:] - 0.5
    # per-sample random affine: scale, aspect, rotation, shear, shift
    scale = rs.uniform(*d["scale"], n) * box
    aspect = 1 + rs.uniform(-d["aspect"], d["aspect"], n)
    theta = np.radians(rs.uniform(-d["rotation"], d["rotation"], n))
    shear = rs.uniform(-d["shear"], d["shear"], n)
    shift = rs.uniform(-d["shift"], d["shift"], (n, 2))
    width = rs.uniform(*d["width"], n)
    cos, sin = np.cos(theta), np.sin(theta)
    # A = R(theta) @ [[sx, shear*sx], [0, sy]]
    sx, sy = scale * aspect, scale / aspect
    a11, a12 = cos * sx, cos * shear * sx - sin * sy
    a21, a22 = sin * sx, sin * shear * sx + cos * sy
    centre = (size - 1) / 2 + shift

    def place(p):
        # per-sample, per-point jitter bends the strokes a little ("handwriting")
        q = p[None, :, :] + rs.normal(0, d["jitter"], (n, s, 2)) if d["jitter"] else p[None]
        x = a11[:, None] * q[..., 0] + a12[:, None] * q[..., 1]
        y = a21[:, None] * q[..., 0] + a22[:, None] * q[..., 1]
        return np.stack([centre[:, None, 0] + x, centre[:, None, 1] - y], axis=-1)

    A, B = place(p0), place(p1)  # (n, s, 2) segment ends in pixels
    grid = np.arange(size, dtype=float)
    gx, gy = (g.ravel() for g in np.meshgrid(grid, grid, indexing="xy"))  # (P,)
    # squared distance of every pixel centre to the nearest segment, one
    # segment at a time over all images and pixels: (n, P)
    dist2 = np.full((n, gx.size), np.inf)
    for j in range(s):
        ax, ay = A[:, j, 0:1], A[:, j, 1:2]
        bx, by = B[:, j, 0:1] - ax, B[:, j, 1:2] - ay
        len2 = np.maximum(bx * bx + by * by, 1e-12)
        px, py = gx - ax, gy - ay
        t = np.clip((px * bx + py * by) / len2, 0.0, 1.0)
        dx, dy = px - t * bx, py - t * by
        np.minimum(dist2, dx * dx + dy * dy, out=dist2)
    dist = np.sqrt(dist2)
    # anti-aliased stroke: full inside half the width, a one-pixel ramp outside
    img = np.clip(width[:, None] / 2 + 0.5 - dist, 0.0, 1.0)
    if d["noise"]:
        img = img + rs.normal(0, d["noise"], img.shape)
    return np.clip(img, 0.0, 1.0).reshape(n, size, size)


def load_letters(n_samples=5200, *, random_state=None, difficulty="easy", image_size=29,
                 dtype=np.float32, return_X_y=False, as_frame=False):
    """Images of the 26 English capital letters, generated on the fly.

    The blog article "Local rate of training of neuron weights in the
    backpropagation algorithm" tried Hinton's local gains on an 841-100-26
    network trained on 29×29 images of English letters (see
    ``python -m gainprop experiment local-gains``).  Its images are not
    available, so these are drawn from a small
    stroke font embedded in gainprop: each image gets a random scale, aspect,
    rotation, shear and shift, a random stroke width and, for the 'hard'
    set, bent strokes and more pixel noise; strokes are anti-aliased.
    Nothing is downloaded, and a given ``random_state`` always gives the same
    images.

    Parameters
    ----------
    n_samples : int, default=5200
        Number of images, spread over the 26 classes as evenly as possible
        (classes 0..25 = 'A'..'Z'), in shuffled order.
    random_state : int, RandomState instance or None, default=None
        Determines the images; an int gives the same images every time.
    difficulty : {'easy', 'hard'}, default='easy'
        'easy': mild distortions, a set that generalises easily; 'hard':
        stronger distortions, bent strokes and more pixel noise (the article
        used an easy set and a harder one).
    image_size : int, default=29
        Width and height of the images in pixels, >= 8.
    dtype : dtype, default=np.float32
        Data type of the pixels, which are in [0, 1].
    return_X_y : bool, default=False
        Return ``(X, y)`` instead of a Bunch.
    as_frame : bool, default=False
        Data as a pandas DataFrame and target as a Series (needs pandas).

    Returns
    -------
    data : Bunch
        ``data`` (n_samples, image_size²), ``target`` (n_samples,),
        ``images`` (n_samples, image_size, image_size), ``target_names``
        ('A'..'Z'), ``feature_names``, ``DESCR``; ``frame`` with as_frame.
    (X, y) : tuple of ndarray
        With ``return_X_y``: the data and the target.

    Examples
    --------
    >>> from gainprop.datasets import load_letters
    >>> X, y = load_letters(260, random_state=0, return_X_y=True)
    >>> X.shape, sorted(set(y)) == list(range(26))
    ((260, 841), True)
    """
    if difficulty not in _DIFFICULTY:
        raise ValueError(f"difficulty must be one of {sorted(_DIFFICULTY)}, got {difficulty!r}")
    n_samples = int(n_samples)
    if n_samples < 1:
        raise ValueError(f"n_samples must be >= 1, got {n_samples}")
    if int(image_size) < 8:
        raise ValueError(f"image_size must be >= 8, got {image_size}")
    image_size = int(image_size)
    rs = check_random_state(random_state)
    counts = np.full(26, n_samples // 26)
    counts[: n_samples % 26] += 1
    d = _DIFFICULTY[difficulty]
    images = np.empty((n_samples, image_size, image_size), dtype=np.float64)
    target = np.empty(n_samples, dtype=np.int64)
    start = 0
    chunk = max(1, 400000 // (image_size * image_size))  # bounds the (n, P) temporaries
    for label, (letter, count) in enumerate(zip(LETTERS, counts)):
        for c0 in range(0, count, chunk):
            m = min(chunk, count - c0)
            images[start : start + m] = _render(letter, m, image_size, rs, d)
            target[start : start + m] = label
            start += m
    order = rs.permutation(n_samples)
    images = images[order].astype(dtype, copy=False)
    target = target[order]
    X = images.reshape(n_samples, -1)
    feature_names = [f"pixel_{r}_{c}" for r in range(image_size) for c in range(image_size)]
    if as_frame:
        import pandas as pd

        frame = pd.DataFrame(X, columns=feature_names)
        frame["target"] = target
        X, target = frame[feature_names], frame["target"]
        if return_X_y:
            return X, target
    elif return_X_y:
        return X, target
    bunch = Bunch(data=X, target=target, images=images, target_names=np.array(LETTERS),
                  feature_names=feature_names,
                  DESCR=f"{n_samples} generated {image_size}x{image_size} images of the letters "
                        f"A-Z ({difficulty} set), pixels in [0, 1]; see gainprop.datasets.")
    if as_frame:
        bunch.frame = frame
    return bunch


# ---------------------------------------------------------------------------
# CIFAR-10 (Ndauka & Zheng's experiment)
# ---------------------------------------------------------------------------
_CIFAR_TRAIN = [f"data_batch_{i}" for i in range(1, 6)]
_CIFAR_TEST = ["test_batch"]


def _read_cifar_batch(path):
    try:
        with open(path, "rb") as f:
            batch = pickle.load(f, encoding="bytes")
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, IndexError) as exc:
        raise ValueError(f"{path} is not a CIFAR-10 batch file: {exc}") from exc
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        raise ValueError(f"{path} is not a CIFAR-10 batch: expected a dict with b'data' and "
                         "b'labels'")
    data = np.asarray(batch[b"data"])
    labels = np.asarray(batch[b"labels"])
    if data.ndim != 2 or data.shape[1] != 3072 or data.dtype != np.uint8:
        raise ValueError(f"{path}: b'data' must be uint8 of shape (n, 3072), got "
                         f"{data.dtype} {data.shape}")
    if labels.shape != (data.shape[0],) or labels.size and not (
            labels.min() >= 0 and labels.max() <= 9):
        raise ValueError(f"{path}: b'labels' must be {data.shape[0]} integers in 0..9")
    return data, labels.astype(np.int64)


def load_cifar10(path, *, subset="train", n_samples=None, dtype=np.float32, return_X_y=False):
    """Read CIFAR-10 from the standard "python version" files you have.

    Download ``cifar-10-python.tar.gz`` from the CIFAR-10 page yourself and
    unpack it; gainprop never downloads.  ``path`` is the folder holding
    ``data_batch_1`` … ``data_batch_5``, ``test_batch`` and ``batches.meta``
    (``cifar-10-batches-py``), or the folder containing that one.

    Parameters
    ----------
    path : str or path-like
        The folder ``cifar-10-batches-py`` or the folder containing it.
    subset : {'train', 'test', 'all'}, default='train'
        The five training batches, the test batch, or all six.
    n_samples : int or None, default=None
        Keep the first n images (Ndauka & Zheng used 10,000 training images).
    dtype : dtype, default=np.float32
        A float type scales the pixels to [0, 1]; an integer type keeps the
        files' uint8 values.  Each row holds the 1024 red, then green, then
        blue values of a 32×32 image (the files' order).
    return_X_y : bool, default=False
        Return ``(X, y)`` instead of a Bunch.

    Returns
    -------
    data : Bunch
        ``data`` of shape (n, 3072), ``target`` of shape (n,),
        ``target_names`` (the ten class names) and ``DESCR``.
    (X, y) : tuple of ndarray
        With ``return_X_y``: the data and the target.
    """
    if subset not in ("train", "test", "all"):
        raise ValueError(f"subset must be 'train', 'test' or 'all', got {subset!r}")
    folder = os.fspath(path)
    if not os.path.isfile(os.path.join(folder, "batches.meta")):
        inner = os.path.join(folder, "cifar-10-batches-py")
        if os.path.isfile(os.path.join(inner, "batches.meta")):
            folder = inner
    names = {"train": _CIFAR_TRAIN, "test": _CIFAR_TEST, "all": _CIFAR_TRAIN + _CIFAR_TEST}[
        subset]
    missing = [n for n in names + ["batches.meta"] if not os.path.isfile(os.path.join(folder, n))]
    if missing:
        raise FileNotFoundError(
            f"CIFAR-10 files missing in {folder}: {', '.join(missing)}. Unpack the python "
            "version of CIFAR-10 (cifar-10-python.tar.gz) there."
        )
    with open(os.path.join(folder, "batches.meta"), "rb") as f:
        try:
            meta = pickle.load(f, encoding="bytes")
            target_names = [n.decode() if isinstance(n, bytes) else str(n)
                            for n in meta[b"label_names"]]
        except Exception as exc:
            raise ValueError(f"batches.meta in {folder} is not CIFAR-10 metadata: {exc}") from exc
    datas, labels = [], []
    total = 0
    for name in names:
        if n_samples is not None and total >= n_samples:
            break
        data, lab = _read_cifar_batch(os.path.join(folder, name))
        datas.append(data)
        labels.append(lab)
        total += len(lab)
    X = np.concatenate(datas)
    y = np.concatenate(labels)
    if n_samples is not None:
        X, y = X[: int(n_samples)], y[: int(n_samples)]
    X = X.astype(dtype) / dtype(255) if np.dtype(dtype).kind == "f" else X
    if return_X_y:
        return X, y
    return Bunch(data=X, target=y, target_names=np.array(target_names),
                 DESCR=f"CIFAR-10 {subset} images read from {folder}")


def make_cifar_like(n_samples=10000, *, n_classes=10, random_state=None, dtype=np.float32):
    """Make a stand-in of CIFAR-10's shape: 3072 features (32×32×3), 10 classes.

    For Ndauka & Zheng's mini-batch iRprop− experiment when no CIFAR-10
    files are at hand.  It is *not* CIFAR-10: each class is a smooth random
    colour pattern (a sum of a few random low-frequency waves per channel),
    and every image is its class pattern, randomly shifted in space and
    scaled in contrast, plus its own smooth variation and pixel noise.  It
    is learnable, not trivially, by the paper's 3072-2048-1024-512-10
    network.

    Parameters
    ----------
    n_samples : int, default=10000
        Number of images.
    n_classes : int, default=10
        Number of classes (patterns).
    random_state : int, RandomState instance or None, default=None
        Determines the patterns and the images.
    dtype : dtype, default=np.float32
        Data type of X.

    Returns
    -------
    X : ndarray of shape (n_samples, 3072)
        The images, values in [0, 1].
    y : ndarray of shape (n_samples,)
        The classes, 0 to ``n_classes - 1``, equally many of each.

    Examples
    --------
    >>> from gainprop.datasets import make_cifar_like
    >>> X, y = make_cifar_like(100, random_state=0)
    >>> X.shape, y.shape
    ((100, 3072), (100,))
    """
    rs = check_random_state(random_state)
    n_samples = int(n_samples)
    yy, xx = np.mgrid[0:32, 0:32] / 32.0

    def waves(k, amp):
        out = np.zeros((3, 32, 32))
        for c in range(3):
            for _ in range(k):
                fx, fy = rs.randint(1, 4, 2)
                phase = rs.uniform(0, 2 * np.pi)
                out[c] += amp * np.sin(2 * np.pi * (fx * xx + fy * yy) + phase)
        return out

    patterns = np.stack([waves(3, 0.18) for _ in range(n_classes)])
    y = np.arange(n_samples) % n_classes
    rs.shuffle(y)
    X = np.empty((n_samples, 3, 32, 32))
    shifts = rs.randint(-4, 5, (n_samples, 2))
    contrast = rs.uniform(0.6, 1.4, n_samples)
    for i in range(n_samples):
        img = np.roll(patterns[y[i]], tuple(shifts[i]), axis=(1, 2)) * contrast[i]
        X[i] = img
    # each image's own variation and noise
    X += 0.08 * rs.randn(n_samples, 3, 1, 1)
    X += 0.1 * rs.randn(*X.shape)
    X = np.clip(0.5 + X, 0.0, 1.0).reshape(n_samples, 3072).astype(dtype)
    return X, y
