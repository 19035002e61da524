"""Which table `session run --device` drives: the in-process simulated table (the default) or
a table on Modbus, checked before anything is started or recorded.

A table on the wire is probed first (connect, read its identity, disconnect): who it is, whether
it is a served simulator, what it may pull. A table that does not answer, runs a register map
this driver does not speak, or whose own force limit is below what the session may command is
refused with one line and exit status 2 (any ``devices.modbus.TableError``: no answer, a Modbus
exception such as a wrong unit id's, a map it does not speak, a limit); the session never falls
back to the simulated table.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from spinecare.errors import InputError

if TYPE_CHECKING:
    from spinecare.devices.modbus import DeviceUrl
    from spinecare.devices.modbus_map import TableIdentity
    from spinecare.services.sessions import DeviceFactory
    from spinecare.therapy.protocol import Protocol

SIMULATED = ("simulated", "sim", "")


@dataclass(frozen=True, slots=True)
class WireTable:
    url: DeviceUrl
    identity: TableIdentity

    def factory(
        self, proto: Protocol, *, clinician_max_force_n: float | None, emg: bool
    ) -> DeviceFactory:
        """The driver's factory, once the table is known to be able to run ``proto``."""
        from spinecare.devices.modbus import TableLimitError, modbus_factory, table_limit_check
        from spinecare.therapy.safety import SafetyPolicy

        # The most the policy will ever command in this session (clinician, protocol peak,
        # body-weight cap, device constant): the table's own limit must not be below it.
        required = SafetyPolicy(proto, clinician_max_force_n=clinician_max_force_n)
        try:
            table_limit_check(self.identity, required.effective_limit_n)
        except TableLimitError as exc:
            raise InputError("device", str(exc), str(self.url)) from None
        return modbus_factory(
            self.url,
            expected=self.identity,
            required_force_n=required.effective_limit_n,
            emg=emg,
        )


def table_choice(spec: str, *, fast: bool, speed: float, emg: bool) -> WireTable | None:
    """None for the simulated table; else the probed table on the wire (or an InputError)."""
    if spec.strip().lower() in SIMULATED:
        return None
    from spinecare.devices.modbus import TableError, device_url_parse, table_probe

    url = device_url_parse(spec, "device")
    if fast or speed != 1.0:
        raise InputError(
            "fast" if fast else "speed",
            "a table on the wire runs in real time (only the simulated table runs faster)",
        )
    try:
        ident = table_probe(url)
    except (TableError, OSError) as exc:
        # Whatever the driver says of a table it cannot use (no answer, a Modbus exception, a
        # map it does not speak, a limit) is the table's, not a defect: one line, status 2.
        text = str(exc)  # it names the table mostly; else the URL given is shown
        raise InputError(
            "device", f"no usable table there: {text}", None if str(url) in text else spec
        ) from None
    if emg and not ident.emg:
        raise InputError("emg", "the table on the wire has no EMG channel", spec)
    kind = "a served simulator" if ident.simulated else "a real table"
    print(
        f"device: {ident.vendor} {ident.model} #{ident.serial} at {url} ({kind}), "
        f"force limit {ident.max_force_n:g} N, watchdog {1000 * ident.watchdog_s:g} ms",
        file=sys.stderr,
    )
    return WireTable(url, ident)
