"""`srec streamers list|add|pause|resume|check|clear-error|rm`: the command-line door.

It talks to a running API (`srec up` or `srec api`) over HTTP, so every command
ends in the same workflow messages as the API's own routes. The API is
`--api`/`SREC_API_URL` (default http://127.0.0.1:8080). A call logs in once as
`--user` (default admin) with the password in `SREC_ADMIN_PASSWORD` or the data
directory's `admin-password` file (the one `srec up` writes on first start), and
logs out at its end; `--token`/`SREC_API_TOKEN` uses an access token instead.

A streamer is named by its id or its exact name. Exit codes: 0 done, 1 the API
refused (401, 404, 409, …) or could not be reached, or there was nothing to do (a
`clear-error` of a streamer in no error), 2 bad options, no credentials, or a
request the API calls malformed (400, 422: a URL no platform handles). The API's
side is `worker.streamers_api`; only httpx is imported: the command never loads
Temporal or the database.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import urlsplit

from worker.streamers_api import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    MAX_ID,
    Api,
    CliError,
)

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("srec.streamers")

DEFAULT_API = "http://127.0.0.1:8080"
HTTP_TIMEOUT_SECS = 30.0


def add_parser(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Register `srec streamers` on the `srec` command line."""
    p = subparsers.add_parser(
        "streamers",
        help="list, add, pause, resume, check, clear errors of or remove streamers "
        "(via the API)",
        description="Control streamers through a running srec API. Exit 0 when "
        "done, 1 when the API refused or is unreachable, 2 on bad options.",
    )
    _connection_options(p, top=True)
    sub = p.add_subparsers(dest="streamers_command", required=True, metavar="ACTION")
    ls = sub.add_parser("list", help="id, name, platform, state and last error")
    ls.add_argument("--json", action="store_true", help="one JSON array on stdout")
    add = sub.add_parser("add", help="add a streamer by URL and start watching it")
    add.add_argument("url", help="channel or stream URL")
    add.add_argument("--name", help="display name and folder (default: from the URL)")
    add.add_argument("--template-id", type=_id, help="configuration template to use")
    for action, text in (
        ("pause", "stop checking (a recording finishes) until resumed"),
        ("resume", "resume checking a paused streamer"),
        ("check", "check whether it is live now"),
        (
            "clear-error",
            "forget its errors (backoff, a fatal or not-found answer) and check it",
        ),
    ):
        sub.add_parser(action, help=text).add_argument("streamer", help="id or name")
    rm = sub.add_parser("rm", help="remove a streamer (its recordings stay)")
    rm.add_argument("streamer", help="id or name")
    rm.add_argument(
        "--delete-files", action="store_true", help="also delete its recorded files"
    )
    rm.add_argument("-y", "--yes", action="store_true", help="do not ask to confirm")
    for leaf in sub.choices.values():
        _connection_options(leaf, top=False)
    p.set_defaults(handler=_handle)


def _connection_options(p: argparse.ArgumentParser, *, top: bool) -> None:
    """`--api`, `--user`, `--token` before or after the action (`srec streamers
    list --api X` is `srec streamers --api X list`)."""
    keep = argparse.SUPPRESS
    p.add_argument(
        "--api",
        default=os.environ.get("SREC_API_URL", DEFAULT_API) if top else keep,
        metavar="URL",
        help=f"the API's base URL (env SREC_API_URL, default {DEFAULT_API})",
    )
    p.add_argument(
        "--user",
        default="admin" if top else keep,
        help="log in as (default admin; password from SREC_ADMIN_PASSWORD or "
        "<data dir>/admin-password)",
    )
    p.add_argument(
        "--token",
        default=os.environ.get("SREC_API_TOKEN") if top else keep,
        help="an access token instead of logging in (env SREC_API_TOKEN)",
    )


