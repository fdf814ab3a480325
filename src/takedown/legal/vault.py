"""The evidence vault: what a confirmed case preserves, encrypted at rest.

Each item is sealed with AES-256-GCM under the current vault key, with the item's name
as associated data, so a blob copied or moved to another name no longer opens. A blob
is `TDV1` + the key id (16 ASCII hex characters) + a 96-bit random nonce + ciphertext
and tag. The key id lets older keys keep opening old items after a rotation, until
`Vault.rekey` moves them to the current key.

Keys: `TAKEDOWN_VAULT_KEY` (base64 of 32 bytes) and `TAKEDOWN_VAULT_OLD_KEYS`
(comma-separated, same form). Without the first, a key is made once in
`data_dir/vault.key`: fine for the embedded default, not for production, where the key
must live away from the evidence and its backups.

This module knows nothing of the database: which items exist, how long they are kept
and who looked at them is recorded elsewhere.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import os
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32
KEY_ID_CHARS = 16
NONCE_BYTES = 12
MAGIC = b"TDV1"
HEADER_BYTES = len(MAGIC) + KEY_ID_CHARS + NONCE_BYTES
TAG_BYTES = 16
KEY_FILE = "vault.key"
_KEY_ID = re.compile(f"[0-9a-f]{{{KEY_ID_CHARS}}}")


class VaultKeyError(Exception):
    """Bad key material, an unknown key id, or a blob that fails to open. Messages say
    what went wrong and never include key material."""


class VaultIntegrityError(VaultKeyError):
    """An item that does not open or does not match its recorded hash: tampering,
    corruption, or a blob under the wrong name."""


def key_id_for(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:KEY_ID_CHARS]


def new_key() -> str:
    """A fresh vault key, base64 of 32 random bytes (for `takedown evidence new-key`)."""
    return base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode("ascii")


class VaultKeys:
    """The key ring: the current key (new items) and older keys (to read old items until
    they are re-encrypted). Key id = first 16 hex chars of SHA-256 of the key bytes."""

    def __init__(self, current: bytes, older: Sequence[bytes] = ()) -> None:
        for which, key in [("current", current), *(("older", k) for k in older)]:
            if len(key) != KEY_BYTES:
                raise VaultKeyError(f"the {which} vault key is {len(key)} bytes long; "
                                    f"it must be exactly {KEY_BYTES}")
        self.current_id = key_id_for(current)
        self._keys = {key_id_for(key): key for key in older}
        self._keys[self.current_id] = current

    def key(self, key_id: str) -> bytes:
        try:
            return self._keys[key_id]
        except KeyError:
            raise VaultKeyError(f"vault key {key_id!r} is not configured: add it to "
                                "TAKEDOWN_VAULT_OLD_KEYS to read items sealed under it") from None

    @property
    def key_ids(self) -> frozenset[str]:
        return frozenset(self._keys)

    @classmethod
    def from_settings(cls, vault_key: str, older_keys: str,
                      data_dir: Path) -> tuple[VaultKeys, str | None]:
        """The ring from TAKEDOWN_VAULT_KEY / TAKEDOWN_VAULT_OLD_KEYS, or from
        `data_dir/vault.key` (made on first use) when TAKEDOWN_VAULT_KEY is empty. The
        second value is a notice to print at start when the key file is in use."""
        older = [_decode_key(text, "TAKEDOWN_VAULT_OLD_KEYS")
                 for text in older_keys.split(",") if text.strip()]
        if vault_key.strip():
            return cls(_decode_key(vault_key, "TAKEDOWN_VAULT_KEY"), older), None
        path = data_dir / KEY_FILE
        _make_key_file(path)
        current = _decode_key(path.read_text("ascii"), str(path))
        notice = (f"evidence vault key kept in {path}: fine for the embedded default; "
                  "set TAKEDOWN_VAULT_KEY in production")
        if path.stat().st_mode & 0o077:
            notice += f" (and {path} is readable by others than its owner: chmod 600 it)"
        return cls(current, older), notice


def _decode_key(text: str, source: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise VaultKeyError(f"{source} holds a vault key that is not valid base64") from None
    if len(key) != KEY_BYTES:
        raise VaultKeyError(f"{source} holds a vault key of {len(key)} bytes; it must be "
                            f"base64 of exactly {KEY_BYTES} bytes (`takedown evidence "
                            "new-key` makes one)")
    return key


def _make_key_file(path: Path) -> None:
    create_once(path, (new_key() + "\n").encode("ascii"))


def create_once(path: Path, data: bytes) -> None:
    """Writes a secret (mode 0600) to `path` unless one is there. It is written to a
    scratch file and linked into place, so that nobody ever reads half a key and two
    processes starting together end up with the same one."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(f".{path.name}.{secrets.token_hex(6)}")
    fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):  # another process won: its key stands
            os.link(scratch, path)
    finally:
        scratch.unlink(missing_ok=True)


@dataclass(frozen=True)
class SealedItem:
    name: str
    sha256: str  # of the plaintext
    md5: str  # of the plaintext: NCMEC and many agencies still compare MD5
    size: int  # plaintext bytes
    key_id: str


class EvidenceStore(Protocol):
    """Where sealed blobs live: the file system now, an S3-compatible store later."""

    def put(self, name: str, data: bytes) -> None: ...

    def get(self, name: str) -> bytes:
        """The blob; KeyError if absent."""
        ...

    def delete(self, name: str) -> None:
        """Removes the blob; no error if absent."""
        ...

    def exists(self, name: str) -> bool: ...


