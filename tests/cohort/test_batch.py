"""The batch mode is the per-tick session, only compiled end to end.

The same seeded virtual patients run through the session service tick by tick (the path a
patient's session takes) and through ``cohort/batch.py``: every commanded force, base and
release flag, and the whole session record, must be identical. Modes, regions and a course's
second session (a progressed protocol) are covered; a patient whose sessions include counter-
tension is required, so the guarding reaction is compared too.
"""

from __future__ import annotations

from typing import Any

import pytest

from spinecare.cohort.batch import session_run_batch
from spinecare.cohort.engine import patient_seeds, session_run_virtual
from spinecare.cohort.spec import CohortSpec, first_protocol, next_protocol, segment_of
from spinecare.runtime.session import TickView
from spinecare.sim.demographics import profile_draw
from spinecare.therapy.protocol import default_protocol
from spinecare.vocab import Region

pytestmark = pytest.mark.xdist_group("cohort")


def _template(**changes: Any) -> dict[str, Any]:
    p = default_protocol(Region.LUMBAR, 80.0, "L4-L5", traction_minutes=6.0)
    return {**p.model_dump(mode="json"), **changes}


SPECS = {
    "lumbar": CohortSpec(protocol_name="lumbar-default", patients=3, sessions=2, seed=7, minutes=4),
    "cervical": CohortSpec(
        protocol_name="cervical-default", patients=3, sessions=2, seed=11, minutes=4
    ),
    "static-steps-log": CohortSpec(
        protocol_name="file",
        template=_template(
            mode="static", progressive_steps=1, regressive_steps=1, ramp_shape="logarithmic"
        ),
        patients=3,
        sessions=2,
        seed=5,
    ),
    "cyclic": CohortSpec(
        protocol_name="file", template=_template(mode="cyclic"), patients=3, sessions=2, seed=3
    ),
}


@pytest.mark.parametrize("name", sorted(SPECS))
def test_batch_sessions_command_and_record_what_the_per_tick_sessions_do(name: str) -> None:
    spec = SPECS[name]
    guarding = 0
    for i in range(spec.patients):
        person, physics_seed, _ = patient_seeds(spec, i)
        profile = profile_draw(person)
        proto = first_protocol(spec, profile.weight_kg, segment_of(spec, float(person.random())))
        for _ in range(spec.sessions):
            views: list[TickView] = []
            session_run_virtual(spec, profile, proto, physics_seed, None, 0.0, views.append)
            per_tick = session_run_virtual(spec, profile, proto, physics_seed, None, 0.0)
            trace: list[tuple[float, float, bool]] = []
            batch = session_run_batch(spec, profile, proto, physics_seed, trace=trace)
            commanded = [v.commanded_n for v in views if not v.ended]
            assert [f for f, _, _ in trace] == commanded
            per_tick.pop("wall_s")
            batch.pop("wall_s")
            assert batch == per_tick
            guarding += batch["guarding_detected"]
            proto = next_protocol(proto, bool(batch["tolerated"]))
    assert guarding > 0, "the sample must include counter-tension"


def test_the_batch_runs_no_emg_session() -> None:
    """EMG sessions keep the per-tick path (their detector runs in Python): no silent switch."""
    spec = SPECS["lumbar"].model_copy(update={"emg": True})
    person, physics_seed, _ = patient_seeds(spec, 0)
    profile = profile_draw(person)
    proto = first_protocol(spec, profile.weight_kg, "L4-L5")
    with pytest.raises(ValueError, match="EMG"):
        session_run_batch(spec, profile, proto, physics_seed)
