"""The code a Flink application is created with: a local asset, an object in a bucket, or the placeholder."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from pipeline_constructs.core.validation import (
    invalid,
    require_interface,
    require_sequence,
    require_str,
    wrong_type,
)

__all__ = ["BOOTSTRAP_CODE_DIR", "BoundCode", "FlinkCode"]

#: Placeholder code the application is created with until the application pipeline's first release.
BOOTSTRAP_CODE_DIR = Path(__file__).resolve().parent / "bootstrap"


@dataclass(frozen=True)
class BoundCode:
    """Where an application's code is, once bound to a scope."""

    bucket_arn: str
    key: str
    object_version: str | None
    read_resources: tuple[str, ...]


class FlinkCode:
    """The code a :class:`FlinkApplication` is created with (a JAR, or a zip for Python)."""

    def __init__(self, description: str) -> None:
        self._description = description

    def __repr__(self) -> str:
        return f"FlinkCode({self._description})"

    @staticmethod
    def from_asset(path: str | Path, *, exclude: Sequence[str] = ()) -> FlinkCode:
        """A local file (a JAR or zip) or directory (zipped), uploaded as a CDK asset.

        :param exclude: glob patterns left out of a directory. Default: none.
        """
        where = "FlinkCode.from_asset"
        if not isinstance(path, (str, Path)) or not str(path).strip():
            raise wrong_type(where, "path", path, "expected a file or directory path (str or pathlib.Path)")
        patterns = require_sequence(
            where,
            "exclude",
            exclude,
            item=lambda w, p, v: require_str(w, p, v, allowed="expected a glob pattern"),
            allowed="expected a list of glob patterns",
        )
        return _AssetCode(Path(path), patterns)

    @staticmethod
    def from_bucket(bucket: s3.IBucket, key: str, *, object_version: str | None = None) -> FlinkCode:
        """An object in a bucket (pin ``object_version`` in a versioned bucket)."""
        where = "FlinkCode.from_bucket"
        require_interface(where, "bucket", bucket, "bucket_arn", "expected an s3.IBucket")
        require_str(where, "key", key, allowed="expected an object key", max_length=1024, tokens=True)
        if object_version is not None:
            require_str(
                where, "object_version", object_version, allowed="expected an S3 object version id", tokens=True
            )
        return _BucketCode(bucket, key, object_version)

    @staticmethod
    def bootstrap() -> FlinkCode:
        """The library's placeholder: lets CloudFormation create the application before its first release."""
        return _AssetCode(BOOTSTRAP_CODE_DIR, ())

    def bind(self, scope: Construct) -> BoundCode:  # pragma: no cover - abstract
        raise NotImplementedError


class _AssetCode(FlinkCode):
    def __init__(self, path: Path, exclude: tuple[str, ...]) -> None:
        super().__init__(f"asset {path}")
        self._path = path
        self._exclude = exclude

    def bind(self, scope: Construct) -> BoundCode:
        if not self._path.exists():
            raise invalid(scope.node.path, "code", str(self._path), "expected an existing file or directory")
        asset = s3_assets.Asset(scope, "Code", path=str(self._path), exclude=list(self._exclude) or None)
        return BoundCode(
            asset.bucket.bucket_arn, asset.s3_object_key, None, (asset.bucket.arn_for_objects(asset.s3_object_key),)
        )


class _BucketCode(FlinkCode):
    def __init__(self, bucket: s3.IBucket, key: str, object_version: str | None) -> None:
        super().__init__(f"s3 object {key}")
        self._bucket = bucket
        self._key = key
        self._version = object_version

    def bind(self, scope: Construct) -> BoundCode:
        if not isinstance(self._key, str) or not self._key or "*" in self._key:
            raise invalid(scope.node.path, "code.key", self._key, "expected an object key without wildcards")
        return BoundCode(self._bucket.bucket_arn, self._key, self._version, (self._bucket.arn_for_objects(self._key),))
