"""The AWS CLI's syntax mapped onto botocore's model (geuse_nb.face._awsargs): list,
structure (shorthand and JSON), map, boolean, integer, timestamp and blob members, with
property tests (hypothesis) that render random values the way a user would type them and
parse them back."""

from __future__ import annotations

import json
import shlex
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geuse_nb.errors import UsageError
from geuse_nb.face._awsargs import (
    convert,
    operation_model,
    parse_command,
    parse_shorthand,
)

# Words a user types unquoted in shorthand: no separators, quotes or spaces.
WORD = st.text(alphabet=st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789-_.:/*"),
               min_size=1, max_size=12)
FIELD = st.from_regex(r"[A-Z][A-Za-z]{0,10}", fullmatch=True)
SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def run(line: str) -> Any:
    return parse_command(shlex.split(line))


# ---------------------------------------------------------------- examples
def test_lists_structures_booleans_and_globals() -> None:
    cmd = run("ec2 describe-instances --instance-ids i-1 i-2 "
              "--filters Name=tag:env,Values=prod,dev Name=x,Values=[a,b] --dry-run "
              "--region eu-west-1 --refresh --query 'Reservations[].Instances[]'")
    assert (cmd.service, cmd.operation, cmd.snake) == ("ec2", "DescribeInstances",
                                                       "describe_instances")
    assert cmd.params == {"InstanceIds": ["i-1", "i-2"], "DryRun": True, "Filters": [
        {"Name": "tag:env", "Values": ["prod", "dev"]}, {"Name": "x", "Values": ["a", "b"]}]}
    assert (cmd.region, cmd.refresh, cmd.query) == ("eu-west-1", True,
                                                    "Reservations[].Instances[]")
    assert run("ec2 describe-instances --no-dry-run").params == {"DryRun": False}
    assert run("ec2 describe-instances --dry-run false").params == {"DryRun": False}


def test_json_values_integers_timestamps_blobs_maps() -> None:
    cmd = run("""ec2 describe-instances --filters '[{"Name": "a", "Values": ["b"]}]' """
              "--max-results 7")
    assert cmd.params == {"Filters": [{"Name": "a", "Values": ["b"]}], "MaxResults": 7}
    cmd = run("ec2 describe-spot-price-history --start-time 2026-01-02T03:04:05Z "
              "--end-time 1767225600")
    assert cmd.params["StartTime"] == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert cmd.params["EndTime"] == datetime(2026, 1, 1, tzinfo=UTC)
    cmd = run("kms encrypt --key-id k --plaintext hello --encryption-context a=1,b=2")
    assert cmd.params == {"KeyId": "k", "Plaintext": b"hello",
                          "EncryptionContext": {"a": "1", "b": "2"}}
    cmd = run("""cloudformation create-stack --stack-name s --template-body '{"R": {}}' """
              "--parameters ParameterKey=a,ParameterValue=b --tags Key=k,Value=v")
    assert cmd.params["TemplateBody"] == '{"R": {}}'
    assert cmd.params["Parameters"] == [{"ParameterKey": "a", "ParameterValue": "b"}]


def test_nested_shorthand_and_quotes() -> None:
    assert parse_shorthand("a=1,b=[x,y],c={d=2,e=[3]}") == {
        "a": "1", "b": ["x", "y"], "c": {"d": "2", "e": ["3"]}}
    assert parse_shorthand("Name='a,b',Values=c") == {"Name": "a,b", "Values": "c"}
    assert parse_shorthand("Values=a,b,c") == {"Values": ["a", "b", "c"]}


@pytest.mark.parametrize(("line", "message"), [
    ("ec3 describe-regions", r"no service 'ec3' \(did you mean .*'ec2'"),
    ("ec2 describe-instance", r"no operation 'describe-instance' \(did you mean "
                              r"'describe-instances'"),
    ("ec2 describe-instances --instance-id i-1", r"no option '--instance-id' \(did you mean "
                                                 r"'--instance-ids'"),
    ("ec2 describe-instances --filters Nme=x", r"'Nme' is not a field \(did you mean 'Name'"),
    ("ec2 describe-instances --max-results many", r"'many' is not a valid integer"),
    ("ec2 describe-instances --no-filters", r"only booleans have a --no- form"),
    ("ec2 describe-instances --filters '[{bad'", r"is not valid JSON"),
    ("ec2 describe-instances --filters Name=a,", r"bad shorthand .*trailing comma"),
    ("ec2 describe-instances --filters Name", r"bad shorthand .*expected '='"),
    ("ec2 describe-instances --query '[['", r"--query '\[\[' is not JMESPath"),
    ("ec2 describe-instances --region a b", r"--region takes one value, got 2"),
    ("ec2 describe-instances --refresh now", r"--refresh is a flag"),
    ("ec2 describe-instances --dry-run --dry-run", r"--dry-run is given twice"),
    ("ec2 describe-instances --max-results", r"--max-results needs a value"),
    ("cloudformation create-stack", r"needs --stack-name"),
    ("--region x ec2", r"expected SERVICE OPERATION first"),
])
def test_bad_input_names_it_and_the_closest(line: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        run(line)


# ---------------------------------------------------------------- properties
@SETTINGS
@given(ids=st.lists(WORD.filter(lambda w: not w.startswith("-")), min_size=1, max_size=6))
def test_list_values_round_trip(ids: list[str]) -> None:
    cmd = run("ec2 describe-instances --instance-ids " + " ".join(map(shlex.quote, ids)))
    assert cmd.params == {"InstanceIds": ids}


@SETTINGS
@given(filters=st.lists(st.tuples(WORD, st.lists(WORD, min_size=1, max_size=4)),
                        min_size=1, max_size=3))
def test_filter_shorthand_round_trips(filters: list[tuple[str, list[str]]]) -> None:
    """``Name=N,Values=a,b`` for any names and values a user can type unquoted."""
    typed = " ".join(f"Name={n},Values={','.join(vs)}" for n, vs in filters)
    cmd = run(f"ec2 describe-instances --filters {typed}")
    assert cmd.params["Filters"] == [{"Name": n, "Values": vs} for n, vs in filters]


@SETTINGS
@given(filters=st.lists(st.fixed_dictionaries({
    "Name": st.text(max_size=10), "Values": st.lists(st.text(max_size=8), max_size=3)}),
    min_size=1, max_size=3))
def test_filter_json_round_trips(filters: list[dict[str, Any]]) -> None:
    """JSON carries any text, quotes and commas included."""
    cmd = run("ec2 describe-instances --filters " + shlex.quote(json.dumps(filters)))
    assert cmd.params["Filters"] == filters


@SETTINGS
@given(flag=st.booleans(), spelled=st.sampled_from(["flag", "value"]),
       n=st.integers(min_value=5, max_value=1000))
def test_booleans_and_integers(flag: bool, spelled: str, n: int) -> None:
    if spelled == "flag":
        option = "--dry-run" if flag else "--no-dry-run"
    else:
        option = f"--dry-run {str(flag).lower()}"
    cmd = run(f"ec2 describe-instances {option} --max-results {n}")
    assert cmd.params == {"DryRun": flag, "MaxResults": n}


@SETTINGS
@given(tags=st.dictionaries(FIELD, WORD, min_size=1, max_size=4))
def test_map_shorthand_and_json_agree(tags: dict[str, str]) -> None:
    shape = operation_model("kms", "encrypt").input_shape.members["EncryptionContext"]
    shorthand = ",".join(f"{k}={v}" for k, v in tags.items())
    assert convert(shorthand, shape, "--x") == tags == convert(json.dumps(tags), shape, "--x")


@SETTINGS
@given(tokens=st.lists(st.one_of(WORD, st.sampled_from([
    "--instance-ids", "--filters", "--dry-run", "--no-dry-run", "--max-results", "--region",
    "--query", "--refresh", "Name=a,Values=b", "[", "{", "=", ",", "'", "--", "-1"])),
    max_size=8))
def test_any_input_parses_or_says_why(tokens: list[str]) -> None:
    """Whatever is typed after the operation: a command, or geuse_nb's UsageError — never
    another exception (which a magic would show as a traceback)."""
    try:
        parse_command(["ec2", "describe-instances", *tokens])
    except UsageError as exc:
        assert str(exc)
