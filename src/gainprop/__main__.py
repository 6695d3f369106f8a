"""Command line: ``python -m gainprop demo | digits | experiment NAME``.

``demo`` (the main job) shows in a few seconds what gainprop is for: the same
model as scikit-learn's, trained faster, and per-weight local gains against
plain gradient descent; ``digits`` compares gainprop with scikit-learn on
``load_digits`` for several solvers; ``experiment`` reproduces one of the
published experiments (:data:`gainprop.experiments.EXPERIMENTS`).  Every
subcommand takes ``--quick`` (a small, fast version); ``--version`` prints
gainprop's version.
"""

import argparse
import sys


def demo(args):
    from .experiments import demo as run_demo

    run_demo(quick=args.quick, out=args.out)
    return 0


def digits(args):
    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier as SkMLP

    import gainprop
    from gainprop import MLPClassifier
    from gainprop.experiments import _fit

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float64)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0,
                                                        stratify=y)
    print(f"gainprop {gainprop.__version__} beside scikit-learn: load_digits, "
          f"{X_train.shape[0]} training and {X_test.shape[0]} test images of {X.shape[1]} "
          "pixels, 10 classes")
    epochs = 3 if args.quick else args.epochs
    print(f"network 64-{args.hidden}-10 relu, {epochs} epochs, same random_state and initial "
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
        common = dict(hidden_layer_sizes=(args.hidden,), max_iter=epochs, random_state=0,
                      tol=0.0, n_iter_no_change=epochs + 1, **params)
        times = {}
        for lib, cls in (("scikit-learn", SkMLP), ("gainprop", MLPClassifier)):
            est = cls(**common)
            times[lib] = _fit(est, X_train, y_train)
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

    kwargs = {}
    if args.name == "minibatch-rprop":
        if args.cifar:
            kwargs["cifar"] = args.cifar
        if args.max_epochs:
            kwargs["max_epochs"] = args.max_epochs
    elif args.cifar or args.max_epochs:
        raise SystemExit("--cifar and --max-epochs apply to minibatch-rprop only")
    run_experiment(args.name, quick=args.quick, out=args.out, **kwargs)
    return 0


def main(argv=None):
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``).

    Parameters
    ----------
    argv : list of str, default=None
        The arguments after ``python -m gainprop``.

    Returns
    -------
    int
        The exit status, 0 on success.
    """
    from . import __version__
    from .experiments import EXPERIMENTS

    parser = argparse.ArgumentParser(prog="python -m gainprop",
                                     description="gainprop command line")
    parser.add_argument("--version", action="version", version=f"gainprop {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("demo", help="what gainprop is for, in a few seconds: scikit-learn's "
                                    "model trained faster, and local gains against plain "
                                    "gradient descent")
    p.add_argument("--quick", action="store_true", help="a smaller, faster version")
    p.add_argument("--out", default="gainprop-output",
                   help="directory for the figure (default: %(default)s)")
    p.set_defaults(func=demo)
    p = sub.add_parser("digits", help="train on load_digits beside scikit-learn, four solvers")
    p.add_argument("--quick", action="store_true", help="3 epochs")
    p.add_argument("--epochs", type=int, default=30, help="epochs (iterations for lbfgs)")
    p.add_argument("--hidden", type=int, default=100, help="hidden units")
    p.set_defaults(func=digits)
    p = sub.add_parser("experiment", help="reproduce one of the published experiments",
                       description="\n".join(f"{k}: {v[1]}" for k, v in EXPERIMENTS.items()),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", choices=sorted(EXPERIMENTS))
    p.add_argument("--quick", action="store_true", help="a small, fast version")
    p.add_argument("--out", default="gainprop-output",
                   help="directory for the figures (default: %(default)s)")
    p.add_argument("--cifar", metavar="PATH", default=None,
                   help="minibatch-rprop: folder with the CIFAR-10 python batches")
    p.add_argument("--max-epochs", type=int, default=None,
                   help="minibatch-rprop: epochs at most per run (default 30)")
    p.set_defaults(func=experiment)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
