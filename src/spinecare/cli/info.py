"""`spinecare info`: what this installation is and where it keeps its data."""

from __future__ import annotations

from spinecare import __version__
from spinecare.cli.app import app
from spinecare.cli.db import JSON_OPTION, print_json
from spinecare.cli.output import echo


@app.command("info")
def info(as_json: bool = JSON_OPTION) -> None:
    """Version, database (password masked), data directories, device."""
    from spinecare.settings import get_settings

    s = get_settings()
    data = {
        "version": __version__,
        "database_url": s.database_url_masked,
        "data_dir": str(s.data_dir),
        "sessions_dir": str(s.session_root),
        "device": s.device,
        "device_simulated": s.device_simulated,
        "clinic": s.clinic.model_dump(),
    }
    if as_json:
        print_json(data)
        return
    echo(f"spinecare {__version__}")
    echo(f"database:  {data['database_url']}")
    echo(f"data dir:  {data['data_dir']}")
    echo(f"sessions:  {data['sessions_dir']}")
    echo(f"device:    {s.device}" + ("" if s.device_simulated else " (real table)"))
