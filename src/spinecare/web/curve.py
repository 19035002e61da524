"""The mode's target curve ahead of time, for the set-up page and the live monitor.

Drawn by the session's own controller (``therapy.curve.target_curve``, as `spinecare session
curve` draws it) for the protocol the session runs, within the clinician's limit as the runner
plans it. A 30-minute curve takes about 0.3 s to draw: each is drawn once and kept.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from spinecare.runtime.session import within_clinician_limit
from spinecare.therapy.protocol import Protocol

# Seconds between samples: five a second keeps a hold oscillation's shape and a ramp's bend;
# a 30-minute session is about 9,000 samples (engineering choice).
CURVE_STEP_S = 0.2


def curve_data(protocol: Protocol, clinician_max_force_n: float | None = None) -> dict[str, Any]:
    """The target (and the segment model's estimate for it) over the whole session."""
    planned = within_clinician_limit(protocol, clinician_max_force_n)
    return json.loads(_drawn(planned.model_dump_json()))  # type: ignore[no-any-return]


@functools.lru_cache(maxsize=64)
def _drawn(protocol_json: str) -> str:
    from spinecare.therapy.curve import target_curve

    c = target_curve(Protocol.model_validate_json(protocol_json), CURVE_STEP_S)
    p = c.protocol
    return json.dumps(
        {
            "mode": p.mode.value,
            "ramp_shape": p.ramp_shape.value,
            "peak_force_n": p.peak_force_n,
            "base_force_n": p.base_force_n,
            "segment": p.segment,
            "pull_angle_deg": c.pull_angle_deg,
            "duration_s": round(c.duration_s, 2),
            "cycles": [cy.as_dict() for cy in c.cycles],
            "t_s": [round(float(t), 2) for t in c.t_s],
            "target_n": [round(float(f), 1) for f in c.target_n],
            "segment_n": [round(float(f), 1) for f in c.segment_n],
        },
        separators=(",", ":"),
    )