def _id(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= MAX_ID:
        raise argparse.ArgumentTypeError(f"not an id: {text!r} (1 to 2^63-1)")
    return int(text)


def _handle(args: argparse.Namespace) -> int:
    import httpx

    with httpx.Client(base_url=args.api.rstrip("/"), timeout=HTTP_TIMEOUT_SECS) as http:
        return run(args, http, sys.stdout)


def run(
    args: argparse.Namespace,
    http: httpx.Client,
    out: TextIO,
    confirm: Callable[[str], bool] | None = None,
) -> int:
    """Run one `srec streamers` action with `http` (whose base URL is the API's).

    Args:
        args: the parsed command line.
        http: the client to talk to the API with.
        out: where results go (errors are logged).
        confirm: asks a yes/no question (default: the terminal, if there is one).

    Returns:
        The exit code.
    """
    api = Api(http, args, api_url=str(http.base_url))
    try:
        action = ACTIONS[args.streamers_command]
        return action(api, args, out, confirm or _ask)
    except CliError as err:
        log.error("%s", err)
        return err.code
    finally:
        api.logout()


# --- actions ------------------------------------------------------------------------

Action = Callable[[Api, argparse.Namespace, TextIO, Callable[[str], bool]], int]


def _ask(question: str) -> bool:
    if not sys.stdin.isatty():
        raise CliError(f"{question} (no terminal to ask: pass --yes)", EXIT_USAGE)
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


def _who(streamer: dict[str, Any]) -> str:
    return f"streamer {streamer['id']} ({streamer['name']})"


def _list(api: Api, args: argparse.Namespace, out: TextIO, _c: Any) -> int:
    rows = api.streamers()
    if args.json:
        keys = (
            "id",
            "name",
            "platform",
            "url",
            "state",
            "enabled",
            "template_id",
            "last_error",
        )
        json.dump([{k: s.get(k) for k in keys} for s in rows], out, ensure_ascii=False)
        out.write("\n")
        return EXIT_OK
    table = [("ID", "NAME", "PLATFORM", "STATE", "LAST ERROR")] + [
        (str(s["id"]), s["name"], s["platform"], s["state"], s.get("last_error") or "")
        for s in rows
    ]
    widths = [max(len(r[i]) for r in table) for i in range(4)]
    for row in table:
        cells = [c.ljust(w) for c, w in zip(row, widths, strict=False)]
        out.write("  ".join([*cells, row[4]]).rstrip() + "\n")
    return EXIT_OK


def _default_name(url: str) -> str:
    parts = urlsplit(url)
    segments = [s for s in parts.path.split("/") if s]
    return segments[-1] if segments else parts.hostname or url


def _add(api: Api, args: argparse.Namespace, out: TextIO, _c: Any) -> int:
    body: dict[str, Any] = {
        "url": args.url,
        "name": args.name or _default_name(args.url),
    }
    if args.template_id is not None:
        body["template_id"] = args.template_id
    created = api.call("POST", "/api/streamers", json=body).json()
    out.write(f"added {_who(created)}: {created['platform']}, {created['url']}\n")
    return EXIT_OK


def _control(name: str) -> Action:
    def control(api: Api, args: argparse.Namespace, out: TextIO, _c: Any) -> int:
        streamer = api.streamer(args.streamer)
        api.call("POST", f"/api/streamers/{streamer['id']}/{name}")
        out.write(f"{_who(streamer)}: {name} requested\n")
        return EXIT_OK

    return control


# the states `clear-error` ends (the workflow's error states); with a `last_error`
# in another state (errors below the backoff threshold) there is a count to reset
ERROR_STATES = ("TEMPORAL_DISABLED", "FATAL_ERROR", "NOT_FOUND")


def _clear_error(api: Api, args: argparse.Namespace, out: TextIO, _c: Any) -> int:
    streamer = api.streamer(args.streamer)
    state, error = streamer["state"], streamer.get("last_error")
    if state not in ERROR_STATES and not error:
        raise CliError(f"{_who(streamer)} is not in error ({state}): nothing to clear")
    api.call("POST", f"/api/streamers/{streamer['id']}/clear-error")
    why = streamer.get("state_reason") or error
    was = f"{state}: {why}" if why else state
    out.write(f"{_who(streamer)}: clear-error requested (was {was})\n")
    return EXIT_OK


def _rm(
    api: Api, args: argparse.Namespace, out: TextIO, confirm: Callable[[str], bool]
) -> int:
    streamer = api.streamer(args.streamer)
    what = "and delete its recorded files" if args.delete_files else "(files stay)"
    if not args.yes and not confirm(f"Remove {_who(streamer)} {what}?"):
        out.write("nothing removed\n")
        return EXIT_FAILED
    params = {"delete_files": "true"} if args.delete_files else {}
    api.call("DELETE", f"/api/streamers/{streamer['id']}", params=params)
    out.write(f"removed {_who(streamer)}\n")
    return EXIT_OK


ACTIONS: dict[str, Action] = {
    "list": _list,
    "add": _add,
    "pause": _control("pause"),
    "resume": _control("resume"),
    "check": _control("check"),
    "clear-error": _clear_error,
    "rm": _rm,
}
