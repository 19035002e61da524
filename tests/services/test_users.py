"""Users: the first admin, grants, argon2 authentication with lockout, passwords, tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr, ValidationError
from sqlalchemy import text

from spinecare.errors import InputError
from spinecare.services.auth import (
    ROLE_PRIVILEGES,
    Actor,
    can_grant,
    issue_token,
    require_clinical_writer,
    require_database_admin,
    require_physician,
    revoke_token,
    verify_token,
)
from spinecare.services.errors import (
    AuthenticationError,
    NotFoundError,
    PasswordChangeRequired,
    PermissionDeniedError,
)
from spinecare.services.users import (
    LOCKOUT,
    MAX_FAILED_LOGINS,
    UserCreate,
    actor_for,
    authenticate,
    bootstrap_admin,
    change_password,
    create_user,
    reset_password,
    set_active,
)
from spinecare.store import Store
from spinecare.store.audit import AuditedSession, audit_entries
from spinecare.store.enums import Role
from spinecare.store.models import User
from tests.services.conftest import PASSWORD


def _new(username: str, role: Role, password: str = PASSWORD) -> UserCreate:
    return UserCreate(username=username, role=role, password=SecretStr(password))


def test_the_first_admin_is_created_once_with_a_one_time_password(db: AuditedSession) -> None:
    otp = bootstrap_admin(db)
    db.commit()
    assert otp is not None and len(otp) >= 20
    assert bootstrap_admin(db) is None  # once only
    admin = db.query(User).one()
    assert admin.role == "admin" and admin.must_change_password
    assert otp not in admin.password_hash and admin.password_hash.startswith("$argon2id$")
    # the one-time password logs in, but nothing works until it is changed
    actor = authenticate(db, "admin", otp)
    token = issue_token(db, actor).token
    db.commit()
    with pytest.raises(PasswordChangeRequired):
        verify_token(db, token)
    assert verify_token(db, token, allow_password_change=True) == actor
    change_password(db, actor, otp, PASSWORD, keep_token=token)
    assert verify_token(db, token) == actor
    assert not db.get(User, actor.id).must_change_password  # type: ignore[union-attr]
    entries = audit_entries(db, "users")
    assert entries[0].actor == "bootstrap"
    assert all(e.after and e.after["password_hash"] == "***" for e in entries)


def test_a_role_grants_only_what_it_holds(db: AuditedSession, actors: dict[Role, Actor]) -> None:
    doc = actors[Role.PHYSICIAN]
    for role in (Role.PHYSICIAN, Role.THERAPIST, Role.BILLING):
        create_user(db, doc, _new(f"by-doc-{role.value}", role))
    with pytest.raises(PermissionDeniedError, match="admin"):
        create_user(db, doc, _new("boss2", Role.ADMIN))
    for role in (Role.THERAPIST, Role.BILLING):
        with pytest.raises(PermissionDeniedError):
            create_user(db, actors[role], _new(f"by-{role.value}", Role.THERAPIST))
    create_user(db, actors[Role.ADMIN], _new("boss2", Role.ADMIN))
    with pytest.raises(InputError, match="username"):
        create_user(db, doc, _new("by-doc-therapist", Role.THERAPIST))
    # managing an account: only one whose role one could grant
    admin_id = actors[Role.ADMIN].id
    with pytest.raises(PermissionDeniedError):
        set_active(db, doc, admin_id, False)
    with pytest.raises(PermissionDeniedError):
        reset_password(db, doc, "admin")
    with pytest.raises(PermissionDeniedError):
        require_database_admin(doc)


@given(granter=st.sampled_from(Role), role=st.sampled_from(Role))
@settings(max_examples=30)
def test_can_grant_means_holding_every_privilege(granter: Role, role: Role) -> None:
    actor = Actor(1, "x", granter)
    if can_grant(actor, role):
        assert ROLE_PRIVILEGES[role] <= ROLE_PRIVILEGES[granter]
    if role is Role.ADMIN:
        assert can_grant(actor, role) == (granter is Role.ADMIN)


def test_authenticate_says_the_same_for_every_failure(
    db: AuditedSession, actors: dict[Role, Actor]
) -> None:
    who = authenticate(db, "therapist", PASSWORD)
    assert who.role is Role.THERAPIST
    messages = set()
    for username, password in (
        ("therapist", "wrong password"),
        ("nobody", PASSWORD),
        ("Bad Name!", PASSWORD),
    ):
        with pytest.raises(AuthenticationError) as err:
            authenticate(db, username, password)
        messages.add(str(err.value))
    set_active(db, actors[Role.ADMIN], who.id, False)
    db.commit()
    with pytest.raises(AuthenticationError) as err:
        authenticate(db, "therapist", PASSWORD)
    messages.add(str(err.value))
    assert len(messages) == 1
    with pytest.raises(PermissionDeniedError):
        actor_for(db, "therapist")
    with pytest.raises(NotFoundError):
        actor_for(db, "nobody")


def test_lockout_after_repeated_failures(db: AuditedSession, actors: dict[Role, Actor]) -> None:
    t0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    for _ in range(MAX_FAILED_LOGINS):
        with pytest.raises(AuthenticationError):
            authenticate(db, "billing", "not the password", now=t0)
    # locked: even the right password is refused, until the lock ends
    with pytest.raises(AuthenticationError):
        authenticate(db, "billing", PASSWORD, now=t0 + timedelta(minutes=1))
    assert authenticate(db, "billing", PASSWORD, now=t0 + LOCKOUT + timedelta(seconds=1))
    user = db.query(User).filter_by(username="billing").one()
    assert user.failed_logins == 0 and user.locked_until is None
    # the lock is on the record, once, by the login form; single failures do not flood it
    locks = [e for e in audit_entries(db, "users") if e.entity_id == str(user.id)
             and e.action == "update"]  # fmt: skip
    assert len(locks) == 1 and locks[0].actor == "login"
    assert locks[0].after is not None
    assert locks[0].after["locked_until"] == (t0 + LOCKOUT).isoformat()
    # an admin's reset unlocks and forces a new password
    for _ in range(MAX_FAILED_LOGINS):
        with pytest.raises(AuthenticationError):
            authenticate(db, "billing", "nope nope nope")
    otp = reset_password(db, actors[Role.ADMIN], "billing")
    db.commit()
    who = authenticate(db, "billing", otp)
    with pytest.raises(PasswordChangeRequired):
        verify_token(db, issue_token(db, who).token)


def test_tokens_expire_and_are_revoked(db: AuditedSession, actors: dict[Role, Actor]) -> None:
    t0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    doc = actors[Role.PHYSICIAN]
    issued = issue_token(db, doc, lifetime=timedelta(hours=8), now=t0)
    other = issue_token(db, doc, now=t0).token
    db.commit()
    assert issued.token.startswith("sc1_")
    stored = {t for (t,) in db.execute(text("SELECT token_hash FROM auth_tokens"))}
    assert issued.token not in stored  # only hashes
    assert verify_token(db, issued.token, now=t0 + timedelta(hours=7)) == doc
    with pytest.raises(AuthenticationError):
        verify_token(db, issued.token, now=t0 + timedelta(hours=8))
    for forged in ("", "sc1_", issued.token + "x", "x" * 500, issued.token[:-1]):
        with pytest.raises(AuthenticationError):
            verify_token(db, forged, now=t0)
    assert revoke_token(db, other, now=t0)
    with pytest.raises(AuthenticationError):
        verify_token(db, other, now=t0)
    # a changed password ends the other logins; a deactivated account ends all
    third = issue_token(db, doc, now=t0).token
    keep = issue_token(db, doc, now=t0).token
    db.commit()
    change_password(db, doc, PASSWORD, "another long password", keep_token=keep)
    with pytest.raises(AuthenticationError):
        verify_token(db, third, now=t0)
    assert verify_token(db, keep, now=t0) == doc
    set_active(db, actors[Role.ADMIN], doc.id, False)
    with pytest.raises(AuthenticationError):
        verify_token(db, keep, now=t0)


def test_password_rules(db: AuditedSession, actors: dict[Role, Actor]) -> None:
    doc = actors[Role.PHYSICIAN]
    with pytest.raises(InputError, match="new password"):
        change_password(db, doc, PASSWORD, "short")
    with pytest.raises(InputError, match="differ"):
        change_password(db, doc, PASSWORD, PASSWORD)
    with pytest.raises(AuthenticationError):
        change_password(db, doc, "not the current one", "a fine new password")
    with pytest.raises(ValidationError, match="password"):
        _new("ctl", Role.THERAPIST, password="evil\x1b[2Jpassword")
    for weak in (" " * 8, "aaaaaaaa", "  bbbbbbbb  "):
        with pytest.raises(InputError, match="two different characters"):
            change_password(db, doc, PASSWORD, weak)


def test_bad_user_input_is_refused() -> None:
    with pytest.raises(ValidationError, match="role"):
        UserCreate.model_validate({"username": "x1", "role": "janitor", "password": PASSWORD})
    with pytest.raises(ValidationError, match="password"):
        _new("shorty", Role.ADMIN, password="short")
    with pytest.raises(ValidationError, match="username"):
        _new("Bad Name!", Role.ADMIN)
    with pytest.raises(ValidationError, match="full_name"):
        UserCreate(
            username="ok", full_name="A\x1b]0;x\x07", role=Role.ADMIN, password=SecretStr(PASSWORD)
        )


def test_role_checks(actors: dict[Role, Actor]) -> None:
    with pytest.raises(PermissionDeniedError):
        require_clinical_writer(actors[Role.BILLING])
    with pytest.raises(PermissionDeniedError):
        require_physician(actors[Role.THERAPIST])
    assert require_physician(actors[Role.PHYSICIAN]) is actors[Role.PHYSICIAN]


def test_concurrent_bootstraps_create_one_admin(store: Store) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def boot(_: int) -> str | None:
        with store.unit_of_work() as s:
            return bootstrap_admin(s)

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(boot, range(4)))
    assert sum(r is not None for r in results) == 1
    with store.session() as s:
        assert s.query(User).count() == 1
