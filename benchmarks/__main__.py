"""``python -m benchmarks NAME [options]``: run one benchmark, print its markdown tables and, with ``--write-docs``,
put them in ``docs/benchmarks.md`` as that benchmark's latest figures. ``python -m benchmarks gpu-check --help``
for the GPU check."""

from __future__ import annotations

import argparse
import shlex
import sys

import torch

from vae_helpers.config import get_device

from . import course, gpu_check, grading, iwae, jobs, loglik, steps, throughput
from .report import DOCS, captured_stdout, write_section

BENCHMARKS = {
    "throughput": throughput,
    "loglik": loglik,
    "steps": steps,
    "iwae": iwae,
    "course": course,
    "jobs": jobs,
    "grading": grading,
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="\n\n".join(m.__doc__.strip() for m in BENCHMARKS.values()) + "\n\ngpu-check: " + gpu_check.SUMMARY,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("throughput", help="reference loop vs vae_helpers")
    t.add_argument("--epochs", type=int, default=10)
    t.add_argument("--repeats", type=int, default=1)
    t.add_argument("--fast", action="store_true", help="1 epoch on 5,000 images, no profile")
    t.add_argument("--no-bf16", action="store_true", help="skip the bf16-autocast row")
    l_ = sub.add_parser("loglik", help="IWAE log-likelihood on binarized MNIST")
    l_.add_argument("--epochs", type=int, default=100)
    l_.add_argument("--k", type=int, default=5000)
    l_.add_argument("--n-test", type=int, default=None)
    l_.add_argument("--models", default="mlp,conv")
    l_.add_argument("--fast", action="store_true", help="1 epoch on 2,000 images, k=50 on 200 test images")
    st = sub.add_parser(
        "steps", help="training-step options (eager, bf16, channels_last, torch.compile) vs the matmul limit"
    )
    st.add_argument("--models", default="mlp,conv")
    st.add_argument("--steps", type=int, default=20)
    st.add_argument("--repeats", type=int, default=3)
    st.add_argument("--no-compile", action="store_true", help="skip the torch.compile row")
    st.add_argument("--fast", action="store_true", help="3 steps x 1 repeat, no compile")
    iw = sub.add_parser("iwae", help="IWAE evaluation speed vs the decoder's matmul limit")
    iw.add_argument("--n-images", type=int, default=20)
    iw.add_argument("--k", type=int, default=5000)
    iw.add_argument("--epochs", type=int, default=2)
    iw.add_argument("--repeats", type=int, default=2)
    iw.add_argument("--no-direct", action="store_true", help="skip the direct (textbook) computation")
    iw.add_argument("--fast", action="store_true", help="2 images, k=200, 1 epoch on 2,000 images")
    co = sub.add_parser("course", help="the retrain path's training (every model, every epoch) vs the matmul limit")
    co.add_argument("--fast", action="store_true", help="shorter timings of each product (0.02 s instead of 0.2 s)")
    jb = sub.add_parser("jobs", help="one training job on every core vs one one-thread job per core")
    jb.add_argument("--models", default="mlp,conv,ar")
    jb.add_argument("--images", type=int, default=54_000)
    jb.add_argument("--fast", action="store_true", help="the MLP only, on 1,000 images")
    gr = sub.add_parser("grading", help="nbgrader autograde of one submission per exercise notebook, timed")
    gr.add_argument("names", nargs="*", help="only notebooks whose file name contains one of these")
    gr.add_argument("--fast", action="store_true", help="fast mode (VAE_FAST=1) instead of full size")
    for p in (t, l_, st, iw, co):
        p.add_argument("--device", default=None, help="cuda, mps or cpu (default: the best one present)")
    for p in (t, l_, st, iw, co, jb, gr):
        p.add_argument(
            "--write-docs",
            action="store_true",
            help=f"replace this benchmark's section of {DOCS.relative_to(DOCS.parent.parent)} with the tables printed",
        )
    sub.add_parser("gpu-check", help="the GPU check (benchmarks/gpu_check.py): pass its options after the name")
    return parser


def run(args: argparse.Namespace) -> None:
    """Run the benchmark ``args.command`` with its options (printing its tables)."""
    if args.command == "grading":
        grading.grading_times(args.names, fast=args.fast)
        return
    if args.command == "jobs":  # CPU processes side by side
        if args.fast:
            jobs.jobs_side_by_side(("mlp",), images=1000, min_run_time=0.02)
        else:
            jobs.jobs_side_by_side(tuple(args.models.split(",")), args.images)
        return
    device: torch.device = get_device(args.device)
    if args.command == "course":
        course.course_training(device, min_run_time=0.02 if args.fast else 0.2)
    elif args.command == "throughput":
        if args.fast:
            throughput.throughput(1, 1, 5000, device, profile_steps=0, bf16=not args.no_bf16)
        else:
            throughput.throughput(args.epochs, args.repeats, device=device, bf16=not args.no_bf16)
    elif args.command == "steps":
        models = tuple(args.models.split(","))
        if args.fast:
            steps.step_options(models, steps=3, repeats=1, compile_=False, device=device)
        else:
            steps.step_options(models, args.steps, args.repeats, not args.no_compile, device)
    elif args.command == "iwae":
        if args.fast:
            iwae.iwae_speed(n_images=2, k=200, epochs=1, repeats=1, device=device, train_limit=2000)
        else:
            iwae.iwae_speed(args.n_images, args.k, args.epochs, args.repeats, direct=not args.no_direct, device=device)
    else:
        models = tuple(args.models.split(","))
        if args.fast:
            loglik.loglik(epochs=1, k=50, n_test=200, device=device, models=models, train_limit=2000)
        else:
            loglik.loglik(epochs=args.epochs, k=args.k, n_test=args.n_test, device=device, models=models)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["gpu-check"]:
        return gpu_check.main(argv[1:])
    args = build_parser().parse_args(argv)
    with captured_stdout() as out:
        run(args)
    if args.write_docs:
        command = "python -m benchmarks " + shlex.join(a for a in argv if a != "--write-docs")
        path = write_section(args.command, f"Command: `{command}`\n{out.copy.getvalue()}")
        print(f"\nwrote the {args.command!r} section of {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
