"""Command line, thin over the library: ``python -m sklearn_genre COMMAND``."""

from __future__ import annotations

import argparse
import sys

__all__ = ["main"]


def _demo(args) -> int:
    from .demo import run_demo

    run_demo(out_dir=args.out, n_per_class=args.n_per_class, data_home=args.data_home,
             n_jobs=args.n_jobs, random_state=args.random_state)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the command line."""
    parser = argparse.ArgumentParser(
        prog="python -m sklearn_genre",
        description="Music genre classification from mel-spectrograms.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="render the score corpus, tune, evaluate, save a model")
    demo.add_argument("--out", default="demo_output", help="output folder (default: %(default)s)")
    demo.add_argument("--n-per-class", type=int, default=60, help="clips per class")
    demo.add_argument("--data-home", default=None, help="corpus cache folder")
    demo.add_argument("--n-jobs", type=int, default=-1, help="parallel jobs (default: all cores)")
    demo.add_argument("--random-state", type=int, default=0)
    demo.set_defaults(func=_demo)
    return parser


def main(argv=None) -> int:
    """Run the command line; return the exit code."""
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
