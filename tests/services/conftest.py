"""Service fixtures: a migrated store (SQLite and PostgreSQL), one user per role, a patient."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal

import pytest
from pydantic import SecretStr
from sqlalchemy import update

from spinecare.clinical.vocab import Menopause, Sex
from spinecare.services.auth import Actor
from spinecare.services.patients import PatientCreate, add_patient
from spinecare.services.users import (
    UserCreate,
    actor_for,
    bootstrap_admin,
    change_password,
    create_user,
)
from spinecare.store import Store
from spinecare.store.audit import AuditedSession
from spinecare.store.enums import Insurance, Role
from spinecare.store.models import User

PASSWORD = "correct horse battery"


def make_users(db: AuditedSession, roles: tuple[Role, ...] = tuple(Role)) -> dict[Role, Actor]:
    """The first admin (its one-time password changed to PASSWORD) and one user per role,
    each named after the role; committed."""
    one_time = bootstrap_admin(db)
    assert one_time is not None
    db.commit()
    admin = actor_for(db, "admin")
    change_password(db, admin, one_time, PASSWORD)
    out = {Role.ADMIN: admin}
    for role in roles:
        if role is Role.ADMIN:
            continue
        create_user(
            db, admin, UserCreate(username=role.value, role=role, password=SecretStr(PASSWORD))
        )
        # the user's own first login would change the one-time password; set up as done
        db.execute(
            update(User).where(User.username == role.value).values(must_change_password=False)
        )
        out[role] = actor_for(db, role.value)
    db.commit()
    return out


@pytest.fixture
def db(store: Store) -> Iterator[AuditedSession]:
    """One open session; tests commit where the behaviour depends on it."""
    with store.session() as s:
        yield s


@pytest.fixture
def actors(db: AuditedSession) -> dict[Role, Actor]:
    return make_users(db)


def patient_data(**over: object) -> PatientCreate:
    base: dict[str, object] = {
        "name": "Erika Mustermann",
        "birth_date": date(1962, 3, 14),
        "sex": Sex.FEMALE,
        "weight_kg": Decimal("70.0"),
        "height_cm": Decimal("165.0"),
        "insurance": Insurance.PRIVATE,
        "menopausal_status": Menopause.POST,
    }
    base.update(over)
    return PatientCreate.model_validate(base)


@pytest.fixture
def patient_id(db: AuditedSession, actors: dict[Role, Actor]) -> int:
    pid = add_patient(db, actors[Role.THERAPIST], patient_data()).id
    db.commit()
    return pid


def next_weekday(weekday: int, after_days: int = 7) -> date:
    """A future date on ``weekday`` (0 = Monday), at least ``after_days`` from today."""
    d = date.today() + timedelta(days=after_days)
    return d + timedelta(days=(weekday - d.weekday()) % 7)
