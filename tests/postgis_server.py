"""A throwaway PostgreSQL 15 + PostGIS server for the test suite.

initdb and pg_ctl refuse to run as root, and CI runs as root, so the server runs as
the ``postgres`` user (``runuser``) from the Debian binaries in
/usr/lib/postgresql/15/bin, in a temporary directory owned by that user, listening
on loopback only.  Set ``SIJI_TEST_DATABASE_URL`` to use an existing server instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from benchmarks.http import free_port

PG_BIN = Path(os.environ.get("SIJI_PG_BIN", "/usr/lib/postgresql/15/bin"))


class ThrowawayPostgres:
    """Start with :meth:`start`, get :attr:`url`, stop with :meth:`stop`."""

    def __init__(self) -> None:
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="siji-pg-"))
        self.data = self.root / "data"
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/siji_test"

    def _as_postgres(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = list(args)
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, check=True, capture_output=True, text=True, cwd="/")

    def start(self) -> ThrowawayPostgres:
        if not (PG_BIN / "initdb").exists():
            raise RuntimeError(f"PostgreSQL binaries not found in {PG_BIN}; run scripts/system-deps.sh")
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self._as_postgres(str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust")
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=on"
        log = str(self.root / "log")
        self._as_postgres(
            str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", log, "-w", "start"
        )
        self._psql("postgres", "CREATE DATABASE siji_test")
        self._psql("siji_test", "CREATE EXTENSION postgis")
        return self

    def _psql(self, database: str, sql: str) -> None:
        host = ("-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", database)
        self._as_postgres(str(PG_BIN / "psql"), *host, "-v", "ON_ERROR_STOP=1", "-c", sql)

    def stop(self) -> None:
        try:
            self._as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


if __name__ == "__main__":  # manual use: python -m tests.postgis_server
    server = ThrowawayPostgres().start()
    print(server.url, flush=True)
