"""RedshiftMigrationPipeline's own props, checked at construct time: databases per target, target order, network."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_secretsmanager as secretsmanager
from hypothesis import given, settings
from hypothesis import strategies as st
from redshift_migration.redshift_helpers import construct, database, new_stack, source, target

from pipeline_constructs.redshift_migration import RedshiftMigrationPipeline
from pipeline_constructs.redshift_migration._props import check_databases, check_gates, is_production


def test_no_targets():
    with pytest.raises(ValueError, match=r"S/M: targets = \[\] is invalid: expected at least one DeploymentTarget"):
        construct(targets=[], databases={})


def test_target_of_the_wrong_type():
    with pytest.raises(ValueError, match=r"S/M: targets\[0\] = 'Test' is invalid: expected a DeploymentTarget"):
        construct(targets=["Test"], databases={})


def test_duplicate_target_names():
    with pytest.raises(ValueError, match=r"S/M: targets\[\]\.name = 'test' is invalid: names must be unique"):
        construct(targets=[target("Test"), target("test")])


def test_a_database_missing_for_a_target_is_named():
    with pytest.raises(
        ValueError,
        match=r"S/M: databases = \['Test'\] is invalid: expected exactly one DatabaseEndpoint per target "
        r"\('Test', 'Prod'\): no entry for 'Prod'$",
    ):
        construct(
            targets=[target("Test"), target("Prod", manual_approval=True)],
            databases=lambda s: {"Test": database(s, "Test")},
        )


def test_a_database_for_an_unknown_target_is_named():
    with pytest.raises(
        ValueError,
        match=r"S/M: databases = \['Prod', 'Staging', 'Test'\] is invalid: .*\('Test'\): "
        r"no target named 'Staging', 'Prod'$",
    ):
        construct(databases=lambda s: {n: database(s, n) for n in ("Test", "Staging", "Prod")})


def test_missing_and_unknown_together():
    with pytest.raises(ValueError, match=r"no entry for 'Test'; no target named 'Tset'$"):
        construct(databases=lambda s: {"Tset": database(s, "Tset")})


@given(
    names=st.lists(st.sampled_from(["Dev", "Test", "Stage", "Prod", "Qa"]), min_size=1, max_size=5, unique=True),
    keys=st.sets(st.sampled_from(["Dev", "Test", "Stage", "Prod", "Qa", "dev", "Other"])),
)
@settings(max_examples=40, deadline=None)
def test_databases_must_cover_exactly_the_targets(names, keys):
    stack, _ = new_stack()
    targets = [target(n) for n in names]
    databases = {k: database(stack, k) for k in keys}
    if keys == set(names):
        assert list(check_databases("S/M", targets, databases)) == names  # in target order
        return
    with pytest.raises(ValueError, match=r"expected exactly one DatabaseEndpoint per target") as raised:
        check_databases("S/M", targets, databases)
    message = str(raised.value)
    assert message.startswith("S/M: databases = ")
    for name in set(names) - keys:
        assert f"'{name}'" in message.split("no entry for ")[1].split(";")[0]
    for key in keys - set(names):
        assert f"'{key}'" in message.split("no target named ")[1]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (["Test"], r"S/M: databases = \['Test'\] is invalid: expected a mapping of target name -> DatabaseEndpoint"),
        ({"Test": "10.0.0.0/24"}, r"S/M: databases\['Test'\] = '10.0.0.0/24' is invalid: expected a DatabaseEndpoint"),
        ({1: None}, r"S/M: databases key = 1 is invalid: expected a target name"),
    ],
)
def test_databases_of_the_wrong_shape(value, message):
    with pytest.raises(ValueError, match=message):
        construct(databases=value)


def test_targets_sharing_a_secret():
    def databases(stack: cdk.Stack) -> dict[str, Any]:
        shared = secretsmanager.Secret.from_secret_name_v2(stack, "Shared", "shared")
        return {"Test": database(stack, "Test", secret=shared), "Prod": database(stack, "Prod", secret=shared)}

    with pytest.raises(
        ValueError, match=r"S/M: databases\['Prod'\]\.secret = .* is invalid: each target needs its own secret"
    ):
        construct(targets=[target("Test"), target("Prod", manual_approval=True)], databases=databases)


@pytest.mark.parametrize("where", ["arn", "name"])
def test_a_secret_outside_its_targets_account_is_refused(where):
    def databases(stack: cdk.Stack) -> dict[str, Any]:
        if where == "arn":
            arn = "arn:aws:secretsmanager:eu-west-1:999999999999:secret:db-AbCdEf"
            secret = secretsmanager.Secret.from_secret_complete_arn(stack, "Other", arn)
        else:  # a name resolves in the pipeline's account, not the target's
            secret = secretsmanager.Secret.from_secret_name_v2(stack, "Other", "db")
        return {"Test": database(stack, "Test", secret=secret)}

    with pytest.raises(
        ValueError, match=r"S/M: databases\['Test'\]\.secret = .* is invalid: expected a secret in the target's account"
    ):
        construct(targets=[target("Test", account="333333333333")], databases=databases)


def test_production_before_any_test_target():
    with pytest.raises(
        ValueError,
        match=r"S/M: targets = \['Prod', 'Test'\] is invalid: expected a test target \(manual_approval=False\) "
        r"before the first production target",
    ):
        construct(targets=[target("Prod", manual_approval=True), target("Test")])


@given(approvals=st.lists(st.booleans(), min_size=1, max_size=6))
@settings(max_examples=60, deadline=None)
def test_the_production_rule(approvals):
    targets = [target(f"T{i}", manual_approval=a) for i, a in enumerate(approvals)]
    assert [is_production(t) for t in targets] == approvals
    if True in approvals and not any(not a for a in approvals[: approvals.index(True)]):
        with pytest.raises(ValueError, match=r"expected a test target"):
            check_gates("S/M", targets, None)
    else:
        check_gates("S/M", targets, None)


def test_vpc_outside_the_pipeline_account():
    stack, _ = new_stack()
    other = cdk.Stack(stack.node.root, "Other", env=cdk.Environment(account="222222222222", region="eu-west-1"))
    vpc = ec2.Vpc.from_vpc_attributes(
        other, "Vpc", vpc_id="vpc-2", availability_zones=["eu-west-1a"], private_subnet_ids=["subnet-2"]
    )
    with pytest.raises(
        ValueError,
        match=r"S/M: vpc = '222222222222/eu-west-1' is invalid: expected a VPC in the pipeline's account and region "
        r"\(111111111111/eu-west-1\): CodeBuild runs the migration builds there",
    ):
        RedshiftMigrationPipeline(
            stack, "M", source=source(), targets=[target()], vpc=vpc, databases={"Test": database(stack)}
        )


def test_public_build_subnets():
    with pytest.raises(ValueError, match=r"S/M: subnet_selection = .* is invalid: expected private subnets"):
        construct(subnet_selection=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC))


def test_subnet_selection_matching_nothing():
    with pytest.raises(ValueError, match=r"S/M: subnet_selection = .* is invalid: selects no subnets"):
        construct(subnet_selection=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED))


@pytest.mark.parametrize(
    ("prop", "value", "message"),
    [
        ("source", None, r"S/M: source = None is invalid: expected a pipelines.IFileSetProducer"),
        ("vpc", "vpc-123", r"S/M: vpc = 'vpc-123' is invalid: expected an ec2.IVpc"),
        ("commands", ["mvn test"], r"S/M: commands = \['mvn test'\] is invalid: expected a MigrationCommands"),
        ("timeout", 30, r"S/M: timeout = 30 is invalid: expected an aws_cdk.Duration"),
        ("timeout", cdk.Duration.minutes(1), r"S/M: timeout = .* is invalid"),
        ("https_egress", "0.0.0.0/0", r"S/M: https_egress = '0.0.0.0/0' is invalid: expected an ec2.IPeer"),
        ("build_environment", {}, r"S/M: build_environment = \{\} is invalid: expected a BuildEnvironment"),
        ("synth_commands", "cdk synth", r"S/M: synth_commands = 'cdk synth' is invalid: expected a list of shell"),
        ("app_dir", "../up", r"S/M: app_dir = '../up' is invalid: expected a path relative"),
        ("pipeline_name", "no spaces", r"S/M: pipeline_name = 'no spaces' is invalid"),
        ("pipeline_name", "", r"S/M: pipeline_name = '' is invalid"),
        ("stage_factory", "Stage", r"S/M: stage_factory = 'Stage' is invalid: expected a \(scope, id, target\)"),
        ("pipeline_options", {"nope": 1}, r"S/M: pipeline_options\['nope'\] = 1 is invalid"),
    ],
)
def test_bad_construct_props(prop, value, message):
    with pytest.raises(ValueError, match=message):
        construct(**{prop: value})


def test_plain_environment_variables_are_refused():
    env = codebuild.BuildEnvironment(
        environment_variables={"DB_PASSWORD": codebuild.BuildEnvironmentVariable(value="x")}
    )
    with pytest.raises(ValueError, match=r"build_environment.environment_variables = \['DB_PASSWORD'\] is invalid"):
        construct(build_environment=env)
