"""Property tests of the value-object validators: each accepts exactly what its rule allows.

Every validator is checked against an independent reference (written with ``str`` methods, not
the validator's regular expression) over generated input: valid values built from the rule's parts,
and near misses (a trailing newline, non-ASCII digits and letters, one character too many...).
"""

from __future__ import annotations

import shlex
import string

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from pipeline_constructs.core.validation import (
    InvalidPropTypeError,
    known_regions,
    parse_cron,
    require_account,
    require_action_name,
    require_approval_comment,
    require_arn,
    require_commands,
    require_cron,
    require_email,
    require_emails,
    require_iam_role_name,
    require_lambda_environment,
    require_organization_id,
    require_pipeline_name,
    require_region,
    require_relative_path,
    require_sequence,
    require_ssm_parameter_name,
    require_stack_name,
    shell_quote,
)

settings.register_profile("validators", max_examples=150, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("validators")

DIGITS = string.digits
LOWER = string.ascii_lowercase
LETTERS = string.ascii_letters
# Characters that look right to a human or to \d / \w / $, and must not pass.
LOOKALIKES = ["\n", " ", "\t", "\u0661", "\uff11", "\u00e9", "\u212a", "\u0131", "\x00", "\u200b"]


def accepts(check, value) -> bool:
    try:
        check("W", "p", value)
    except ValueError:  # InvalidPropTypeError is a ValueError too
        return False
    return True


def near_misses(valid: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """A valid value with a look-alike character inserted, appended or prepended."""

    @st.composite
    def build(draw: st.DrawFn) -> str:
        value = draw(valid)
        bad = draw(st.sampled_from(LOOKALIKES))
        where = draw(st.sampled_from(["end", "start", "middle"]))
        if where == "end":
            return value + bad
        if where == "start":
            return bad + value
        i = draw(st.integers(0, len(value)))
        return value[:i] + bad + value[i:]

    return build()


# --------------------------------------------------------------------------- accounts


ACCOUNTS = st.text(alphabet=DIGITS, min_size=12, max_size=12)


@given(ACCOUNTS)
def test_twelve_ascii_digits_are_an_account(account):
    assert require_account("W", "account", account) == account


@given(st.text(max_size=20))
@example("111111111111\n")
@example("\u0661" * 12)  # Arabic-Indic digits
@example("11111111111")
def test_anything_else_is_not_an_account(text):
    is_account = len(text) == 12 and all(c in DIGITS for c in text)
    assert accepts(require_account, text) is is_account


@given(near_misses(ACCOUNTS))
def test_near_miss_accounts_are_rejected(text):
    with pytest.raises(ValueError, match=r"W: p = .* is invalid: expected a 12-digit AWS account id"):
        require_account("W", "p", text)


@pytest.mark.parametrize("value", [111111111111, None, ["111111111111"], b"111111111111"])
def test_an_account_of_another_type_is_a_type_error(value):
    with pytest.raises(TypeError, match=r"W: p = .* is invalid: expected a 12-digit"):
        require_account("W", "p", value)


# --------------------------------------------------------------------------- regions


@given(st.sampled_from(sorted(known_regions())))
def test_known_regions_are_accepted(region):
    assert require_region("W", "region", region) == region


@given(st.sampled_from(sorted(known_regions())), st.sampled_from(["upper", "nodash", "suffix", "space"]))
def test_mangled_regions_are_rejected(region, how):
    mangled = {
        "upper": region.upper(),
        "nodash": region.replace("-", "", 1),
        "suffix": region + "\n",
        "space": f" {region}",
    }[how]
    assume(mangled not in known_regions())
    with pytest.raises(ValueError, match=r"expected an AWS region"):
        require_region("W", "region", mangled)


def test_region_without_its_second_dash_is_rejected():
    with pytest.raises(ValueError, match=r"region = 'eu-west1' is invalid"):
        require_region("W", "region", "eu-west1")


# --------------------------------------------------------------------------- e-mails

LOCAL_CHARS = LETTERS + DIGITS + "!#$%&'*+/=?^_`{|}~-"
LABEL = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
EMAILS = st.builds(
    lambda atoms, labels, tld: ".".join(atoms) + "@" + ".".join(labels) + "." + tld,
    st.lists(st.text(alphabet=LOCAL_CHARS, min_size=1, max_size=8), min_size=1, max_size=3),
    st.lists(LABEL, min_size=1, max_size=3),
    st.text(alphabet=LETTERS, min_size=2, max_size=6),
)


@given(EMAILS)
def test_well_formed_addresses_are_accepted(email):
    assert require_email("W", "e", email) == email


@given(near_misses(EMAILS))
def test_addresses_with_whitespace_or_non_ascii_are_rejected(email):
    with pytest.raises(ValueError, match=r"expected an e-mail address"):
        require_email("W", "e", email)


@pytest.mark.parametrize(
    "email",
    ["team", "team@", "@example.com", "a..b@example.com", ".a@example.com", "a@example", "a@-x.com", "a@x.c0m"],
)
def test_malformed_addresses_are_rejected(email):
    with pytest.raises(ValueError, match=r"expected an e-mail address"):
        require_email("W", "e", email)


# --------------------------------------------------------------------------- organization ids


ORG_IDS = st.builds(lambda s: "o-" + s, st.text(alphabet=LOWER + DIGITS, min_size=10, max_size=32))


@given(ORG_IDS)
def test_organization_ids_are_accepted(org):
    assert require_organization_id("W", "o", org) == org


@given(st.text(max_size=40))
@example("o-a1b2c3d4e")  # 9 characters
@example("o-A1B2C3D4E5")
@example("o-a1b2c3d4e5\n")
def test_organization_id_rule(text):
    rest = text[2:]
    valid = text.startswith("o-") and 10 <= len(rest) <= 32 and all(c in LOWER + DIGITS for c in rest)
    assert accepts(require_organization_id, text) is valid


# --------------------------------------------------------------------------- names


def _pipeline_name_rule(text: str) -> bool:
    return 1 <= len(text) <= 100 and all(c in LETTERS + DIGITS + ".@_-" for c in text)


@given(st.text(max_size=110) | st.text(alphabet=LETTERS + DIGITS + ".@_-", max_size=110))
@example("a" * 101)
@example("deploy\n")
def test_pipeline_and_action_names_follow_codepipeline(text):
    assert accepts(require_pipeline_name, text) is _pipeline_name_rule(text)
    assert accepts(require_action_name, text) is _pipeline_name_rule(text)


@given(st.text(max_size=140) | st.text(alphabet=LETTERS + DIGITS + "-", max_size=140))
def test_stack_names_follow_cloudformation(text):
    valid = 1 <= len(text) <= 128 and text[:1] in LETTERS and all(c in LETTERS + DIGITS + "-" for c in text)
    assert accepts(require_stack_name, text) is valid


@given(st.text(max_size=70) | st.text(alphabet=LETTERS + DIGITS + "+=,.@_-", max_size=70))
def test_iam_role_names_follow_iam(text):
    valid = 1 <= len(text) <= 64 and all(c in LETTERS + DIGITS + "+=,.@_-" for c in text)
    assert accepts(require_iam_role_name, text) is valid


@given(
    st.dictionaries(
        st.text(alphabet=LETTERS + DIGITS + "_-", min_size=1, max_size=8),
        st.text(alphabet=st.characters(blacklist_characters="\x00"), max_size=5),
        max_size=3,
    )
)
def test_lambda_environment_keys_follow_lambda(environment):
    def key_ok(k: str) -> bool:
        return len(k) >= 2 and k[0] in LETTERS and all(c in LETTERS + DIGITS + "_" for c in k)

    def value_ok(v: str) -> bool:
        return not any(0xD800 <= ord(c) <= 0xDFFF for c in v)  # lone surrogates are not UTF-8 text

    valid = all(key_ok(k) for k in environment) and all(value_ok(v) for v in environment.values())
    assert accepts(require_lambda_environment, environment) is valid


def test_a_lone_surrogate_in_a_lambda_environment_value_is_named():
    with pytest.raises(ValueError, match=r"W: p\['A0'\] = '\\ud800' is invalid: expected text that encodes as UTF-8"):
        require_lambda_environment("W", "p", {"A0": "\ud800"})


@pytest.mark.parametrize("key", ["AWS_REGION", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY_ID", "LAMBDA_TASK_ROOT"])
def test_reserved_lambda_environment_keys_are_rejected(key):
    with pytest.raises(ValueError, match=rf"{key}.* reserved"):
        require_lambda_environment("W", "environment", {key: "x"})


def test_lambda_environment_over_4_kb_is_rejected():
    with pytest.raises(ValueError, match=r"expected at most 4 KB"):
        require_lambda_environment("W", "environment", {f"K{i}": "x" * 100 for i in range(45)})


# --------------------------------------------------------------------------- ARNs


SERVICES = st.from_regex(r"[a-z][a-z0-9-]{1,20}", fullmatch=True)
RESOURCES = st.text(alphabet=LETTERS + DIGITS + "/:_-.", min_size=1, max_size=40)


@given(SERVICES, st.sampled_from(sorted(known_regions())), ACCOUNTS, RESOURCES)
def test_arns_built_from_valid_parts_are_accepted(service, region, account, resource):
    arn = f"arn:aws:{service}:{region}:{account}:{resource}"
    assert require_arn("W", "arn", arn) == arn


@given(SERVICES, st.sampled_from(sorted(known_regions())), ACCOUNTS, RESOURCES, st.sampled_from(LOOKALIKES))
def test_arns_with_whitespace_or_non_ascii_are_rejected(service, region, account, resource, bad):
    with pytest.raises(ValueError, match=r"expected an ARN"):
        require_arn("W", "arn", f"arn:aws:{service}:{region}:{account}:{resource}{bad}")


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:codeconnections:eu-west-1:11111111111:connection/abc",  # 11-digit account
        "arn:aws:codeconnections:eu-west1:111111111111:connection/abc",  # region pattern
        "arn:aws:codeconnections::111111111111:connection/abc",  # region required
        "arn:aws:codeconnections:eu-west-1:111111111111:",  # no resource
        "arn:aws:codeconnections:eu-west-1:111111111111:host/abc",  # not a connection
        "arn:awz:codeconnections:eu-west-1:111111111111:connection/abc",  # partition
        "arn:aws:iam::111111111111:role/x",  # another service
    ],
)
def test_connection_arn_rule(arn):
    import re

    with pytest.raises(ValueError, match=r"expected an ARN"):
        require_arn(
            "W",
            "arn",
            arn,
            services=("codeconnections", "codestar-connections"),
            resource=re.compile(r"connection/[A-Za-z0-9-]{1,64}"),
        )


# --------------------------------------------------------------------------- cron


@st.composite
def cron_fields(draw: st.DrawFn) -> list[str]:
    def value(low: int, high: int) -> st.SearchStrategy[str]:
        single = st.integers(low, high).map(str)
        ranged = st.tuples(st.integers(low, high), st.integers(low, high)).map(lambda t: f"{t[0]}-{t[1]}")
        stepped = st.tuples(st.sampled_from(["*", str(low)]), st.integers(1, high)).map(lambda t: f"{t[0]}/{t[1]}")
        listed = st.lists(single, min_size=2, max_size=3).map(",".join)
        return st.sampled_from(["*"]) | single | ranged | stepped | listed

    fields = [
        draw(value(0, 59)),
        draw(value(0, 23)),
        draw(value(1, 31)),
        draw(value(1, 12) | st.sampled_from(["JAN", "JAN-MAR", "dec"])),
        draw(value(1, 7) | st.sampled_from(["MON-FRI", "SUN", "6L", "3#2"])),
        draw(value(1970, 2199)),
    ]
    if draw(st.booleans()):
        fields[2] = "?"
    else:
        fields[4] = "?"
    return fields


@given(cron_fields())
def test_six_field_cron_within_ranges_is_accepted(fields):
    expression = f"cron({' '.join(fields)})"
    assert require_cron("W", "schedule", expression) == expression


FIELD_RANGES = [(0, 59), (0, 23), (1, 31), (1, 12), (1, 7), (1970, 2199)]


@given(cron_fields(), st.integers(0, 5), st.booleans(), st.integers(1, 500))
def test_a_value_out_of_its_field_range_is_rejected(fields, index, above, distance):
    low, high = FIELD_RANGES[index]
    bad = high + distance if above else low - distance
    assume(bad >= 0)
    fields[index] = str(bad)
    if index in (2, 4):  # keep exactly one '?'
        fields[4 if index == 2 else 2] = "?"
    with pytest.raises(ValueError, match=r"schedule = .* is invalid"):
        require_cron("W", "schedule", f"cron({' '.join(fields)})")


@pytest.mark.parametrize(
    ("expression", "why"),
    [
        ("cron(75 10 * * ? *)", "minutes field '75'"),
        ("cron(0 10 * * ?)", "expected six fields"),
        ("cron(0 10 * * ? * *)", "expected six fields"),
        ("cron(0 10 * * * *)", "exactly one of day-of-month and day-of-week"),
        ("cron(0 10 ? * ? *)", "exactly one of day-of-month and day-of-week"),
        ("cron(0 ? * * ? *)", "'?' is allowed only"),
        ("cron(0 10 1 * ? *)\n", "on one line"),
        ("0 10 1 * ? *", "expected 'cron\\('"),
        ("rate(1 day)", "expected 'cron\\('"),
        ("cron(0  10 1 * ? *)", "expected 'cron\\('"),
        ("cron(0 10 1 13 ? *)", "month field '13'"),
        ("cron(0 10 1 * ? 1969)", "year field '1969'"),
        ("cron(0/0 10 1 * ? *)", "minutes field '0/0'"),
        ("cron(\u0661 10 1 * ? *)", "minutes field"),
    ],
)
def test_malformed_cron_says_what_is_wrong(expression, why):
    with pytest.raises(ValueError, match=why):
        require_cron("W", "schedule", expression)
    assert isinstance(parse_cron(expression), str)


# --------------------------------------------------------------------------- paths that reach a shell

SEGMENT = st.text(alphabet=LETTERS + DIGITS + "_.@+=,%~#-", min_size=1, max_size=10).filter(
    lambda s: s not in (".", "..")
)
PATHS = st.lists(SEGMENT, min_size=1, max_size=4).map("/".join)


@given(PATHS | st.text(max_size=30))
def test_an_accepted_path_is_one_shell_word_inside_the_repository(path):
    try:
        normalized = require_relative_path("W", "app_dir", path)
    except ValueError:
        return
    assert not normalized.startswith("/")
    assert ".." not in normalized.split("/")
    assert shlex.split(f"cd {shell_quote(normalized)}") == ["cd", normalized]
    assert not set(normalized) & set(";|&$`<>(){}[]*?!\"'\\\n\r\t")


@pytest.mark.parametrize(
    "path",
    ["tests; curl x|sh", "../up", "/abs", "", "a/../b", "$(id)", "a`b`", "x\ny", "tests*", " lead", "a\\b"],
)
def test_paths_with_shell_syntax_or_outside_the_repository_are_rejected(path):
    with pytest.raises(ValueError, match=r"app_dir = .* is invalid: expected a path relative to the repository root"):
        require_relative_path("W", "app_dir", path)


def test_a_path_with_a_space_is_accepted_and_quoted():
    assert shell_quote(require_relative_path("W", "app_dir", "my app/")) == "'my app'"


# --------------------------------------------------------------------------- sequences and service limits


@given(st.text(max_size=20))
def test_a_bare_string_is_never_a_sequence(text):
    with pytest.raises(InvalidPropTypeError, match=r"W: synth_commands = .* not a single string"):
        require_sequence("W", "synth_commands", text)
    with pytest.raises(TypeError):
        require_commands("W", "synth_commands", text)


def test_commands_must_be_non_empty_strings():
    with pytest.raises(ValueError, match=r"synth_commands\[1\] = '  ' is invalid"):
        require_commands("W", "synth_commands", ["ok", "  "])
    with pytest.raises(TypeError, match=r"synth_commands\[0\] = 42 is invalid"):
        require_commands("W", "synth_commands", [42])


_NOT_SSM = str.maketrans(dict.fromkeys(" @+=,%~#", "_"))


@given(st.sampled_from(["aws", "AWS", "Aws", "ssm", "SSM", "sSm", "awsx", "ssm-params"]), PATHS)
def test_ssm_parameters_under_reserved_prefixes_are_rejected(prefix, rest):
    with pytest.raises(ValueError, match=r"may not begin with 'aws' or 'ssm'"):
        require_ssm_parameter_name("W", "parameter_name", f"/{prefix}/{rest}".translate(_NOT_SSM))


def test_ssm_parameter_length_limits():
    with pytest.raises(ValueError, match=r"parameter_name = .* is invalid"):
        require_ssm_parameter_name("W", "parameter_name", "/" + "a" * 2048)
    arn = "arn:aws:ssm:ap-southeast-2:111111111111:parameter"
    long_name = "/" + "a" * (1011 - len(arn) - 1)
    assert require_ssm_parameter_name("W", "parameter_name", long_name, arn_prefixes=[arn]) == long_name
    with pytest.raises(ValueError, match=r"at most 1011 characters"):
        require_ssm_parameter_name("W", "parameter_name", long_name + "a", arn_prefixes=[arn])


def test_approval_comment_limit():
    assert require_approval_comment("W", "approval_comment", "x" * 1000) == "x" * 1000
    with pytest.raises(ValueError, match=r"approval_comment = .*\(1001 characters\) is invalid"):
        require_approval_comment("W", "approval_comment", "x" * 1001)


def test_long_values_are_shortened_in_messages():
    with pytest.raises(ValueError, match="approval_comment") as err:
        require_approval_comment("W", "approval_comment", "y" * 5000)
    assert len(str(err.value)) < 400


# --------------------------------------------------------------------------- acknowledgments


def test_acknowledge_accepts_the_form_cdk_nag_prints():
    import aws_cdk as cdk

    from pipeline_constructs import acknowledge
    from pipeline_constructs.core.compliance import acknowledgments

    stack = cdk.Stack(cdk.App(), "S")
    acknowledge(stack, "AwsSolutions::AwsSolutions-S1", "The bucket of this example needs no access logs at all.")
    assert [rule for _path, rule, _reason in acknowledgments(stack)] == ["AwsSolutions-S1"]
    for malformed in ("AwsSolutions::Serverless-S1", "AwsSolutions-S1\n", "AwsSolutions-"):
        with pytest.raises(ValueError, match="rule_id"):
            acknowledge(stack, malformed, "A reason that is long enough to be specific.")


def test_require_emails_accepts_distinct_addresses_and_names_the_bad_one():
    assert require_emails("W", "emails", ["a@example.com", "b@example.com"]) == ("a@example.com", "b@example.com")
    assert require_emails("W", "emails", ()) == ()
    with pytest.raises(ValueError, match=r"W: emails\[1\] = 'nope'.*e-mail address"):
        require_emails("W", "emails", ["a@example.com", "nope"])
    with pytest.raises(ValueError, match=r"unique.*'a@example\.com' already used"):
        require_emails("W", "emails", ["a@example.com", "A@example.com"])
    with pytest.raises((TypeError, ValueError), match="expected a tuple of e-mail addresses"):
        require_emails("W", "emails", "a@example.com", allowed="expected a tuple of e-mail addresses")
