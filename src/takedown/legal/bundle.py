"""The law-enforcement export: a zip of a case's evidence with a signed manifest.

The manifest lists every file with its SHA-256, MD5 and size; `manifest.sig` is an
Ed25519 signature over the exact bytes of `manifest.json`, and `public-key.pem` the key
that made it. The key inside the bundle shows only that nothing changed since signing;
that the bundle came from us shows only against a public key the agency got another
way (or whose fingerprint it compared with ours, e.g. over the phone).

Signing key: `TAKEDOWN_SIGNING_KEY`, a PEM (PKCS8, unencrypted) Ed25519 private key
file; without it, one is made once in `data_dir/signing-key.pem`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import secrets
import zipfile
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import IO, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from jinja2 import Environment, PackageLoader, Undefined

from takedown.clock import utcnow
from takedown.legal.vault import check_name, create_once

FORMAT = "takedown-evidence-bundle/1"
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
PUBLIC_KEY = "public-key.pem"
RESERVED_NAMES = frozenset({MANIFEST, SIGNATURE, PUBLIC_KEY})
RESERVED_KEYS = frozenset({"format", "created_at", "files", "public_key_fingerprint"})
KEY_FILE = "signing-key.pem"

# Bounds for reading a bundle someone handed us: a zip's sizes are claims, not facts.
MAX_ENTRIES = 100_000
MAX_ENTRY_BYTES = 4 * 1024**3  # one video of evidence; larger is refused, not read
MAX_TOTAL_BYTES = 64 * 1024**3
MAX_SMALL_FILE_BYTES = 64 * 1024**2  # manifest, signature, public key: read into memory
MAX_RATIO = 200  # deflate squeezes text ~10x and media ~1x; only a bomb reaches this
RATIO_FROM_BYTES = 16 * 1024**2  # small entries may compress as they like
CHUNK = 1024**2

# Already compressed: deflating them again costs time and saves nothing.
_STORED_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".gif", ".webp", ".heic", ".avif",
                              ".mp4", ".mov", ".webm", ".mkv", ".avi", ".zip", ".gz"})


class BundleError(Exception):
    """A signing key or bundle that cannot be used; the message says why."""


def load_signing_key(key_path: Path | None,
                     data_dir: Path) -> tuple[Ed25519PrivateKey, str | None]:
    """The key from TAKEDOWN_SIGNING_KEY, or from `data_dir/signing-key.pem` (made on
    first use) when that is unset. The second value is a notice to print at start when
    the key file in the data directory is in use."""
    if key_path is not None:
        return _read_private_key(key_path), None
    path = data_dir / KEY_FILE
    _make_key_file(path)
    notice = (f"bundle signing key kept in {path}: fine for the embedded default; "
              "set TAKEDOWN_SIGNING_KEY in production")
    if path.stat().st_mode & 0o077:
        notice += f" (and {path} is readable by others than its owner: chmod 600 it)"
    return _read_private_key(path), notice


def _read_private_key(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except OSError as exc:
        raise BundleError(f"cannot read the signing key {path}: {exc.strerror}") from None
    except (ValueError, TypeError):
        raise BundleError(f"{path} is not an unencrypted PEM (PKCS8) private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise BundleError(f"{path} holds a {type(key).__name__.removeprefix('_')}; "
                          "bundles are signed with Ed25519 keys only")
    return key


def _make_key_file(path: Path) -> None:
    create_once(path, Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))


def public_key_pem(key: Ed25519PrivateKey) -> str:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM,
        serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")


def key_fingerprint(public_pem: str | bytes) -> str:
    """SHA-256 hex of the raw public key bytes, for people to compare over the phone."""
    return hashlib.sha256(_raw_public_key(_load_public_key(public_pem))).hexdigest()


def _load_public_key(public_pem: str | bytes) -> Ed25519PublicKey:
    data = public_pem.encode("ascii") if isinstance(public_pem, str) else public_pem
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError, UnicodeError):
        raise BundleError("not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise BundleError("not an Ed25519 public key")
    return key


def _raw_public_key(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


# --- writing ------------------------------------------------------------------------


def write_bundle(out: Path, entries: Mapping[str, bytes], key: Ed25519PrivateKey,
                 metadata: Mapping[str, Any]) -> dict[str, Any]:
    """Writes the bundle zip to `out` (mode 0600: it holds the evidence itself), through a
    scratch file renamed into place. Returns the manifest as written.

    `metadata` goes into the manifest beside the fixed keys (`format`, `created_at`,
    `files`, `public_key_fingerprint`, which it may not set); datetimes in it are
    written as ISO 8601."""
    _check_entries(entries, metadata)
    public_pem = public_key_pem(key)
    created = utcnow()
    manifest = {"format": FORMAT, **metadata, "created_at": created.isoformat(),
                "files": [_describe(name, entries[name]) for name in sorted(entries)],
                "public_key_fingerprint": key_fingerprint(public_pem)}
    manifest_bytes = _json_bytes(manifest)
    signature = base64.b64encode(key.sign(manifest_bytes)) + b"\n"
    files = {MANIFEST: manifest_bytes, SIGNATURE: signature,
             PUBLIC_KEY: public_pem.encode("ascii"), **entries}
    _write_zip(out, files, created)
    result: dict[str, Any] = json.loads(manifest_bytes)
    return result


def _check_entries(entries: Mapping[str, bytes], metadata: Mapping[str, Any]) -> None:
    for name in entries:
        try:
            check_name(name)
        except ValueError as exc:
            raise BundleError(str(exc)) from None
        if name in RESERVED_NAMES:
            raise BundleError(f"{name} is written by the bundle itself")
    clash = RESERVED_KEYS.intersection(metadata)
    if clash:
        raise BundleError(f"metadata may not set {', '.join(sorted(clash))}")


def _describe(name: str, data: bytes) -> dict[str, Any]:
    return {"name": name, "sha256": hashlib.sha256(data).hexdigest(),
            "md5": hashlib.md5(data, usedforsecurity=False).hexdigest(), "size": len(data)}


def _json_bytes(value: Any) -> bytes:
    try:
        text = json.dumps(value, indent=2, ensure_ascii=False, default=_json_default)
    except (TypeError, ValueError) as exc:
        raise BundleError(f"metadata cannot be written as JSON: {exc}") from None
    return (text + "\n").encode("utf-8")


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


def _write_zip(out: Path, files: Mapping[str, bytes], created: datetime) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    scratch = out.with_name(f".{out.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    stamp = created.timetuple()[:6]
    try:
        with os.fdopen(fd, "wb") as handle:
            with zipfile.ZipFile(handle, "w") as archive:
                for name, data in files.items():
                    info = zipfile.ZipInfo(name, date_time=stamp)
                    info.compress_type = _compression(name)
                    info.external_attr = 0o600 << 16
                    archive.writestr(info, data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(scratch, out)
    except BaseException:
        scratch.unlink(missing_ok=True)
        raise


def _compression(name: str) -> int:
    suffix = Path(name).suffix.lower()
    return zipfile.ZIP_STORED if suffix in _STORED_SUFFIXES else zipfile.ZIP_DEFLATED


# --- verifying ----------------------------------------------------------------------


@dataclass(frozen=True)
class BundleCheck:
    ok: bool
    problems: list[str] = field(default_factory=list)
    manifest: dict[str, Any] | None = None
    signer_fingerprint: str | None = None
    # True when checked against a public key the caller supplied, not the bundle's own:
    # only then does `ok` say who made the bundle, not just that it is intact.
    trusted_key: bool = False


class _Unreadable(Exception):
    """An entry that cannot or may not be read; the message is the problem."""


def verify_bundle(path: Path, public_key_pem: bytes | None = None) -> BundleCheck:
    """Checks a bundle: the signature over the manifest, and every file against it.
    Never raises for a bad, tampered or non-zip file: `problems` says what is wrong.
    Without `public_key_pem` the bundle's own `public-key.pem` is used, which shows
    integrity only (`trusted_key` False)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return _Verifier(archive, public_key_pem).run()
    except _Unreadable as exc:
        return BundleCheck(ok=False, problems=[str(exc)],
                           trusted_key=public_key_pem is not None)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, zlib.error,
            ValueError, NotImplementedError, RuntimeError) as exc:
        return BundleCheck(ok=False, problems=[f"not a readable zip file: {_say(exc)}"],
                           trusted_key=public_key_pem is not None)


