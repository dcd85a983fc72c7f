"""The object store under an `s3://bucket/prefix` repository, through boto3.

A small interface, in the repository's own terms: list keys (with their ETags) under a
prefix, read, write, create only if absent (`If-None-Match: *`), replace only if unchanged
(`If-Match: <etag>`), delete. Keys are relative to the repository's prefix. Credentials,
region and endpoint come from boto3's standard chain (`AWS_ACCESS_KEY_ID`, `AWS_PROFILE`,
`~/.aws/config`, an instance or pod role; `AWS_ENDPOINT_URL` for an S3-compatible store).
boto3 is imported here only, when an S3 repository is opened.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from model_repo.errors import DependencyMissing, NotWritable, RepositoryError

SCHEME = "s3://"
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_MISSING = {"NoSuchKey", "404", "NotFound"}
_REFUSED = {"PreconditionFailed", "412", "ConditionalRequestConflict", "409"}
_DENIED = {"AccessDenied", "403", "AllAccessDisabled"}


def is_object_url(root: object) -> bool:
    return isinstance(root, str) and root.startswith(SCHEME)


@dataclass(frozen=True)
class ObjectUrl:
    bucket: str
    prefix: str  # without slashes at either end; "" for the bucket's root

    @classmethod
    def parse(cls, text: str) -> ObjectUrl:
        bucket, _, prefix = text[len(SCHEME) :].partition("/")
        if not _BUCKET.match(bucket):
            raise RepositoryError(
                f"{text!r} is not an S3 repository URL: write s3://BUCKET[/PREFIX] with a "
                "bucket name of 3-63 lower-case letters, digits, dots and dashes"
            )
        return cls(bucket, prefix.strip("/"))

    def __str__(self) -> str:
        return f"{SCHEME}{self.bucket}/{self.prefix}".rstrip("/")


@dataclass(frozen=True)
class Stat:
    etag: str
    modified: datetime  # the store's clock
    now: datetime  # the store's clock when it answered


class ObjectStore:
    """The objects under one bucket and prefix. `requests` counts the calls made."""

    def __init__(self, url: ObjectUrl) -> None:
        self.url = url
        self.requests = 0
        self._client = _client()
        self._errors = _client_errors()

    def where(self, key: str) -> str:
        return f"{self.url}/{key}"

    def listing(self, prefix: str = "", delimiter: str | None = None) -> dict[str, str]:
        """key -> ETag of every object under `prefix` (with `delimiter`: one level, and each
        deeper level as a key ending in it, ETag "")."""
        found: dict[str, str] = {}
        for page in self._pages(prefix, delimiter):
            for entry in page.get("Contents", []):
                found[self._relative(entry["Key"])] = entry["ETag"]
            for common in page.get("CommonPrefixes", []):
                found[self._relative(common["Prefix"])] = ""
        return found

    def read(self, key: str) -> tuple[bytes, str] | None:
        """The object's bytes and ETag; None when there is no such object."""
        answer = self._call("get_object", key)
        if answer is None:
            return None
        with answer["Body"] as body:
            return body.read(), answer["ETag"]

    def download(self, key: str, target: Path) -> None:
        self.requests += 1
        with self._translated(key):
            self._client.download_file(self.url.bucket, self._key(key), str(target))

    def upload(self, key: str, source: Path) -> None:
        self.requests += 1
        with self._translated(key):
            self._client.upload_file(str(source), self.url.bucket, self._key(key))

    def create(self, key: str, body: bytes) -> str | None:
        """Write `key` only if it does not exist: its ETag, or None when it did exist."""
        return self._conditional("put_object", key, Body=body, IfNoneMatch="*")

    def replace(self, key: str, body: bytes, etag: str) -> str | None:
        """Write `key` only if its ETag is still `etag`: the new ETag, or None."""
        return self._conditional("put_object", key, Body=body, IfMatch=etag)

    def delete(self, key: str, etag: str | None = None) -> bool:
        """Remove `key` (only if its ETag is `etag`, when given); False if that did not hold."""
        extra = {} if etag is None else {"IfMatch": etag}
        return self._conditional("delete_object", key, **extra) is not None

    def delete_many(self, keys: list[str]) -> None:
        for start in range(0, len(keys), 1000):  # S3's limit per call
            batch = [{"Key": self._key(k)} for k in keys[start : start + 1000]]
            self.requests += 1
            with self._translated(keys[start]):
                self._client.delete_objects(
                    Bucket=self.url.bucket, Delete={"Objects": batch, "Quiet": True}
                )

    def stat(self, key: str) -> Stat | None:
        answer = self._call("head_object", key)
        if answer is None:
            return None
        now = parsedate_to_datetime(answer["ResponseMetadata"]["HTTPHeaders"]["date"])
        return Stat(answer["ETag"], answer["LastModified"], now)

    def bucket_exists(self) -> bool:
        self.requests += 1
        with self._translated(""):
            try:
                self._client.head_bucket(Bucket=self.url.bucket)
            except self._errors.ClientError as exc:
                if _code(exc) not in _MISSING | {"NoSuchBucket"}:
                    raise
                return False
        return True

    # ---- internals ---------------------------------------------------------------------

    def _key(self, key: str) -> str:
        return f"{self.url.prefix}/{key}" if self.url.prefix else key

    def _relative(self, full: str) -> str:
        return full[len(self.url.prefix) + 1 :] if self.url.prefix else full

    def _pages(self, prefix: str, delimiter: str | None) -> Iterator[dict[str, Any]]:
        args: dict[str, Any] = {"Bucket": self.url.bucket, "Prefix": self._key(prefix)}
        if delimiter:
            args["Delimiter"] = delimiter
        while True:
            self.requests += 1
            with self._translated(prefix):
                page: dict[str, Any] = self._client.list_objects_v2(**args)
            yield page
            if not page.get("IsTruncated"):
                return
            args["ContinuationToken"] = page["NextContinuationToken"]

    def _call(self, method: str, key: str, **args: Any) -> dict[str, Any] | None:
        """The answer of `method` on `key`; None when the object does not exist."""
        self.requests += 1
        with self._translated(key):
            try:
                answer: dict[str, Any] = getattr(self._client, method)(
                    Bucket=self.url.bucket, Key=self._key(key), **args
                )
            except self._errors.ClientError as exc:
                if _code(exc) in _MISSING:
                    return None
                raise
        return answer

    def _conditional(self, method: str, key: str, **args: Any) -> str | None:
        """The ETag ("" for a delete) of a conditional call; None when its condition failed."""
        self.requests += 1
        with self._translated(key):
            try:
                answer = getattr(self._client, method)(
                    Bucket=self.url.bucket, Key=self._key(key), **args
                )
            except self._errors.ClientError as exc:
                if _code(exc) in _REFUSED or _code(exc) in _MISSING:
                    return None
                raise
        return str(answer.get("ETag", ""))

    @contextlib.contextmanager
    def _translated(self, key: str) -> Iterator[None]:
        """boto3's errors as the repository's, naming the object and the way out."""
        try:
            yield
        except (self._errors.BotoCoreError, self._errors.ClientError) as exc:
            raise self._translate(exc, self.where(key)) from exc

    def _translate(self, exc: Exception, where: str) -> RepositoryError:
        if isinstance(exc, self._errors.NoCredentialsError):
            return RepositoryError(
                f"no AWS credentials for {where}: set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or run with an instance or pod role"
            )
        code = _code(exc) if isinstance(exc, self._errors.ClientError) else ""
        if code == "NoSuchBucket":
            return RepositoryError(
                f"bucket {self.url.bucket!r} does not exist ({where}); create it first, or "
                "give the right --repo / MODELPORT_REPO"
            )
        if code in _DENIED:
            return NotWritable(f"access to {where} is denied ({exc}); check the credentials")
        return RepositoryError(f"{where} cannot be used: {type(exc).__name__}: {exc}")


def _code(exc: Any) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _client() -> Any:
    try:
        import boto3
        from botocore.config import Config
    except ImportError as exc:
        raise DependencyMissing(
            "s3:// repositories need boto3, which is not installed: pip install 'modelport[s3]'"
        ) from exc
    config = Config(retries={"mode": "standard", "max_attempts": 5}, max_pool_connections=32)
    return boto3.session.Session().client("s3", config=config)


def _client_errors() -> Any:
    import botocore.exceptions

    return botocore.exceptions