def check_name(name: str) -> str:
    """`name` if it is a safe relative path like `case-12/media/<sha256>.jpg`, else
    ValueError. Dot-leading parts are refused too: they are where scratch files go."""
    if not isinstance(name, str) or not name:
        raise ValueError("an evidence name must be a non-empty string")
    if "\\" in name or "\x00" in name:
        raise ValueError(f"unsafe evidence name {name!r}: backslash or NUL")
    if name.startswith("/"):
        raise ValueError(f"unsafe evidence name {name!r}: absolute path")
    for part in name.split("/"):
        if not part:
            raise ValueError(f"unsafe evidence name {name!r}: empty path part")
        if part.startswith("."):
            raise ValueError(f"unsafe evidence name {name!r}: a part starts with '.'")
    return name


class FileEvidenceStore:
    """Sealed blobs as files under `root`: files mode 0600, directories 0700, every write
    atomic (scratch file in the same directory, fsync, rename)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, name: str) -> Path:
        path = self.root / check_name(name)
        # A symlinked directory inside the root must not lead writes or reads outside it.
        if not path.resolve().is_relative_to(self.root.resolve()):
            raise ValueError(f"evidence name {name!r} leads outside the vault directory")
        return path

    def put(self, name: str, data: bytes) -> None:
        path = self._path(name)
        self._make_dirs(path.parent)
        scratch = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(scratch, path)
        except BaseException:
            scratch.unlink(missing_ok=True)
            raise
        _fsync_dir(path.parent)  # so the rename itself survives a crash

    def get(self, name: str) -> bytes:
        try:
            return self._path(name).read_bytes()
        except FileNotFoundError:
            raise KeyError(name) from None

    def delete(self, name: str) -> None:
        path = self._path(name)
        path.unlink(missing_ok=True)
        if path.parent.exists():
            _fsync_dir(path.parent)

    def exists(self, name: str) -> bool:
        return self._path(name).is_file()

    def _make_dirs(self, directory: Path) -> None:
        missing: list[Path] = []
        while not directory.exists():
            missing.append(directory)
            directory = directory.parent
        for each in reversed(missing):
            with contextlib.suppress(FileExistsError):
                each.mkdir(mode=0o700)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Vault:
    """Seals and opens evidence items in a store, under a key ring."""

    def __init__(self, store: EvidenceStore, keys: VaultKeys) -> None:
        self.store = store
        self.keys = keys

    def seal(self, name: str, plaintext: bytes) -> SealedItem:
        check_name(name)  # whatever the store: names end up as paths in bundles too
        key_id = self.keys.current_id
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = AESGCM(self.keys.key(key_id)).encrypt(nonce, plaintext, _aad(name))
        self.store.put(name, MAGIC + key_id.encode("ascii") + nonce + sealed)
        return SealedItem(name=name, sha256=hashlib.sha256(plaintext).hexdigest(),
                          md5=hashlib.md5(plaintext, usedforsecurity=False).hexdigest(),
                          size=len(plaintext), key_id=key_id)

    def open(self, name: str, expected_sha256: str | None = None) -> bytes:
        """The plaintext; KeyError if the item is absent, VaultKeyError if its key is not
        configured, VaultIntegrityError if it fails authentication or the hash check."""
        plaintext, _ = self._open(name)
        if expected_sha256 is not None and \
                hashlib.sha256(plaintext).hexdigest() != expected_sha256.lower():
            raise VaultIntegrityError(f"evidence item {name} does not match its recorded "
                                      "SHA-256")
        return plaintext

    def key_id_of(self, name: str) -> str:
        return _parse_header(name, self.store.get(name))[0]

    def rekey(self, name: str) -> str:
        """Re-encrypts the item under the current key (nothing to do if it already is);
        the store's put replaces the blob atomically. Returns the item's key id."""
        plaintext, key_id = self._open(name)
        if key_id != self.keys.current_id:
            key_id = self.seal(name, plaintext).key_id
        return key_id

    def purge(self, name: str) -> None:
        self.store.delete(name)

    def _open(self, name: str) -> tuple[bytes, str]:
        blob = self.store.get(name)
        key_id, nonce, sealed = _parse_header(name, blob)
        key = self.keys.key(key_id)
        try:
            return AESGCM(key).decrypt(nonce, sealed, _aad(name)), key_id
        except InvalidTag:
            raise VaultIntegrityError(f"evidence item {name} failed its integrity check") \
                from None


def _aad(name: str) -> bytes:
    return name.encode("utf-8")


def _parse_header(name: str, blob: bytes) -> tuple[str, bytes, bytes]:
    if len(blob) < HEADER_BYTES + TAG_BYTES or not blob.startswith(MAGIC):
        raise VaultIntegrityError(f"evidence item {name} failed its integrity check "
                                  "(not a vault blob)")
    key_id = blob[len(MAGIC):len(MAGIC) + KEY_ID_CHARS].decode("latin-1")
    if not _KEY_ID.fullmatch(key_id):
        raise VaultIntegrityError(f"evidence item {name} failed its integrity check "
                                  "(damaged header)")
    nonce = blob[len(MAGIC) + KEY_ID_CHARS:HEADER_BYTES]
    return key_id, nonce, blob[HEADER_BYTES:]