def _say(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


class _Verifier:
    def __init__(self, archive: zipfile.ZipFile, public_key_pem: bytes | None) -> None:
        self.archive = archive
        self.supplied_key = public_key_pem
        self.problems: list[str] = []
        self.entries: dict[str, zipfile.ZipInfo] = {}
        self.refused: set[str] = set()  # already named as a problem: not "missing" too

    def run(self) -> BundleCheck:
        self._index_entries()
        manifest_bytes = self._read_small(MANIFEST)
        manifest = self._parse_manifest(manifest_bytes)
        fingerprint = self._check_signature(manifest_bytes, manifest)
        if manifest is not None:
            self._check_files(manifest["files"])
        return BundleCheck(ok=not self.problems, problems=self.problems, manifest=manifest,
                           signer_fingerprint=fingerprint,
                           trusted_key=self.supplied_key is not None)

    def _index_entries(self) -> None:
        infos = self.archive.infolist()
        if len(infos) > MAX_ENTRIES:
            raise _Unreadable(f"the zip holds {len(infos)} files, more than the "
                              f"{MAX_ENTRIES} allowed: not read")
        total = 0
        for info in infos:
            problem = _entry_problem(info)
            if problem:
                self.problems.append(problem)
                self.refused.add(info.filename)
            elif info.filename in self.entries:
                self.problems.append(f"file appears twice in the zip: {info.filename}")
            else:
                self.entries[info.filename] = info
                total += info.file_size
        if total > MAX_TOTAL_BYTES:
            raise _Unreadable(f"the zip's files claim {total} bytes, more than the "
                              f"{MAX_TOTAL_BYTES} allowed: not read")

    def _read_small(self, name: str) -> bytes | None:
        if name not in self.entries:
            if name not in self.refused:
                self.problems.append(f"missing file: {name}")
            return None
        try:
            return _read_bounded(self.archive, self.entries[name], MAX_SMALL_FILE_BYTES)
        except _Unreadable as exc:
            self.problems.append(str(exc))
            return None

    def _parse_manifest(self, data: bytes | None) -> dict[str, Any] | None:
        if data is None:
            return None
        try:
            manifest = json.loads(data)
        except (ValueError, UnicodeDecodeError):
            self.problems.append(f"{MANIFEST}: not valid JSON")
            return None
        problem = _manifest_problem(manifest)
        if problem:
            self.problems.append(f"{MANIFEST}: {problem}")
            return None
        result: dict[str, Any] = manifest
        return result

    def _check_signature(self, manifest_bytes: bytes | None,
                         manifest: dict[str, Any] | None) -> str | None:
        key = self._verifying_key()
        if key is None:
            return None
        fingerprint = hashlib.sha256(_raw_public_key(key)).hexdigest()
        signature = self._signature()
        if manifest_bytes is not None and signature is not None:
            try:
                key.verify(signature, manifest_bytes)
            except InvalidSignature:
                self.problems.append("manifest signature does not verify")
        if manifest is not None and manifest.get("public_key_fingerprint") != fingerprint:
            self.problems.append("the manifest names another signing key than the one "
                                 "checked against")
        return fingerprint

    def _verifying_key(self) -> Ed25519PublicKey | None:
        source = "the supplied public key"
        pem = self.supplied_key
        if pem is None:
            source, pem = PUBLIC_KEY, self._read_small(PUBLIC_KEY)
            if pem is None:
                return None
        try:
            return _load_public_key(pem)
        except BundleError as exc:
            self.problems.append(f"{source}: {exc}")
            return None

    def _signature(self) -> bytes | None:
        data = self._read_small(SIGNATURE)
        if data is None:
            return None
        try:
            return base64.b64decode(data.strip(), validate=True)
        except (binascii.Error, ValueError):
            self.problems.append(f"{SIGNATURE}: not base64")
            return None

    def _check_files(self, listed: list[dict[str, Any]]) -> None:
        seen: set[str] = set()
        for item in listed:
            name = item["name"]
            if name in seen:
                self.problems.append(f"file listed twice in the manifest: {name}")
                continue
            seen.add(name)
            if name not in self.entries:
                if name not in self.refused:
                    self.problems.append(f"missing file: {name}")
                continue
            self._check_file(self.entries[name], item)
        for name in sorted(self.entries.keys() - seen - RESERVED_NAMES):
            self.problems.append(f"extra file not in the manifest: {name}")

    def _check_file(self, info: zipfile.ZipInfo, item: Mapping[str, Any]) -> None:
        name = info.filename
        try:
            size, sha256, md5 = _digest_bounded(self.archive, info, MAX_ENTRY_BYTES)
        except _Unreadable as exc:
            self.problems.append(str(exc))
            return
        if size != item["size"]:
            self.problems.append(f"{name}: size does not match the manifest")
        if sha256 != item["sha256"].lower():
            self.problems.append(f"{name}: SHA-256 does not match the manifest")
        if md5 != item["md5"].lower():
            self.problems.append(f"{name}: MD5 does not match the manifest")


def _entry_problem(info: zipfile.ZipInfo) -> str | None:
    name = info.filename
    try:
        check_name(name)
    except ValueError:
        return f"unsafe file name in the zip, not read: {name!r}"
    if info.flag_bits & 0x1:
        return f"{name}: encrypted in the zip, not read"
    if info.file_size > MAX_ENTRY_BYTES:
        return f"{name}: claims {info.file_size} bytes, more than the {MAX_ENTRY_BYTES} allowed"
    if info.file_size > RATIO_FROM_BYTES and \
            info.file_size > MAX_RATIO * max(info.compress_size, 1):
        return f"{name}: compressed more than {MAX_RATIO} times, refused as a zip bomb"
    return None


def _manifest_problem(manifest: Any) -> str | None:
    if not isinstance(manifest, dict):
        return "not a JSON object"
    if manifest.get("format") != FORMAT:
        return f"format is {manifest.get('format')!r}, not {FORMAT!r}"
    files = manifest.get("files")
    if not isinstance(files, list):
        return "no list of files"
    for item in files:
        if not (isinstance(item, dict) and isinstance(item.get("name"), str)
                and isinstance(item.get("sha256"), str) and isinstance(item.get("md5"), str)
                and type(item.get("size")) is int):
            return "a file entry lacks its name, sha256, md5 or size"
    return None


def _read_bounded(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    chunks: list[bytes] = []
    _stream(archive, info, limit, chunks.append)
    return b"".join(chunks)


def _digest_bounded(archive: zipfile.ZipFile, info: zipfile.ZipInfo,
                    limit: int) -> tuple[int, str, str]:
    sha256, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)

    def feed(chunk: bytes) -> None:
        sha256.update(chunk)
        md5.update(chunk)

    size = _stream(archive, info, limit, feed)
    return size, sha256.hexdigest(), md5.hexdigest()


def _stream(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int,
            sink: Callable[[bytes], object]) -> int:
    """Feeds the entry's bytes to `sink` in chunks and returns how many there were,
    stopping past `limit` (or past what the entry claims) whatever the headers say."""
    bound = min(limit, info.file_size)
    size = 0
    try:
        with archive.open(info) as handle:
            while chunk := _read_chunk(handle, bound - size + 1):
                size += len(chunk)
                if size > bound:
                    raise _Unreadable(f"{info.filename}: longer than it claims or than "
                                      f"the {limit} bytes allowed, not read")
                sink(chunk)
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error, NotImplementedError,
            RuntimeError, ValueError) as exc:
        raise _Unreadable(f"{info.filename}: damaged in the zip ({_say(exc)})") from None
    return size


