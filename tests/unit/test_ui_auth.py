"""Users file parsing, token checks and log scrubbing (assist_ui.auth)."""

from __future__ import annotations

import json

import pytest

from assist_ui.auth import (
    UserDirectory,
    UsersFileError,
    bearer_token,
    hash_token,
    load_users,
    scrub,
)
from assist_ui.settings import DEMO_USERS_FILE

pytestmark = pytest.mark.unit

TOKEN_A = "agent-a-token-0123456789"
TOKEN_Q = "qa-token-abcdefghijklmnop"


def _users() -> UserDirectory:
    return UserDirectory.from_json(json.dumps({"users": [
        {"id": "agent-a", "name": "A", "role": "agent", "token": TOKEN_A},
        {"id": "qa-1", "name": "Q", "role": "qa", "token_sha256": hash_token(TOKEN_Q)},
        {"id": "sup-1", "role": "supervisor", "token": "supervisor-token-xyz123"},
    ]}))


def test_authenticate_by_plain_or_hashed_token():
    users = _users()
    assert users.authenticate(TOKEN_A).id == "agent-a"
    assert users.authenticate(TOKEN_Q).role == "qa"
    assert users.get("sup-1").name == "sup-1"  # name defaults to the id


@pytest.mark.parametrize("token", ["", None, 42, ["x"], TOKEN_A + "x", TOKEN_A[:-1], "x" * 1000])
def test_wrong_or_malformed_tokens_are_rejected(token):
    assert _users().authenticate(token) is None


def test_permissions_by_role():
    users = _users()
    agent, qa, sup = (users.authenticate(t) for t in (TOKEN_A, TOKEN_Q, "supervisor-token-xyz123"))
    assert agent.can("live_own") and not agent.can("live_all") and not agent.can("qa_read")
    assert qa.can("qa_write") and qa.can("live_all") and not qa.can("wall")
    assert sup.can("wall") and sup.can("qa_read") and not sup.can("qa_write")


def test_token_never_in_repr_or_errors():
    users = _users()
    user = users.authenticate(TOKEN_A)
    assert TOKEN_A not in repr(user) and hash_token(TOKEN_A) not in repr(user)
    assert "3 users" in repr(users)
    with pytest.raises(UsersFileError) as err:
        UserDirectory.from_json('{"users": [{"id": "a", "role": "agent", "token": "short-secret"}, ]}')
    assert "short-secret" not in str(err.value)


@pytest.mark.parametrize(
    ("users", "message"),
    [
        ("not json", "not valid JSON"),
        ("[]", "at least one user"),
        ('{"users": [1]}', "expected an object"),
        ('{"users": [{"id": "a b", "role": "agent", "token": "' + "t" * 20 + '"}]}', "'id'"),
        ('{"users": [{"id": "a", "role": "admin", "token": "' + "t" * 20 + '"}]}', "'role'"),
        ('{"users": [{"id": "a", "role": "agent"}]}', "needs 'token_sha256'"),
        ('{"users": [{"id": "a", "role": "agent", "token_sha256": "abc"}]}', "64 hex"),
        ('{"users": [{"id": "a", "role": "agent", "token": "' + "t" * 20 + '", "token_sha256": "'
         + "0" * 64 + '"}]}', "not both"),
        ('{"users": [{"id": "a", "role": "agent", "token": "' + "t" * 20 + '"}, {"id": "a", "role": "qa", "token": "'
         + "u" * 20 + '"}]}', "duplicate user id"),
        ('{"users": [{"id": "a", "role": "agent", "token": "' + "t" * 20 + '"}, {"id": "b", "role": "qa", "token": "'
         + "t" * 20 + '"}]}', "share the same token"),
    ],
)
def test_bad_users_file_gives_clear_error(users, message):
    with pytest.raises(UsersFileError, match=message):
        UserDirectory.from_json(users)


def test_load_users_sources(tmp_path):
    with pytest.raises(UsersFileError, match="no users configured"):
        load_users("", None)
    with pytest.raises(UsersFileError, match="cannot read users file"):
        load_users("", tmp_path / "missing.json")
    f = tmp_path / "u.json"
    f.write_text(json.dumps({"users": [{"id": "x", "role": "qa", "token": TOKEN_Q}]}))
    assert load_users("", f).authenticate(TOKEN_Q).id == "x"
    inline = json.dumps({"users": [{"id": "y", "role": "agent", "token": TOKEN_A}]})
    assert load_users(inline, f).authenticate(TOKEN_A).id == "y"  # inline JSON wins


def test_demo_users_file_is_valid_and_holds_no_plain_tokens():
    users = load_users("", DEMO_USERS_FILE)
    assert users.authenticate("demo-agent-1-token").id == "agent-1"
    assert users.authenticate("demo-supervisor-token").role == "supervisor"
    assert "demo-agent-1-token" not in DEMO_USERS_FILE.read_text()


def test_bearer_header_parsing():
    assert bearer_token("Bearer abc") == "abc"
    assert bearer_token("bearer   abc  ") == "abc"
    assert bearer_token("Basic abc") is None
    assert bearer_token("") is None and bearer_token(None) is None


def test_scrub_removes_tokens_from_log_text():
    lines = [
        "< Authorization: Bearer s3cr3t-token-value",
        '< TEXT \'{"op":"auth","token":"s3cr3t-token-value"}\' [45 bytes]',
        "GET /ws?token=s3cr3t-token-value HTTP/1.1",
    ]
    for line in lines:
        assert "s3cr3t" not in scrub(line)
    assert scrub("nothing secret here") == "nothing secret here"
