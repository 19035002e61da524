"""Which table this server's sessions drive: the simulated table (the default) or one table on
the wire (Modbus TCP or RTU), chosen when the server starts (``spinecare serve --device``).

The server is handed the table already probed (who it is, what it may pull); the web app does
not parse device URLs or probe tables itself. Each session's own process builds its driver from
it (``factory``), after the server has checked that the table can run the session's protocol,
before anything is recorded or moves. A table that cannot is refused with the reason; there is no
fall-back to the simulated table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from spinecare.services.sessions import DeviceFactory
    from spinecare.therapy.protocol import Protocol as TractionProtocol


class TableOnTheWire(Protocol):
    """A probed table on the wire (``cli._device.WireTable`` is one): picklable, so a session's
    process can build the driver itself."""

    @property
    def url(self) -> Any: ...

    @property
    def identity(self) -> Any: ...  # devices.modbus_map.TableIdentity

    def factory(
        self, proto: TractionProtocol, *, clinician_max_force_n: float | None, emg: bool
    ) -> DeviceFactory: ...


def describe(table: TableOnTheWire | None, lang: str = "de") -> str:
    """One line for the set-up page and the monitor: which table (SAF-16: a served simulator
    is never taken for a real table)."""
    if table is None:
        return "simulierte Liege (im Server)" if lang == "de" else "simulated table (in process)"
    i = table.identity
    if i.simulated:
        kind = "simulierte Liege über Modbus" if lang == "de" else "a served simulator"
    else:
        kind = "reale Liege" if lang == "de" else "a real table"
    return f"{i.vendor} {i.model} #{i.serial} · {table.url} ({kind}), max. {i.max_force_n:g} N"
