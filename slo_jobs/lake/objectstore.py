"""The lake on an S3-compatible object store: ``s3://bucket/prefix``.

:class:`ObjectPath` offers the part of :class:`pathlib.Path` the lake uses (``/``,
``parent``, ``name``, ``exists``, ``read_bytes``, ``glob``), so code that builds partition
paths works on either; :mod:`slo_jobs.lake.storage` is the one place that reads and writes
differently.

Every request is one S3 API call through botocore; pyarrow encodes and decodes the Parquet
bytes, as for a local lake. pyarrow's own ``S3FileSystem`` was the first choice and was
measured out, for three reasons:

- a write must be one ``PutObject`` of the complete file, sent with ``If-Match`` /
  ``If-None-Match`` for a read-merge-write; pyarrow sends no conditions, and its output
  stream switches to a multipart upload for large files (a killed writer would leave an
  incomplete upload behind). A single PUT is atomic: readers see the old object or the new
  one, and a writer killed mid-upload leaves nothing, not even a part;
- a read must be one ``GetObject``, whose body and ETag are one version. pyarrow's reader
  asks for the size first (HEAD) and then for byte ranges, so a writer replacing the object
  in between hands it the new version cut at the old one's length: the concurrent-writer
  test read such torn partitions;
- pyarrow 26's S3 layer aborted about one process in five at exit after reading Parquet
  ("terminate called without an active exception", apache/arrow#34314), which fails a task.

See docs/architecture.md, "The lake on an object store".
"""

from __future__ import annotations

import fnmatch
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ..core import redaction
from ..core.errors import LakeError

SCHEME = "s3://"
# S3 bucket names: 3-63 lower-case letters, digits, dots and dashes.
_BUCKET_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789.-")


@dataclass(frozen=True)
class ObjectStoreConfig:
    """Where the store is and who we are there. Credentials never appear in ``repr``;
    without them botocore uses its default chain (config files, instance roles, ...)."""

    endpoint_url: str | None = None  # None: AWS itself
    region: str | None = None
    access_key: str | None = field(default=None, repr=False)
    secret_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        redaction.register(self.access_key, self.secret_key, self.session_token)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ObjectStoreConfig:
        """``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` / ``AWS_SESSION_TOKEN``,
        ``AWS_ENDPOINT_URL`` (a MinIO, Ceph or other S3-compatible server) and
        ``AWS_REGION`` (or ``AWS_DEFAULT_REGION``)."""
        e = os.environ if env is None else env

        def get(*names: str) -> str | None:
            return next((e[n] for n in names if e.get(n)), None)

        return cls(endpoint_url=get("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"),
                   region=get("AWS_REGION", "AWS_DEFAULT_REGION"),
                   access_key=get("AWS_ACCESS_KEY_ID"), secret_key=get("AWS_SECRET_ACCESS_KEY"),
                   session_token=get("AWS_SESSION_TOKEN"))

    @classmethod
    def from_connection(cls, login: str | None, password: str | None,
                        extra: Mapping[str, Any] | None = None) -> ObjectStoreConfig:
        """The parts of an Airflow Connection of type ``aws``: login and password are the
        access key and secret; ``extra`` may hold ``endpoint_url``, ``region_name`` and
        ``aws_session_token`` (the names Airflow's Amazon provider uses)."""
        x = extra or {}

        def opt(key: str) -> str | None:
            value = x.get(key)
            return str(value) if value else None

        return cls(endpoint_url=opt("endpoint_url"), region=opt("region_name"),
                   access_key=login or None, secret_key=password or None,
                   session_token=opt("aws_session_token"))


