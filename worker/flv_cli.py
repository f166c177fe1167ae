"""`srec flv fix IN.flv OUTDIR` and `srec flv analyze IN.flv`: offline FLV repair.

Wiring (in `worker/cli.py`)::

    flv_cli.add_parser(sub)                # beside the other sub-commands
    if args.command == "flv":
        return flv_cli.run(args)

Until then `python -m worker.flv_cli fix|analyze …` runs it on its own. Exit codes:
0 done, 2 bad input (missing file, not an FLV), 1 an output could not be written;
either error prints one line on stderr.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from typing import TextIO

    from activities.engines.flv.fix import FlvFixReport

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2


def add_parser(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add `flv fix` and `flv analyze` to the `srec` sub-commands.

    Args:
        subparsers: the object `ArgumentParser.add_subparsers` returned.
    """
    flv = subparsers.add_parser("flv", help="repair or check FLV recordings offline")
    sub = flv.add_subparsers(dest="flv_command", required=True)
    fix = sub.add_parser(
        "fix", help="repair an FLV file into OUTDIR (split where it must be)"
    )
    fix.add_argument("input", type=Path, metavar="IN.flv")
    fix.add_argument("outdir", type=Path, metavar="OUTDIR")
    fix.add_argument("--json", action="store_true", help="print a JSON report")
    analyze = sub.add_parser("analyze", help="report an FLV file's problems")
    analyze.add_argument("input", type=Path, metavar="IN.flv")
    analyze.add_argument("--json", action="store_true", help="print a JSON report")
    flv.set_defaults(handler=run)


def run(
    args: argparse.Namespace,
    *,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Run `srec flv fix|analyze` as parsed by `add_parser`.

    Args:
        args: the parsed command line.
        stdout: where the report goes (default `sys.stdout`).
        stderr: where errors go (default `sys.stderr`).

    Returns:
        The process exit code.
    """
    # imported here so `srec --help` and `srec record` do not load the FLV engine
    from activities.engines.flv.fix import FlvInputError, analyze_flv, fix_flv

    out = stdout or sys.stdout
    err = stderr or sys.stderr
    source: Path = args.input
    if not source.is_file():
        err.write(f"srec flv: no such file: {source}\n")
        return EXIT_BAD_INPUT
    try:
        if args.flv_command == "fix":
            report = fix_flv(source, args.outdir)
        else:
            report = analyze_flv(source)
    except FlvInputError as error:
        err.write(f"srec flv: {error}\n")
        return EXIT_BAD_INPUT
    except OSError as error:
        # the input was fine; writing (or reading on) failed
        err.write(f"srec flv: {error}\n")
        return EXIT_FAILED
    if args.json:
        out.write(report.model_dump_json() + "\n")
    else:
        out.write(_text(report, written=args.flv_command == "fix"))
    return EXIT_OK


def _text(report: FlvFixReport, *, written: bool) -> str:
    verb = "wrote" if written else "would write"
    lines = [f"{verb} {len(report.outputs)} file(s):"]
    lines += [
        f"  {o.path}  {o.tags} tags  {o.duration_ms / 1000:.3f} s"
        for o in report.outputs
    ]
    if report.fixes:
        lines.append("repairs:")
        lines += [f"  {f.type.value}: {f.count}" for f in report.fixes]
    else:
        lines.append("no problems found")
    return "\n".join(lines) + "\n"
