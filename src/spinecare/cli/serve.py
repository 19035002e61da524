"""`spinecare serve`: the clinic web app on http://127.0.0.1:8000 (what `make run` starts)."""

from __future__ import annotations

from typing import Annotated

import typer

from spinecare.cli.app import app


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port", min=1, max=65535)] = 8000,
    demo: Annotated[
        bool, typer.Option("--demo/--no-demo", help="fill an empty clinic with demo data")
    ] = True,
    device_spec: Annotated[
        str,
        typer.Option(
            "--device",
            help="the table the sessions drive: simulated (default), modbus://HOST:PORT or "
            "rtu:///dev/ttyUSB0?baud=115200 (probed now; never a silent fall-back)",
        ),
    ] = "simulated",
) -> None:
    """Run the clinic web app (browser pages, live monitor, REST API under /api/v1)."""
    from spinecare.cli._device import table_choice

    # Before anything else: a table that does not answer stops the server here (status 2).
    table = table_choice(device_spec, fast=False, speed=1.0, emg=False)
    typer.echo("spinecare serve: opening the database ...")
    import uvicorn

    from spinecare.services.users import actor_for
    from spinecare.settings import get_settings
    from spinecare.store import open_store
    from spinecare.web.accounts import FIRST_ADMIN, bootstrap_admin
    from spinecare.web.app import create_app, tune_interpreter
    from spinecare.web.demo import seed_demo

    settings = get_settings()
    from spinecare.web.config import WebSettings

    WebSettings()  # its settings are checked before anything starts (a bad one: status 2)
    store = open_store(settings)
    with store.unit_of_work() as db:
        password = bootstrap_admin(db)
    if password is not None:
        typer.echo(
            f"\n  First start: user '{FIRST_ADMIN}', one-time password: {password}\n"
            "  (shown only now; you will be asked to change it at the first login)\n"
        )
    if demo:
        with store.session() as db:
            admin = actor_for(db, FIRST_ADMIN) if password is not None else None
        # (the demo data is attributed to the first admin)
        if admin is not None:
            typer.echo("spinecare serve: preparing the demo clinic (one simulated session) ...")
            seed_demo(store, settings, admin)
    where = "the simulated table" if table is None else f"the table at {table.url}"
    typer.echo(
        f"spinecare serve: http://{host}:{port}/  sessions drive {where}  "
        "(Ctrl-C stops; running sessions release)"
    )
    if not tune_interpreter():
        typer.echo(
            "spinecare serve: running at normal priority (no permission to raise it); on a busy "
            "machine the monitor may lag"
        )
    app = create_app(settings, store=store, table=table)
    uvicorn.run(app, host=host, port=port, log_level="warning")
