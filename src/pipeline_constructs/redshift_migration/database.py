"""What a target's migration build connects to: the database's network endpoint and its secret."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_secretsmanager as secretsmanager

from pipeline_constructs.core.validation import (
    invalid,
    require_bool,
    require_instance,
    require_interface,
    require_str,
    require_unique,
    wrong_type,
)

__all__ = ["DEFAULT_REDSHIFT_PORT", "SECRET_ENVIRONMENT_VARIABLES", "DatabaseEndpoint", "SecretFields"]

#: Redshift's default port (provisioned clusters and Serverless workgroups).
DEFAULT_REDSHIFT_PORT = 5439

#: Environment variable -> :class:`SecretFields` attribute. Each is a CodeBuild
#: ``SECRETS_MANAGER`` variable (``<secret>:<json key>``): CodeBuild resolves it
#: when the build starts and masks it in logs; the template holds only the reference.
SECRET_ENVIRONMENT_VARIABLES: Mapping[str, str] = {
    "REDSHIFT_HOST": "host",
    "REDSHIFT_PORT": "port",
    "REDSHIFT_DB_NAME": "db_name",
    "REDSHIFT_USER": "username",
    "REDSHIFT_PASSWORD": "password",
}

_JSON_KEY = re.compile(r"[A-Za-z0-9_.@-]{1,128}")  # no ':' (CodeBuild's separator) nor spaces
_PORT = "expected a TCP port number from 1 to 65535, e.g. 5439"


@dataclass(frozen=True)
class SecretFields:
    """JSON keys of a target's Secrets Manager secret.

    The defaults are the keys of the original post's secrets; Redshift's own
    rotation functions name the database key ``dbname``.

    :param host: key of the cluster or workgroup endpoint host. Default: ``"host"``.
    :param port: key of the port. Default: ``"port"``.
    :param db_name: key of the database name. Default: ``"dbName"``.
    :param username: key of the user Flyway and the tests connect as. Default: ``"username"``.
    :param password: key of that user's password. Default: ``"password"``.
    """

    host: str = "host"
    port: str = "port"
    db_name: str = "dbName"
    username: str = "username"
    password: str = "password"

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            require_str(
                "SecretFields",
                f.name,
                getattr(self, f.name),
                pattern=_JSON_KEY,
                allowed="expected a JSON key of 1-128 characters from A-Z, a-z, 0-9, '_', '.', '@', '-' "
                "(':' separates CodeBuild's secret reference)",
            )
        require_unique("SecretFields", "keys", [getattr(self, f.name) for f in dataclasses.fields(self)])


@dataclass(frozen=True)
class DatabaseEndpoint:
    """One target's database: the secret its build signs in with, and how the build reaches it.

    Prefer :meth:`from_security_group`; use :meth:`from_peer` when the
    database's security group is not in this app (e.g. the endpoint's subnet
    CIDR, or a prefix list).

    :param secret: the Secrets Manager secret with the connection (host, port,
        database, user, password; keys in ``secret_fields``). Only this target's
        build role can read it. Import an existing one with
        ``Secret.from_secret_name_v2`` (same account and region as the pipeline),
        ``Secret.from_secret_complete_arn`` (another account) or
        ``Secret.from_secret_attributes`` (pass ``encryption_key`` when it is
        encrypted with a customer-managed key).
    :param port: the database port. Default: ``5439``.
    :param security_group: the database's security group; the build's
        security group gets egress to it on ``port``. Default: none.
    :param peer: the address range of the endpoint (``ec2.Peer.ipv4(...)``,
        ``ec2.Peer.prefix_list(...)``). Default: none. Exactly one of
        ``security_group`` and ``peer`` is required.
    :param allow_ingress: also add an ingress rule for the build's security
        group to ``security_group`` (the post's "the cluster's security group
        also needs to allow access from the CodeBuild security group").
        Default: ``True``. Only with ``security_group``.
    :param secret_fields: the secret's JSON keys. Default: ``SecretFields()``.
    """

    secret: secretsmanager.ISecret
    port: int = DEFAULT_REDSHIFT_PORT
    security_group: ec2.ISecurityGroup | None = None
    peer: ec2.IPeer | None = None
    allow_ingress: bool = True
    secret_fields: SecretFields = field(default_factory=SecretFields)

    def __post_init__(self) -> None:
        where = "DatabaseEndpoint"
        require_interface(where, "secret", self.secret, "secret_arn", "expected an aws_secretsmanager.ISecret")
        if not hasattr(self.secret, "grant_read"):
            raise wrong_type(where, "secret", self.secret, "expected an aws_secretsmanager.ISecret")
        if isinstance(self.port, bool) or not isinstance(self.port, int):
            raise wrong_type(where, "port", self.port, _PORT)
        if not 1 <= self.port <= 65535:
            raise invalid(where, "port", self.port, _PORT)
        if (self.security_group is None) == (self.peer is None):
            raise invalid(
                where,
                "security_group/peer",
                (self.security_group, self.peer),
                "expected exactly one: the database's security group, or its address range as an ec2.IPeer",
            )
        if self.security_group is not None:
            require_interface(
                where, "security_group", self.security_group, "security_group_id", "expected an ec2.ISecurityGroup"
            )
        if self.peer is not None:
            require_interface(
                where,
                "peer",
                self.peer,
                "to_egress_rule_config",
                "expected an ec2.IPeer such as ec2.Peer.ipv4('10.0.64.0/20')",
            )
        require_bool(where, "allow_ingress", self.allow_ingress)
        require_instance(where, "secret_fields", self.secret_fields, SecretFields, "expected a SecretFields")

    @classmethod
    def from_security_group(
        cls,
        security_group: ec2.ISecurityGroup,
        *,
        secret: secretsmanager.ISecret,
        port: int = DEFAULT_REDSHIFT_PORT,
        allow_ingress: bool = True,
        secret_fields: SecretFields | None = None,
    ) -> DatabaseEndpoint:
        """A database behind ``security_group`` listening on ``port``, signed in to with ``secret``."""
        return cls(
            secret=secret,
            port=port,
            security_group=security_group,
            allow_ingress=allow_ingress,
            secret_fields=secret_fields if secret_fields is not None else SecretFields(),
        )

    @classmethod
    def from_peer(
        cls,
        peer: ec2.IPeer,
        *,
        secret: secretsmanager.ISecret,
        port: int = DEFAULT_REDSHIFT_PORT,
        secret_fields: SecretFields | None = None,
    ) -> DatabaseEndpoint:
        """A database reachable at ``peer`` (an address range or prefix list) on ``port``."""
        return cls(
            secret=secret,
            port=port,
            peer=peer,
            secret_fields=secret_fields if secret_fields is not None else SecretFields(),
        )

    @property
    def tcp_port(self) -> ec2.Port:
        """The port as an ``ec2.Port``."""
        return ec2.Port.tcp(self.port)
