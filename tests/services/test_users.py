"""Users: bootstrap, role-gated creation, argon2 authentication, no secret in the audit log."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from spinecare.errors import InputError
from spinecare.services.auth import Actor, require_clinical_writer, require_physician
from spinecare.services.errors import NotFoundError, PermissionDeniedError
from spinecare.services.users import (
    UserCreate,
    actor_for,
    authenticate,
    create_user,
    set_active,
)
from spinecare.store.audit import AuditedSession, audit_entries
from spinecare.store.enums import Role
from spinecare.store.models import User
from tests.services.conftest import PASSWORD


def _new(username: str, role: Role, password: str = PASSWORD) -> UserCreate:
    return UserCreate(username=username, role=role, password=SecretStr(password))


def test_bootstrap_then_only_user_admins_create(db: AuditedSession) -> None:
    create_user(db, None, _new("dr.house", Role.PHYSICIAN))
    with pytest.raises(PermissionDeniedError):
        create_user(db, None, _new("intruder", Role.ADMIN))
    doc = actor_for(db, "dr.house")
    create_user(db, doc, _new("theo", Role.THERAPIST))
    theo = actor_for(db, "theo")
    with pytest.raises(PermissionDeniedError):
        create_user(db, theo, _new("bill", Role.BILLING))
    with pytest.raises(InputError, match="username"):
        create_user(db, doc, _new("theo", Role.THERAPIST))
    stored = db.query(User).filter_by(username="theo").one()
    assert stored.password_hash.startswith("$argon2id$")
    assert PASSWORD not in stored.password_hash
    entries = audit_entries(db, "users")
    assert entries[0].actor == "bootstrap" and entries[1].actor == "dr.house"
    assert all(e.after and e.after["password_hash"] == "***" for e in entries)


def test_first_user_must_be_able_to_manage_users(db: AuditedSession) -> None:
    with pytest.raises(InputError, match="role"):
        create_user(db, None, _new("bill", Role.BILLING))


def test_bad_user_input_is_refused() -> None:
    with pytest.raises(ValidationError, match="role"):
        UserCreate.model_validate({"username": "x1", "role": "janitor", "password": PASSWORD})
    with pytest.raises(ValidationError, match="password"):
        _new("shorty", Role.ADMIN, password="short")
    with pytest.raises(ValidationError, match="username"):
        _new("Bad Name!", Role.ADMIN)


def test_authenticate(db: AuditedSession, actors: dict[Role, Actor]) -> None:
    who = authenticate(db, "therapist", PASSWORD)
    assert who is not None and who.role is Role.THERAPIST
    assert authenticate(db, "therapist", "wrong password") is None
    assert authenticate(db, "nobody", PASSWORD) is None
    set_active(db, actors[Role.ADMIN], who.id, False)
    assert authenticate(db, "therapist", PASSWORD) is None
    with pytest.raises(PermissionDeniedError):
        actor_for(db, "therapist")
    with pytest.raises(NotFoundError):
        actor_for(db, "nobody")


def test_role_checks(actors: dict[Role, Actor]) -> None:
    with pytest.raises(PermissionDeniedError):
        require_clinical_writer(actors[Role.BILLING])
    with pytest.raises(PermissionDeniedError):
        require_physician(actors[Role.THERAPIST])
    assert require_physician(actors[Role.PHYSICIAN]) is actors[Role.PHYSICIAN]