class ObjectStore:
    """One bucket and how to reach it; the clients are made on first use, in each process
    (a forked or unpickled copy makes its own)."""

    def __init__(self, bucket: str, config: ObjectStoreConfig) -> None:
        if not (3 <= len(bucket) <= 63 and set(bucket) <= _BUCKET_CHARS):
            raise LakeError(f"lake URL: bucket {bucket!r} is not a valid S3 bucket name; "
                            "expected 3-63 lower-case letters, digits, dots or dashes")
        self.bucket, self.config = bucket, config
        self._guard = threading.Lock()
        self._client: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {"bucket": self.bucket, "config": self.config}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["bucket"], state["config"])  # type: ignore[misc]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ObjectStore) and (self.bucket, self.config) == (
            other.bucket, other.config)

    def __hash__(self) -> int:
        return hash((self.bucket, self.config.endpoint_url))

    @property
    def client(self) -> Any:
        with self._guard:
            if self._client is None:
                import botocore.config
                import botocore.session

                c = self.config
                self._client = botocore.session.get_session().create_client(
                    "s3", region_name=c.region or "us-east-1", endpoint_url=c.endpoint_url,
                    aws_access_key_id=c.access_key, aws_secret_access_key=c.secret_key,
                    aws_session_token=c.session_token,
                    config=botocore.config.Config(retries={"mode": "standard"}))
            return self._client


