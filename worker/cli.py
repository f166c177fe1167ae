"""The `srec` command: `up` (embedded stack), `worker`, `api`, `record`, `probe`,
`flv`, `streamers`.

Each subcommand registers a handler (`set_defaults(handler=...)`) that takes the
parsed arguments and returns the exit code. Subcommands that live in their own
module expose `add_parser(subparsers)` and are listed in `SUBCOMMAND_MODULES`; they
import their heavy dependencies inside the handler, so `srec --help`, `srec flv`,
`srec record` and `srec streamers` never load Temporal, the database or the API.

The global options (`--data-dir`, `--log-level`) are accepted before and after the
subcommand, as people type them: `srec up --data-dir X` is `srec --data-dir X up`.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from worker import flv_cli, probe_cli, record_cli, streamers_cli
from worker.queues import ALL_QUEUES, parse_queues

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

log = logging.getLogger("srec")

# modules that add their own subcommand: `module.add_parser(subparsers)`
SUBCOMMAND_MODULES = (record_cli, probe_cli, flv_cli, streamers_cli)


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
DATABASES = ("sqlite", "postgres")


def _log_level(text: str) -> str:
    level = text.strip().upper()
    if level not in LOG_LEVELS:
        raise argparse.ArgumentTypeError(
            f"not a log level: {text!r} (one of {', '.join(LOG_LEVELS)})"
        )
    return level


def _add_global_options(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """`--data-dir` and `--log-level` on `parser`.

    A subcommand's copies default to SUPPRESS: not given there, they leave the
    value parsed before the subcommand (or the default) alone.
    """
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None if top else argparse.SUPPRESS,
        help="app DB, Temporal DB and recordings (env SREC_DATA_DIR, default ./data)",
    )
    parser.add_argument(
        "--log-level",
        type=_log_level,
        default=os.environ.get("SREC_LOG_LEVEL", "INFO") if top else argparse.SUPPRESS,
        metavar="LEVEL",
        help=f"{', '.join(LOG_LEVELS)} (env SREC_LOG_LEVEL, default INFO)",
    )


def _queues(text: str) -> str:
    try:
        return ",".join(parse_queues(text))
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"not a positive whole number: {text!r}")
    return value


def _subcommands(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    """Every subcommand's parser below `parser`, nested ones (`flv fix`) too."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield sub
                yield from _subcommands(sub)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="srec", description="Automated live-stream recorder on Temporal."
    )
    _add_global_options(parser, top=True)
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="run Temporal dev server + worker + API")
    up.add_argument("--host", default="127.0.0.1")
    up.add_argument("--api-port", type=int, default=8080)
    up.add_argument("--temporal-port", type=int, default=7233)
    up.add_argument("--ui-port", type=int, default=8233)
    up.add_argument(
        "--database",
        choices=DATABASES,
        default=None,
        help="the app DB: sqlite (default), or postgres: an embedded PostgreSQL "
        "server in the data dir unless SREC_DATABASE_URL names one",
    )
    up.add_argument(
        "--postgres-port",
        type=int,
        default=5433,
        help="the embedded PostgreSQL's port on 127.0.0.1 (default 5433)",
    )
    up.set_defaults(handler=_up)

    worker = sub.add_parser("worker", help="run a worker against SREC_TEMPORAL_ADDRESS")
    worker.add_argument(
        "--queues",
        type=_queues,
        default=None,
        help=f"task queues to serve, comma-separated (SREC_QUEUES, default "
        f"{ALL_QUEUES})",
    )
    worker.add_argument(
        "--io-slots",
        type=_positive,
        default=None,
        metavar="N",
        help="activities at once on srec-io (SREC_IO_SLOTS, default: recording "
        "slots + waiters + store threads)",
    )
    worker.add_argument(
        "--cpu-slots",
        type=_positive,
        default=None,
        metavar="N",
        help="activities at once on srec-cpu (SREC_CPU_SLOTS, default: cores)",
    )
    worker.add_argument(
        "--metrics-port",
        type=_positive,
        default=None,
        metavar="PORT",
        help="serve GET /metrics here: Temporal SDK and srec series "
        "(SREC_METRICS_PORT; SREC_METRICS_HOST picks the interface, default "
        "127.0.0.1)",
    )
    worker.set_defaults(handler=_worker)

    api = sub.add_parser("api", help="run the API server")
    api.add_argument("--host", default=None, help="bind address (SREC_API_HOST)")
    api.add_argument("--api-port", type=int, default=None, help="port (SREC_API_PORT)")
    api.set_defaults(handler=_api)

    for module in SUBCOMMAND_MODULES:
        module.add_parser(sub)
    for subcommand in _subcommands(parser):
        _add_global_options(subcommand, top=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the chosen part of srec."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )
    # per-request and per-migration chatter drowns what a user needs to see
    for noisy in ("httpx", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if args.data_dir is not None:
        os.environ["SREC_DATA_DIR"] = str(args.data_dir)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except ValidationError as err:
        log.error("invalid settings:\n%s", err)
        return 2


def _up(args: argparse.Namespace) -> int:
    from activities.db import default_database_url
    from worker.settings import WorkerSettings
    from worker.supervisor import UpOptions, up

    settings = WorkerSettings()
    url = settings.database_url
    given = url != default_database_url(settings.data_dir)
    if given:
        # SREC_DATABASE_URL names the database; --database may only agree with it
        kind = "postgres" if url.startswith("postgresql") else "sqlite"
        if args.database not in (None, kind):
            log.error(
                "srec up: --database %s, but SREC_DATABASE_URL names a %s database",
                args.database,
                kind,
            )
            return 2
    return up(
        UpOptions(
            data_dir=settings.data_dir,
            database_url=url,
            embedded_postgres=not given and args.database == "postgres",
            host=args.host,
            api_port=args.api_port,
            temporal_port=args.temporal_port,
            ui_port=args.ui_port,
            postgres_port=args.postgres_port,
        )
    )


def _worker(args: argparse.Namespace) -> int:
    from activities.config.seed import ConfigSeedError
    from worker import main as worker_main
    from worker.settings import WorkerSettings

    overrides = {
        name: value
        for name in ("queues", "io_slots", "cpu_slots", "metrics_port")
        if (value := getattr(args, name)) is not None
    }
    try:
        worker_main.main(WorkerSettings(**overrides))
    except ConfigSeedError as err:
        log.error("%s", err)
        return 2
    return 0


def _api(args: argparse.Namespace) -> int:
    from api.main import run
    from api.settings import ApiSettings
    from worker.ports import Port, port_problems

    overrides: dict[str, object] = {}
    if args.host is not None:
        overrides["api_host"] = args.host
    if args.api_port is not None:
        overrides["api_port"] = args.api_port
    settings = ApiSettings(**overrides)  # type: ignore[arg-type]
    option = "--api-port (or SREC_API_PORT)"
    problems = port_problems(
        [Port(settings.api_host, settings.api_port, "API", option)]
    )
    for problem in problems:
        log.error("srec api: %s", problem)
    if problems:
        return 2
    run(settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
