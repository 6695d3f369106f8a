"""Does training release the GIL?  Fits in two Python threads (n_threads=1 each)
against the same fits one after the other: throughput ratio (issue 8 asks
> 1.5x on 2 cores).

    python bench/gil_release.py
"""

import time
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from gainprop import MLPClassifier


def main():
    warnings.simplefilter("ignore")
    rng = np.random.RandomState(0)
    X = rng.rand(4000, 200).astype(np.float32)
    y = rng.randint(0, 10, 4000)

    def fit(seed):
        MLPClassifier(hidden_layer_sizes=(256,), max_iter=5, random_state=seed,
                      n_threads=1, tol=0, n_iter_no_change=10**6).fit(X, y)

    fit(0)
    t0 = time.perf_counter()
    for s in range(4):
        fit(s)
    sequential = time.perf_counter() - t0
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(fit, range(4)))
    threaded = time.perf_counter() - t0
    print(f"4 fits sequential: {sequential:.2f} s; in 2 Python threads: {threaded:.2f} s; "
          f"throughput ratio {sequential / threaded:.2f}x")


if __name__ == "__main__":
    main()
