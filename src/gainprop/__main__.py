"""Command line: ``python -m gainprop demo | digits | experiment NAME``.

``demo`` (the main job) trains seed 000's letter network with and without
local gains beside scikit-learn and prints what it measured; ``digits``
compares gainprop with scikit-learn on ``load_digits`` for several solvers;
``experiment`` runs one of the seeds' experiments.
"""

import argparse
import sys


def letters_demo(args):
    from sklearn.neural_network import MLPClassifier as SkMLP

    import gainprop
    from gainprop import MLPClassifier
    from gainprop.callbacks import ProgressBar
    from gainprop.datasets import load_letters
    from gainprop.experiments import _fit, _plot_curves, _print_table
    from gainprop.optimizers import LocalGain

    n_train, n_test, epochs = args.n_train, args.n_test, args.epochs
    X, y = load_letters(n_train + n_test, random_state=0, difficulty="hard", return_X_y=True)
    X_train, y_train, X_test, y_test = X[:n_train], y[:n_train], X[n_train:], y[n_train:]
    rate = 0.001 * n_train  # seed 000's rate for its summed error, here for the mean
    print(f"gainprop {gainprop.__version__} demo: seed 000's network (841-100-26, sigmoid "
          f"hidden units, softmax, cross-entropy, full batch) on {n_train} generated 29x29 "
          f"letter images (test: {n_test} more), {epochs} epochs, rate {rate:g}; the same "
          "initial weights for every run")
    common = dict(hidden_layer_sizes=(100,), activation="logistic", batch_size=n_train,
                  learning_rate_init=rate, alpha=0.0, max_iter=epochs, tol=0.0,
                  n_iter_no_change=epochs + 1, random_state=0)
    runs = [
        ("scikit-learn SGD", SkMLP(solver="sgd", momentum=0.0, **common)),
        ("gainprop SGD", MLPClassifier(solver="sgd", momentum=0.0, **common,
                                       callbacks=[ProgressBar()])),
        ("gainprop local gains", MLPClassifier(
            solver=LocalGain(bonus=0.005, penalty=0.995, gain_limits=(0.01, 100.0)), **common,
            callbacks=[ProgressBar()])),
    ]
    rows, curves, times = [], [], {}
    for name, est in runs:
        print(f"training: {name}", file=sys.stderr, flush=True)
        times[name] = _fit(est, X_train, y_train)
        rows.append((name, f"{est.score(X_train, y_train):.2%}", f"{est.score(X_test, y_test):.2%}",
                     f"{est.loss_:.4f}", f"{times[name]:.2f}"))
        curves.append((name, est.loss_curve_))
    print()
    _print_table(["run", "train acc", "test acc", "final loss", "time [s]"], rows)
    speedup = times["scikit-learn SGD"] / times["gainprop SGD"]
    same = abs(runs[0][1].loss_ - runs[1][1].loss_) <= 1e-6 * abs(runs[0][1].loss_)
    print(f"\ngainprop SGD {'follows' if same else 'does NOT follow'} scikit-learn's trajectory "
          f"(same weights, same rule), at {speedup:.1f}x its speed in this run (this workload "
          "is almost all matrix products; see bench/ for the speed comparisons). Final loss "
          f"with local gains: {runs[2][1].loss_:.4f}, without: {runs[1][1].loss_:.4f}.")
    figure = _plot_curves([("training loss", curves)], args.out, "demo_loss_curves.png",
                          "seed 000 letters: with and without local gains")
    print(f"figure: {figure}" if figure else "(install matplotlib for the figure: "
          "pip install 'gainprop[plot]')")
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
    if args.name == "seed002":
        if args.cifar:
            kwargs["cifar"] = args.cifar
        if args.max_epochs:
            kwargs["max_epochs"] = args.max_epochs
    elif args.cifar or args.max_epochs:
        raise SystemExit("--cifar and --max-epochs apply to seed002 only")
    run_experiment(args.name, quick=args.quick, out=args.out, **kwargs)
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m gainprop",
                                     description="gainprop command line")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("demo", help="seed 000's letters network with and without local gains, "
                                    "beside scikit-learn")
    p.add_argument("--epochs", type=int, default=300)
    p.add_argument("--n-train", type=int, default=1040, help="training images")
    p.add_argument("--n-test", type=int, default=1040, help="test images")
    p.add_argument("--out", default="gainprop-output",
                   help="directory for the figure (default: %(default)s)")
    p.set_defaults(func=letters_demo)
    p = sub.add_parser("digits", help="train on load_digits beside scikit-learn, four solvers")
    p.add_argument("--epochs", type=int, default=30, help="epochs (iterations for lbfgs)")
    p.add_argument("--hidden", type=int, default=100, help="hidden units")
    p.set_defaults(func=digits)

    from .experiments import EXPERIMENTS

    p = sub.add_parser("experiment", help="run one of the seeds' experiments",
                       description="\n".join(f"{k}: {v[1]}" for k, v in EXPERIMENTS.items()),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", choices=sorted(EXPERIMENTS))
    p.add_argument("--quick", action="store_true", help="a small, fast version")
    p.add_argument("--out", default="gainprop-output",
                   help="directory for the figures (default: %(default)s)")
    p.add_argument("--cifar", metavar="PATH", default=None,
                   help="seed002: folder with the CIFAR-10 python batches")
    p.add_argument("--max-epochs", type=int, default=None,
                   help="seed002: epochs at most per run (default 30)")
    p.set_defaults(func=experiment)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
