"""DatabaseEndpoint and SecretFields: what a target's build connects to, checked when created."""

from __future__ import annotations

import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_secretsmanager as secretsmanager
from helpers import pipeline_stack
from hypothesis import given
from hypothesis import strategies as st

from pipeline_constructs.redshift_migration import DEFAULT_REDSHIFT_PORT, DatabaseEndpoint, SecretFields
from pipeline_constructs.testing import deterministic_app


@pytest.fixture(scope="module")
def secret() -> secretsmanager.ISecret:
    return secretsmanager.Secret.from_secret_name_v2(pipeline_stack(deterministic_app(), "S"), "Secret", "s")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"port": 0, "peer": ec2.Peer.ipv4("10.0.0.0/8")},
            r"DatabaseEndpoint: port = 0 is invalid: expected a TCP port",
        ),
        ({"port": True, "peer": ec2.Peer.ipv4("10.0.0.0/8")}, r"port = True is invalid"),
        ({}, r"DatabaseEndpoint: security_group/peer = \(None, None\) is invalid: expected exactly one"),
        ({"peer": "10.0.0.0/8"}, r"peer = '10.0.0.0/8' is invalid: expected an ec2.IPeer"),
        ({"security_group": "sg-123"}, r"security_group = 'sg-123' is invalid: expected an ec2.ISecurityGroup"),
        (
            {"peer": ec2.Peer.ipv4("10.0.0.0/8"), "secret_fields": {"host": "h"}},
            r"secret_fields = .* is invalid: expected a SecretFields",
        ),
        ({"peer": ec2.Peer.ipv4("10.0.0.0/8"), "allow_ingress": "yes"}, r"allow_ingress = 'yes' is invalid"),
    ],
)
def test_bad_database_endpoint(secret, kwargs, message):
    with pytest.raises(ValueError, match=message):
        DatabaseEndpoint(secret=secret, **kwargs)


@pytest.mark.parametrize("value", ["arn:aws:secretsmanager:eu-west-1:111111111111:secret:x", None, {}])
def test_the_secret_must_be_an_isecret(value):
    with pytest.raises(ValueError, match=r"DatabaseEndpoint: secret = .* is invalid: expected an aws_secretsmanager"):
        DatabaseEndpoint(secret=value, peer=ec2.Peer.ipv4("10.0.0.0/8"))


@given(port=st.integers(min_value=-(10**6), max_value=10**6))
def test_ports_from_1_to_65535(port):
    secret = _SECRET[0]
    if 1 <= port <= 65535:
        assert DatabaseEndpoint.from_peer(ec2.Peer.ipv4("10.0.0.0/8"), secret=secret, port=port).port == port
    else:
        with pytest.raises(ValueError, match=rf"DatabaseEndpoint: port = {port} is invalid"):
            DatabaseEndpoint.from_peer(ec2.Peer.ipv4("10.0.0.0/8"), secret=secret, port=port)


_SECRET: list[secretsmanager.ISecret] = []


@pytest.fixture(autouse=True, scope="module")
def _shared_secret(secret):
    _SECRET.append(secret)


def test_the_factories_carry_the_secret_and_its_fields(secret):
    fields = SecretFields(db_name="dbname")
    sg = ec2.SecurityGroup.from_security_group_id(secret.stack, "Sg", "sg-0123456789abcdef0")
    by_group = DatabaseEndpoint.from_security_group(sg, secret=secret, allow_ingress=False, secret_fields=fields)
    by_peer = DatabaseEndpoint.from_peer(ec2.Peer.ipv4("10.0.0.0/8"), secret=secret, port=5440)
    assert (by_group.secret, by_group.secret_fields, by_group.allow_ingress, by_group.port) == (
        secret,
        fields,
        False,
        DEFAULT_REDSHIFT_PORT,
    )
    assert (by_peer.secret, by_peer.secret_fields, by_peer.security_group) == (secret, SecretFields(), None)
    assert by_peer.tcp_port.to_string() == "5440"


@pytest.mark.parametrize("key", ["", "db:name", "db name", "x" * 129])
def test_bad_secret_field(key):
    with pytest.raises(ValueError, match=r"SecretFields: db_name = .* is invalid: expected a JSON key"):
        SecretFields(db_name=key)


def test_secret_fields_must_differ():
    with pytest.raises(ValueError, match=r"SecretFields: keys = 'host' is invalid: names must be unique"):
        SecretFields(username="host")
