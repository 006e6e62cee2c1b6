"""The .NET validators: handler strings and SDK channels accept exactly their grammar (property-based)."""

from __future__ import annotations

import re
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline_constructs.dotnet_lambda._props import validate_dotnet_channel, validate_handler

IDENT = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True)
HANDLER_GRAMMAR = re.compile(
    r"[A-Za-z_][A-Za-z0-9_.]*::([A-Za-z_][A-Za-z0-9_]*\.)*[A-Za-z_][A-Za-z0-9_]*::[A-Za-z_][A-Za-z0-9_]*"
)


@given(
    assembly=st.lists(IDENT, min_size=1, max_size=3).map(".".join),
    namespace=st.lists(IDENT, min_size=0, max_size=3),
    cls=IDENT,
    method=IDENT,
)
def test_every_assembly_namespace_class_method_handler_is_accepted(assembly, namespace, cls, method):
    handler = f"{assembly}::{'.'.join([*namespace, cls])}::{method}"
    assert validate_handler("S/F", handler) == handler


@given(st.text(alphabet=string.ascii_letters + string.digits + ":._ \n;$-\u0661", max_size=40))
def test_anything_else_is_rejected_naming_the_prop(text):
    if HANDLER_GRAMMAR.fullmatch(text) and text.isascii():
        return
    with pytest.raises((TypeError, ValueError), match=r"^S/F: handler = "):
        validate_handler("S/F", text)


def test_a_handler_longer_than_lambda_allows_is_rejected():
    longest = "A::B." + "c" * 120 + "::M"
    assert validate_handler("S/F", longest) == longest
    long = "A::B." + "c" * 121 + "::M"  # 129 characters: Lambda allows 128
    with pytest.raises(ValueError, match=r"^S/F: handler = .* is invalid"):
        validate_handler("S/F", long)


@given(st.integers(0, 99), st.integers(0, 99))
def test_every_major_minor_channel_is_accepted(major, minor):
    assert validate_dotnet_channel("S/P", f"{major}.{minor}") == f"{major}.{minor}"


@given(st.text(max_size=12))
def test_any_other_channel_is_rejected(text):
    if re.fullmatch(r"[0-9]{1,2}\.[0-9]{1,2}|LTS|STS", text) and text.isascii():
        return
    with pytest.raises((TypeError, ValueError), match=r"^S/P: dotnet_channel = "):
        validate_dotnet_channel("S/P", text)
