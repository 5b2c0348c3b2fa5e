"""Users, roles and bearer tokens (pure: no I/O besides reading the users file).

A users file is JSON::

    {"users": [
      {"id": "agent-1", "name": "Li Na 李娜", "role": "agent", "token_sha256": "<hex>"},
      {"id": "qa-1", "name": "QA", "role": "qa", "token": "plain-token"}
    ]}

``token_sha256`` (hex SHA-256 of the token) is preferred so the file holds no secret;
``token`` is accepted for env-provided JSON and hashed on load, then forgotten.  Tokens are
compared as digests with :func:`hmac.compare_digest` over every user (constant time, no
early exit that would tell an attacker how many users share a prefix) and never appear in
a repr, an exception message or a log line.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streams.platform import log_scrub

ROLES = ("agent", "qa", "supervisor")

# What each role may do.  Agents see only their own live calls; supervisors and QA can
# watch any live call; QA pages are for QA and supervisors; only QA records verdicts.
PERMISSIONS: dict[str, frozenset[str]] = {
    "agent": frozenset({"live_own"}),
    "supervisor": frozenset({"live_own", "live_all", "wall", "qa_read"}),
    "qa": frozenset({"live_own", "live_all", "qa_read", "qa_write"}),
}

_MIN_TOKEN_LEN = 16
_ID_RE = re.compile(r"^[A-Za-z0-9_.@:-]{1,64}$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class UsersFileError(ValueError):
    """The users file/JSON is missing or malformed (the message never contains a token)."""


@dataclass(frozen=True)
class User:
    id: str
    name: str
    role: str
    # the digest is kept out of repr/eq so it cannot leak through logging a User
    token_digest: bytes = field(repr=False, compare=False, default=b"")

    def can(self, permission: str) -> bool:
        return permission in PERMISSIONS.get(self.role, frozenset())

    def public(self) -> dict[str, str]:
        return {"id": self.id, "name": self.name, "role": self.role}


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


def hash_token(token: str) -> str:
    """Hex digest for the ``token_sha256`` field (``callassist ui hash-token`` prints it)."""
    return token_digest(token).hex()


class UserDirectory:
    def __init__(self, users: list[User]) -> None:
        ids = [u.id for u in users]
        dup = {i for i in ids if ids.count(i) > 1}
        if dup:
            raise UsersFileError(f"duplicate user id(s): {', '.join(sorted(dup))}")
        digests = [u.token_digest for u in users]
        if len(set(digests)) != len(digests):
            raise UsersFileError("two users share the same token")
        self._users = list(users)

    def __len__(self) -> int:
        return len(self._users)

    def __repr__(self) -> str:
        return f"UserDirectory({len(self._users)} users)"

    def get(self, user_id: str) -> User | None:
        return next((u for u in self._users if u.id == user_id), None)

    def authenticate(self, token: Any) -> User | None:
        """The user holding ``token``, or None. Runs in time independent of which user matches."""
        if not isinstance(token, str) or not token or len(token) > 512:
            return None
        digest = token_digest(token)
        found: User | None = None
        for user in self._users:
            if hmac.compare_digest(digest, user.token_digest) and found is None:
                found = user
        return found

    @classmethod
    def from_json(cls, text: str, source: str = "users JSON") -> UserDirectory:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            # position only: the text itself may hold tokens
            raise UsersFileError(f"{source}: not valid JSON (line {exc.lineno}, column {exc.colno})") from None
        entries = data.get("users") if isinstance(data, dict) else data
        if not isinstance(entries, list) or not entries:
            raise UsersFileError(f'{source}: expected {{"users": [...]}} with at least one user')
        return cls([_parse_user(e, i, source) for i, e in enumerate(entries)])

    @classmethod
    def from_file(cls, path: Path) -> UserDirectory:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise UsersFileError(f"cannot read users file {path}: {exc.strerror}") from None
        return cls.from_json(text, source=str(path))


def _parse_user(entry: Any, index: int, source: str) -> User:
    where = f"{source}: user #{index + 1}"
    if not isinstance(entry, dict):
        raise UsersFileError(f"{where}: expected an object")
    uid = entry.get("id")
    if not isinstance(uid, str) or not _ID_RE.match(uid):
        raise UsersFileError(f"{where}: 'id' must be 1-64 characters of A-Z a-z 0-9 _ . @ : -")
    role = entry.get("role")
    if role not in ROLES:
        raise UsersFileError(f"{where} ({uid}): 'role' must be one of {', '.join(ROLES)}")
    name = entry.get("name", uid)
    if not isinstance(name, str) or len(name) > 200:
        raise UsersFileError(f"{where} ({uid}): 'name' must be a string of at most 200 characters")
    hexdigest, token = entry.get("token_sha256"), entry.get("token")
    if hexdigest is not None and token is not None:
        raise UsersFileError(f"{where} ({uid}): give 'token_sha256' or 'token', not both")
    if hexdigest is not None:
        if not isinstance(hexdigest, str) or not _HEX64.match(hexdigest.lower()):
            raise UsersFileError(f"{where} ({uid}): 'token_sha256' must be 64 hex characters")
        digest = bytes.fromhex(hexdigest)
    elif token is not None:
        if not isinstance(token, str) or len(token) < _MIN_TOKEN_LEN:
            raise UsersFileError(f"{where} ({uid}): 'token' must be at least {_MIN_TOKEN_LEN} characters")
        digest = token_digest(token)
    else:
        raise UsersFileError(f"{where} ({uid}): needs 'token_sha256' (or 'token')")
    return User(id=uid, name=name, role=role, token_digest=digest)


def load_users(users_json: str = "", users_file: Path | None = None) -> UserDirectory:
    """The directory from inline JSON (preferred) or a file; a clear error when neither is set."""
    if users_json.strip():
        return UserDirectory.from_json(users_json, source="CALLASSIST_UI_USERS_JSON")
    if users_file is not None:
        return UserDirectory.from_file(users_file)
    raise UsersFileError(
        "no users configured: set CALLASSIST_UI_USERS_FILE (demo: assist_ui/demo_users.json) "
        "or CALLASSIST_UI_USERS_JSON"
    )


_BEARER = re.compile(r"^\s*Bearer\s+(\S+)\s*$", re.IGNORECASE)


def bearer_token(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, else None."""
    if not header:
        return None
    m = _BEARER.match(header)
    return m.group(1) if m else None


# -- log scrubbing ------------------------------------------------------------
# one filter for every process: streams.platform.log_scrub (frames never logged, escaped keys, cut values)
scrub = log_scrub.scrub
