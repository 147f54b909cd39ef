"""``python -m benchmarks`` (``make bench``): run the figures, print the table and write
``docs/benchmarks.md``.

    python -m benchmarks                 # everything, full sizes, writes docs/benchmarks.md
    python -m benchmarks --quick         # small sizes, a smoke run: no judgement, no file
    python -m benchmarks --only rebuild  # one figure (and what it needs); repeatable
    python -m benchmarks --profile var/profiles   # py-spy the services while measuring
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import shutil
import sys
import tempfile
import time
from pathlib import Path

from .figures import FIGURES, FULL, QUICK, Bench
from .machine import code_label, machine, versions
from .profiling import Profiler, summarize
from .report import markdown, notes, table, write

DEFAULT_OUTPUT = Path("docs/benchmarks.md")


def _log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="small sizes (seconds per figure); no pass/miss judgement")
    parser.add_argument("--only", action="append", choices=list(FIGURES), metavar="NAME",
                        help=f"run only this figure (repeatable): {', '.join(FIGURES)}")
    parser.add_argument("--output", type=Path, default=None,
                        help="where to write the markdown report (default: docs/benchmarks.md for "
                             "a full run of every figure, nowhere otherwise); '-' for nowhere")
    parser.add_argument("--profile", type=Path, default=None, metavar="DIR",
                        help="record py-spy profiles of the services into DIR (needs py-spy)")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="override one size (repeatable), e.g. --set big_stream=200000; "
                             f"names: {', '.join(f.name for f in dataclasses.fields(FULL))}")
    parser.add_argument("--label", default=None,
                        help="what code was measured, for the report (default: git HEAD and "
                             "whether the working tree has changes)")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="where the processes keep their data (default: a temp dir, "
                             "removed at the end)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    only = set(args.only or [])
    sizes = QUICK if args.quick else FULL
    for assignment in args.set:
        name, _, value = assignment.partition("=")
        kinds = {f.name: type(getattr(sizes, f.name)) for f in dataclasses.fields(sizes)}
        if name not in kinds:
            raise SystemExit(f"--set: unknown size {name!r}")
        sizes = dataclasses.replace(sizes, **{name: kinds[name](value)})
    output: Path | None = args.output
    if output is None and not args.quick and not only:
        output = DEFAULT_OUTPUT
    if output is not None and str(output) == "-":
        output = None
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="cungdan-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    profiler = Profiler(args.profile)
    command = "python -m benchmarks" + "".join(
        f" {a}" for a in (argv if argv is not None else sys.argv[1:]))
    started = time.perf_counter()
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    bench = Bench(sizes=sizes, quick=args.quick, only=only, workdir=workdir,
                  profiler=profiler, log=_log)
    try:
        rows = asyncio.run(bench.run())
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    seconds = time.perf_counter() - started
    print(table(rows, bench.info))
    print()
    print(notes(rows, bench.info))
    for path in profiler.outputs:
        print()
        print(summarize(path))
    if output is not None:
        write(output, markdown(rows=rows, info=bench.info, machine=machine(),
                               versions=versions(), command=command, when=when,
                               quick=args.quick, seconds=seconds,
                               code=args.label or code_label(), warnings=bench.warnings))
        _log(f"wrote {output}")
    _log(f"done in {seconds / 60:.1f} min")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