def _read_chunk(handle: IO[bytes], most: int) -> bytes:
    return handle.read(min(CHUNK, most))


# --- the case summary ---------------------------------------------------------------


def render_case_summary(summary: Mapping[str, Any]) -> str:
    """A readable, print-friendly HTML page of the case for an investigator. It shows no
    media and loads nothing from anywhere; every value is escaped."""
    return _templates().get_template("case_summary.html").render(
        s=summary, section=lambda key: summary.get(key) or [])


@cache
def _templates() -> Environment:
    env = Environment(loader=PackageLoader("takedown", "legal/templates"), autoescape=True,
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["plain"] = plain_text
    env.filters["pretty"] = _pretty_json
    env.filters["size"] = _human_size
    return env


def plain_text(value: Any) -> str:
    """Any summary value as one line of text: lists joined, mappings as `key: value`,
    datetimes in ISO 8601, None (or a key the summary lacks) as empty."""
    if value is None or isinstance(value, Undefined):
        return ""
    if isinstance(value, datetime | date):
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    if isinstance(value, Mapping):
        return "; ".join(f"{key}: {plain_text(item)}" for key, item in value.items())
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(plain_text(item) for item in value)
    return str(value)


def _pretty_json(value: Any) -> str:
    if value is None or isinstance(value, Undefined) or value == {}:
        return ""
    return json.dumps(value, indent=2, ensure_ascii=False, default=plain_text,
                      sort_keys=True)


def _human_size(value: Any) -> str:
    if not isinstance(value, int) or isinstance(value, bool):
        return plain_text(value)
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if value >= scale:
            return f"{value / scale:.1f} {unit} ({value:,} bytes)"
    return f"{value:,} bytes"
