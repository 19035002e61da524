"""`spinecare table serve-sim|probe`: the simulated table on Modbus, and who is on the wire.

``serve-sim`` puts a virtual patient on the simulated table behind the Modbus register map
(docs/modbus.md) on 127.0.0.1, in real time, until Ctrl-C; a session then drives it with
``spinecare session run --device modbus://127.0.0.1:PORT``. ``probe`` reads a table's identity
and limits.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from spinecare.cli.app import app
from spinecare.cli.output import number_option
from spinecare.errors import InputError

# SCHED_FIFO priority of the serving thread: one above the session loop's (cli/session.py), as
# a real table's firmware is not slowed down by the PC that drives it (best effort).
SERVER_PRIORITY = 41

table_app = typer.Typer(
    help="Traction tables on Modbus: serve the simulated table, probe a table.",
    no_args_is_help=True,
)
app.add_typer(table_app, name="table")


@table_app.command("serve-sim")
def serve_sim(
    port: Annotated[int, typer.Option(help="TCP port on 127.0.0.1 (1024-65535)")] = 5020,
    host: Annotated[str, typer.Option(help="address to listen on (loopback only)")] = "127.0.0.1",
    rtu: Annotated[
        str | None, typer.Option(help="serve Modbus RTU on this serial device instead of TCP")
    ] = None,
    baud: Annotated[int, typer.Option(help="RTU baud rate")] = 115200,
    region: Annotated[str, typer.Option(help="lumbar or cervical")] = "lumbar",
    weight: Annotated[float, number_option(help="the virtual patient's body weight, kg")] = 80.0,
    segment: Annotated[str, typer.Option(help="target segment")] = "L4/5",
    seed: Annotated[int, typer.Option(help="virtual patient seed")] = 1,
    table: Annotated[str, typer.Option(help="split or fixed")] = "split",
    emg: Annotated[bool, typer.Option("--emg", help="with the surface-EMG channel")] = False,
    max_force: Annotated[
        float | None, number_option(help="the table's own force limit, N (default 890)")
    ] = None,
) -> None:
    """Serve the simulated table (a virtual patient) on Modbus, in real time, until Ctrl-C."""
    import time

    from spinecare.cohort.run import VirtualSession, make_table
    from spinecare.devices.modbus_sim import SimTableServer, sim_identity
    from spinecare.quantities import BODY_WEIGHT, DEVICE_MAX_FORCE_N
    from spinecare.vocab import Region, TableType, segment_normalise, segment_region

    if rtu is None and not 1024 <= port <= 65535:
        raise InputError("port", "must be within 1024-65535", port)
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise InputError("host", "the simulator serves on the loopback address only", host)
    try:
        reg, tab = Region(region), TableType(table)
    except ValueError as exc:
        raise InputError("region", str(exc), region) from None
    BODY_WEIGHT.check(weight, "weight")
    seg = segment_normalise(segment)
    if segment_region(seg) is not reg:
        raise InputError("segment", f"is not a {reg.value} segment", segment)
    limit = DEVICE_MAX_FORCE_N if max_force is None else max_force
    if not 0.0 < limit <= DEVICE_MAX_FORCE_N:
        raise InputError(
            "max-force", f"must be above 0 and at most {DEVICE_MAX_FORCE_N:g} N", limit
        )
    if rtu is None:
        _port_free(host, port)
    vs = VirtualSession(seed=seed, region=reg, weight_kg=weight, segment=seg, table=tab, emg=emg)
    sim = make_table(vs, time.perf_counter)  # the table lives on the monotonic clock
    sim.record = False  # a long-running server keeps no ground-truth history
    server = SimTableServer(
        sim,
        time.perf_counter,
        host="127.0.0.1" if host == "localhost" else host,
        port=port,
        serial_port=rtu,
        baudrate=baud,
        identity=sim_identity(emg=emg, serial=f"SIM-{seed}", max_force_n=limit),
        fifo_priority=SERVER_PRIORITY,
    )

    def ready(s: SimTableServer) -> None:
        print(
            f"serving the simulated table ({reg.value}, {weight:g} kg, seed {seed}) at {s.url}\n"
            f"run a session against it: spinecare session run --device {s.url.split('?')[0]}"
            f" --region {reg.value} --weight {weight:g} --segment {seg}\n"
            f"Ctrl-C stops the server (scheduling: {s.realtime})",
            file=sys.stderr,
            flush=True,
        )

    print("preparing the simulated table ...", file=sys.stderr, flush=True)
    try:
        server.serve_forever(on_ready=ready)
    except OSError as exc:  # taken between the check and the server's bind, or no serial port
        raise InputError("rtu" if rtu is not None else "port", str(exc)) from None


def _port_free(host: str, port: int) -> None:
    """Refuse a port another process listens on, before the table is built (pymodbus would
    only log it and fail); bound as asyncio's server binds it (``SO_REUSEADDR``)."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1" if host == "localhost" else host, port))
        except OSError as exc:
            raise InputError(
                "port",
                f"{host}:{port} is in use by another process ({exc.strerror}): stop it or "
                "choose another --port",
            ) from None


@table_app.command("probe")
def probe(
    device: Annotated[str, typer.Option("--device", help="modbus://HOST:PORT or rtu:///dev/ttyX")],
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Read a table's identity and limits (vendor, model, serial, force limit, watchdog)."""
    from spinecare.devices.modbus import TableError, device_url_parse, table_probe

    url = device_url_parse(device, "device")
    try:
        ident = table_probe(url)
    except (TableError, OSError) as exc:  # the table's, not a defect: one line, status 2
        text = str(exc)  # it names the table mostly; else the URL given is shown
        raise InputError(
            "device", f"no usable table there: {text}", None if str(url) in text else device
        ) from None
    data = {"url": str(url), **ident.as_dict()}
    if as_json:
        typer.echo(json.dumps(data, indent=2))
    else:
        typer.echo("\n".join(f"{k}: {v}" for k, v in data.items()))
