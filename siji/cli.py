"""The ``siji`` command line.

The command groups (``siji boundaries``, ``maps`` ...) are imported when one is used or
listed (:class:`LazyGroups`): their modules import geopandas, pydantic models and
SQLAlchemy, 0.3-0.6 s that ``siji lookup-batch`` or ``siji serve`` would pay for
nothing.
"""

from __future__ import annotations

import importlib
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup
from typer.models import TyperInfo

from siji.console import domain_errors, fail, print_json, show_tracebacks

GROUPS: dict[str, tuple[str, str]] = {
    "boundaries": ("siji.boundaries_cli", "app"),
    "staff": ("siji.routing_cli", "staff_app"),
    "routing": ("siji.routing_cli", "routing_app"),
    "maps": ("siji.maps_cli", "maps_app"),
    "parks": ("siji.parks_cli", "parks_app"),
    "webhooks": ("siji.webhooks_cli", "webhooks_app"),
}
"""Command group name: (module, its ``typer.Typer``)."""


class LazyGroups(TyperGroup):
    """The ``siji`` group: its own commands, and the :data:`GROUPS` made into click
    groups by typer when first asked for (as ``add_typer`` would have at start)."""

    def list_commands(self, ctx: Any) -> list[str]:
        return [*super().list_commands(ctx), *(name for name in GROUPS if name not in self.commands)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        found = super().get_command(ctx, cmd_name)
        if found is None and cmd_name in GROUPS:
            module, attribute = GROUPS[cmd_name]
            group = getattr(importlib.import_module(module), attribute)
            found = self.commands[cmd_name] = typer.main.get_group_from_info(
                TyperInfo(group, name=cmd_name),
                pretty_exceptions_short=app.pretty_exceptions_short,
                rich_markup_mode=app.rich_markup_mode,
                suggest_commands=app.suggest_commands,
            )
        elif found is None:
            # No such command: typer suggests a close name from self.commands, which
            # holds a group once it is loaded, so load them all (on this error only).
            for name in GROUPS:
                self.get_command(ctx, name)
        return found


app = typer.Typer(
    cls=LazyGroups,
    help="siji (四级): which city, district, subdistrict and community own a point.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def _options(
    traceback: Annotated[
        bool,
        typer.Option(
            "--traceback", help="Show the Python traceback of an error instead of its one line (bug reports)."
        ),
    ] = False,
) -> None:
    """siji (四级): which city, district, subdistrict and community own a point."""
    show_tracebacks(traceback)


CrsOpt = Annotated[
    str, typer.Option("--crs", help="CRS of the input: wgs84, cgcs2000, gcj02, bd09 or EPSG:<code>.")
]


class Engine(StrEnum):
    """Where the spatial join of ``lookup-batch`` runs."""

    memory = "memory"
    postgis = "postgis"


SnapOpt = Annotated[
    float | None,
    typer.Option("--snap-m", help="Snap points this many metres outside the set (default 50).", min=0),
]


def _service(snap_m: float | None = None):
    from siji.sources import boundary_service

    return boundary_service(snap_distance_m=snap_m)


AtOpt = Annotated[
    datetime | None, typer.Option("--at", formats=["%Y-%m-%d"], help="Use the boundaries valid on this date.")
]


@app.command()
def lookup(
    lon: Annotated[float, typer.Argument(help="Longitude (or x in a projected CRS).")],
    lat: Annotated[float, typer.Argument(help="Latitude (or y in a projected CRS).")],
    crs: CrsOpt = "wgs84",
    snap_m: SnapOpt = None,
    at: AtOpt = None,
) -> None:
    """Look up one point and print the four levels as JSON."""
    with domain_errors():
        print_json(_service(snap_m).lookup_point(lon, lat, crs, at.date() if at else None))


@app.command("lookup-batch")
def lookup_batch(
    input_path: Annotated[
        Path, typer.Argument(metavar="INPUT", help="CSV, GeoJSON, GeoPackage or GeoParquet.")
    ],
    output_path: Annotated[
        Path, typer.Argument(metavar="OUTPUT", help="Output file; format from extension.")
    ],
    x_col: Annotated[str | None, typer.Option("--x-col", help="Column holding longitude/x.")] = None,
    y_col: Annotated[str | None, typer.Option("--y-col", help="Column holding latitude/y.")] = None,
    crs: Annotated[
        str | None,
        typer.Option("--crs", help="CRS of the points (default: the file's, else wgs84)."),
    ] = None,
    snap_m: SnapOpt = None,
    chunk_rows: Annotated[int, typer.Option("--chunk-rows", min=1, help="Rows per chunk.")] = 200_000,
    encoding: Annotated[
        str,
        typer.Option(
            "--encoding", help="Text encoding of a CSV input, e.g. gb18030 for GBK (Excel in China)."
        ),
    ] = "utf-8",
    at: AtOpt = None,
    engine: Annotated[
        Engine,
        typer.Option("--engine", help="memory: the in-process index; postgis: the join runs in PostGIS."),
    ] = Engine.memory,
    dask: Annotated[
        str | None,
        typer.Option(
            "--dask", metavar="SCHEDULER_ADDRESS", help="Run the lookup on a Dask cluster (tcp://...)."
        ),
    ] = None,
    date_col: Annotated[
        str | None,
        typer.Option(
            "--date-col",
            help="Answer each row with the boundaries valid on its date in this column (YYYY-MM-DD) and add "
            "a 'generation' column.",
        ),
    ] = None,
) -> None:
    """Add city/district/subdistrict/community codes and names to every row of a file."""
    import codecs

    from siji.batch_command import lookup_with_progress, print_summary, progress_for

    try:
        encoding = codecs.lookup(encoding).name
    except LookupError:
        fail(f"unknown --encoding {encoding!r}; use a Python codec name such as utf-8, gb18030 or latin1")
    if date_col is not None and (dask is not None or engine is Engine.postgis):
        fail("--date-col answers rows in this process; leave out --dask and --engine postgis")
    with domain_errors():
        from batch.dated import dated_lookup
        from siji.sources import Settings, boundary_service, cached_boundaries

        settings = Settings()  # read once, whichever way the index comes
        plain = at is None and date_col is None and engine is Engine.memory and dask is None
        cached = cached_boundaries(snap_m, settings) if plain else None
        if cached is not None:  # today's generation, its index from the cache
            by_date, index = None, cached[1]
        else:
            service = boundary_service(snap_distance_m=snap_m, settings=settings)
            by_date = dated_lookup(service, date_col, at.date() if at else None)
            generation, index = service.index(at.date() if at else None)
            if engine is Engine.postgis:
                index = _postgis_index(service, generation.id, index)
        if dask is not None:
            from batch.distributed import lookup_file_dask
            from store.generations import load_frame

            with progress_for(input_path) as progress:
                summary = lookup_file_dask(
                    input_path,
                    output_path,
                    scheduler=dask,
                    x_col=x_col,
                    y_col=y_col,
                    crs=crs,
                    chunk_rows=chunk_rows,
                    encoding=encoding,
                    generation_frame=load_frame(service.engine, generation.id),
                    snap_distance_m=index.snap_distance_m,
                    progress=progress,
                )
        else:
            summary = lookup_with_progress(
                index,
                input_path,
                output_path,
                x_col=x_col,
                y_col=y_col,
                crs=crs,
                chunk_rows=chunk_rows,
                encoding=encoding,
                by_date=by_date,
            )
    print_summary(summary, output_path)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.", min=1, max=65535)] = 8000,
    workers: Annotated[
        int, typer.Option(help="Worker processes (one SO_REUSEPORT listener each).", min=1)
    ] = 1,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Start the HTTP service (SQLite in the working directory unless SIJI_DATABASE_URL is set)."""
    from siji.serve import serve as run

    with domain_errors():
        run(host=host, port=port, workers=workers, log_level=log_level)


def _postgis_index(service, generation_id: int, index):
    from store.engine import is_postgis
    from store.postgis_lookup import PostGISIndex

    if not is_postgis(service.engine):
        fail(
            f"--engine postgis needs a PostGIS database; SIJI_DATABASE_URL is {service.engine.url!r}. "
            "Set SIJI_DATABASE_URL=postgresql://user@host/db, or use --engine memory"
        )
    return PostGISIndex(service.engine, generation_id, index.units, index.snap_distance_m, index.bounds)


def main() -> None:
    """The command line itself (``python -m siji.cli``); the ``siji`` executable is
    :func:`siji.launch.main`, which answers a plain ``siji lookup`` before importing this."""
    app()


if __name__ == "__main__":
    main()