def parse_url(url: str, config: ObjectStoreConfig | None = None) -> ObjectPath:
    """``s3://bucket/prefix`` as the lake's root; the config defaults to the environment."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc or parts.query or parts.fragment \
            or "@" in parts.netloc:
        raise LakeError(f"lake URL {redaction.redact(url)!r}: expected s3://bucket/prefix "
                        "(credentials come from the environment or a connection, not the URL)")
    return ObjectPath(ObjectStore(parts.netloc, config or ObjectStoreConfig.from_env()),
                      parts.path.strip("/"))


def _error_code(exc: Exception) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


class ObjectPath:
    """An object key (or key prefix, for a "folder") in a store, used like a Path.

    ``journal``: where a set being published (:mod:`slo_jobs.lake.objectsets`) notes the ETag
    of every object written through this path or a path below it."""

    __slots__ = ("journal", "key", "store")

    def __init__(self, store: ObjectStore, key: str = "",
                 journal: dict[str, str] | None = None) -> None:
        self.store, self.key, self.journal = store, key.strip("/"), journal

    def __truediv__(self, part: str) -> ObjectPath:
        return ObjectPath(self.store, f"{self.key}/{part}" if self.key else part, self.journal)

    def recording(self, journal: dict[str, str]) -> ObjectPath:
        """This path, noting in ``journal`` (key -> ETag) what is written below it."""
        return ObjectPath(self.store, self.key, journal)

    @property
    def parent(self) -> ObjectPath:
        return ObjectPath(self.store, self.key.rpartition("/")[0])

    @property
    def name(self) -> str:
        return self.key.rpartition("/")[2]

    def __str__(self) -> str:
        return SCHEME + (f"{self.store.bucket}/{self.key}" if self.key else self.store.bucket)

    def __repr__(self) -> str:
        return f"ObjectPath({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ObjectPath) and (self.store, self.key) == (other.store,
                                                                           other.key)

    def __hash__(self) -> int:
        return hash((self.store, self.key))

    def __lt__(self, other: ObjectPath) -> bool:
        return self.key < other.key

    def _fail(self, what: str, exc: Exception) -> LakeError:
        reason = redaction.redact(" ".join(str(exc).split()))[:200]
        return LakeError(f"{self}: cannot {what} ({reason}); expected a reachable bucket and "
                         "credentials allowed to read and write it (AWS_ACCESS_KEY_ID, "
                         "AWS_SECRET_ACCESS_KEY, AWS_ENDPOINT_URL or the lake's connection)")

    def exists(self) -> bool:
        """An object at this key, or objects below it (a "folder")."""
        try:
            self.store.client.head_object(Bucket=self.store.bucket, Key=self.key)
            return True
        except Exception as exc:
            if _error_code(exc) not in ("404", "NoSuchKey", "NotFound"):
                raise self._fail("look up", exc) from None
        return self.is_dir()

    def is_dir(self) -> bool:
        try:
            got = self.store.client.list_objects_v2(Bucket=self.store.bucket,
                                                    Prefix=self._prefix, MaxKeys=1)
        except Exception as exc:
            raise self._fail("list", exc) from None
        return bool(got.get("KeyCount"))

    @property
    def _prefix(self) -> str:
        return f"{self.key}/" if self.key else ""

    def read_bytes(self) -> bytes:
        """The whole object in one GET. A missing one raises FileNotFoundError, as a Path."""
        data, _ = self.read_versioned()
        if data is None:
            raise FileNotFoundError(str(self))
        return data

    def read_versioned(self) -> tuple[bytes | None, str | None]:
        """The object and its ETag from one GET (so the two belong together); (None, None)
        when there is no such object."""
        try:
            got = self.store.client.get_object(Bucket=self.store.bucket, Key=self.key)
            data: bytes = got["Body"].read()
        except Exception as exc:
            if _error_code(exc) in ("NoSuchKey", "404"):
                return None, None
            raise self._fail("read", exc) from None
        return data, got.get("ETag")

    def read_if(self, etag: str) -> bytes | None:
        """The object in one GET if it is still the version ``etag`` (``If-Match``); None
        when it was replaced (412) or deleted since."""
        try:
            got = self.store.client.get_object(Bucket=self.store.bucket, Key=self.key,
                                               IfMatch=etag)
            data: bytes = got["Body"].read()
        except Exception as exc:
            if _error_code(exc) in ("PreconditionFailed", "412", "NoSuchKey", "404"):
                return None
            raise self._fail("read", exc) from None
        return data

    def etag(self) -> str | None:
        """The ETag of the object there now (one HEAD); None when there is none."""
        try:
            got = self.store.client.head_object(Bucket=self.store.bucket, Key=self.key)
        except Exception as exc:
            if _error_code(exc) in ("404", "NoSuchKey", "NotFound"):
                return None
            raise self._fail("look up", exc) from None
        return str(got.get("ETag")) if got.get("ETag") else None

    def put(self, data: bytes) -> str:
        """Replace the object with ``data`` in one PUT; its new ETag."""
        etag = self.put_if(data, True)
        if etag is None:
            raise LakeError(f"{self}: the store refused an unconditional write")
        return etag

    def put_if(self, data: bytes, etag: str | None | bool) -> str | None:
        """:meth:`put` over the version ``etag`` only (``If-Match``), or with ``etag`` None
        only where no object is (``If-None-Match: *``); True: unconditionally. Returns the
        new version's ETag, or None when the condition failed: another writer got there
        first."""
        cond: dict[str, str] = {}
        if etag is None:
            cond["IfNoneMatch"] = "*"
        elif isinstance(etag, str):
            cond["IfMatch"] = etag
        try:
            got = self.store.client.put_object(Bucket=self.store.bucket, Key=self.key,
                                               Body=data, **cond)
        except Exception as exc:
            # 409 ConditionalRequestConflict: a concurrent conditional write was in flight;
            # NoSuchKey: the version expected was deleted meanwhile.
            if cond and _error_code(exc) in ("PreconditionFailed",
                                             "ConditionalRequestConflict", "NoSuchKey"):
                return None
            raise self._fail("write", exc) from None
        written = got.get("ETag")
        if not written:  # a set's manifest names its files by ETag: it cannot do without
            raise LakeError(f"{self}: the store answered a write without an ETag; expected "
                            "an S3-compatible store that returns one")
        if self.journal is not None:
            self.journal[self.key] = str(written)
        return str(written)

    def unlink(self, missing_ok: bool = False) -> None:
        """Delete the object (S3 answers a missing one as a success)."""
        try:
            self.store.client.delete_object(Bucket=self.store.bucket, Key=self.key)
        except Exception as exc:
            raise self._fail("delete", exc) from None

    def below(self) -> list[ObjectPath]:
        """Every object below this prefix (one listing, page by page)."""
        try:
            pages = self.store.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.store.bucket, Prefix=self._prefix)
            return [ObjectPath(self.store, o["Key"]) for page in pages
                    for o in page.get("Contents", [])]
        except Exception as exc:
            raise self._fail("list", exc) from None

    def glob(self, pattern: str) -> list[ObjectPath]:
        """Objects below this prefix whose relative key matches ``pattern`` segment by
        segment (``*`` stays within one segment, as in Path.glob)."""
        want = pattern.split("/")
        out = []
        for obj in self.below():
            rel = obj.key[len(self._prefix):].split("/")
            if len(rel) == len(want) and all(fnmatch.fnmatchcase(r, w)
                                             for r, w in zip(rel, want, strict=True)):
                out.append(obj)
        return sorted(out)
