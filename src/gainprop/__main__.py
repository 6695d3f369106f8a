"""Command line: ``python -m gainprop demo``.

The demo trains the same network with gainprop and with scikit-learn on
scikit-learn's built-in ``load_digits`` data and prints what it measured:
accuracy, final loss, time and the speed-up, for a few solvers.
"""

import argparse
import sys
import time
import warnings


def _fit_timed(est, X, y):
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        t0 = time.perf_counter()
        est.fit(X, y)
        return time.perf_counter() - t0


def demo(args):
    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier as SkMLP

    import gainprop
    from gainprop import MLPClassifier

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float64)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0,
                                                        stratify=y)
    print(f"gainprop {gainprop.__version__} demo: load_digits, {X_train.shape[0]} training and "
          f"{X_test.shape[0]} test images of {X.shape[1]} pixels, 10 classes")
    print(f"network 64-{args.hidden}-10 relu, {args.epochs} epochs, same random_state and initial "
          "weights for both libraries\n")
    settings = [
        ("adam, batch 200", dict(solver="adam", learning_rate_init=1e-3)),
        ("sgd+nesterov, batch 32", dict(solver="sgd", batch_size=32, learning_rate_init=0.05)),
        ("sgd, online (batch 1)", dict(solver="sgd", batch_size=1, momentum=0.9,
                                       learning_rate_init=0.005)),
        ("lbfgs", dict(solver="lbfgs")),
    ]
    header = (f"{'solver':24s} {'library':12s} {'train acc':>9s} {'test acc':>9s} "
              f"{'loss':>9s} {'time [s]':>9s} {'speed-up':>9s}")
    print(header)
    print("-" * len(header))
    for name, params in settings:
        common = dict(hidden_layer_sizes=(args.hidden,), max_iter=args.epochs, random_state=0,
                      tol=0.0, n_iter_no_change=args.epochs + 1, **params)
        times = {}
        for lib, cls in (("scikit-learn", SkMLP), ("gainprop", MLPClassifier)):
            est = cls(**common)
            times[lib] = _fit_timed(est, X_train, y_train)
            speedup = times["scikit-learn"] / times[lib] if lib == "gainprop" else None
            print(f"{name if lib == 'scikit-learn' else '':24s} {lib:12s} "
                  f"{est.score(X_train, y_train):9.4f} {est.score(X_test, y_test):9.4f} "
                  f"{est.loss_:9.5f} {times[lib]:9.3f} "
                  f"{(f'{speedup:8.1f}x') if speedup else '':>9s}")
        sys.stdout.flush()
    print("\nspeed-up = scikit-learn time / gainprop time, measured in this run.")
    return 0


def experiment(args):
    from .experiments import run_experiment

    run_experiment(args.name, quick=args.quick, out=args.out)
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m gainprop",
                                     description="gainprop command line")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("demo", help="train on load_digits beside scikit-learn and print results")
    p.add_argument("--epochs", type=int, default=30, help="epochs (iterations for lbfgs)")
    p.add_argument("--hidden", type=int, default=100, help="hidden units")
    p.set_defaults(func=demo)

    from .experiments import EXPERIMENTS

    p = sub.add_parser("experiment", help="run one of the seeds' experiments",
                       description="\n".join(f"{k}: {v[1]}" for k, v in EXPERIMENTS.items()),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", choices=sorted(EXPERIMENTS))
    p.add_argument("--quick", action="store_true", help="a small, fast version")
    p.add_argument("--out", default="gainprop-output",
                   help="directory for the figures (default: %(default)s)")
    p.set_defaults(func=experiment)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
