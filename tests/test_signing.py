"""The kit's SigV4 signer writes exactly the headers botocore's ``SigV4Auth`` writes, and
the kit's clients use it only where botocore would sign with plain ``v4``.

The sandbox does not check signatures, so equality with botocore is the whole proof:
both classes sign the same generated request at one frozen instant."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import botocore.auth
import pytest
from botocore.awsrequest import AWSRequest
from botocore.credentials import ReadOnlyCredentials
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geuse_nb.aws._signing import SIGNATURE_VERSION, FastSigV4Auth

NOW = dt.datetime(2026, 12, 5, 8, 30, 15)
text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=12)
token = st.text("abcdefghijklmnopqrstuvwxyz0123456789-_.~%+/=", min_size=1, max_size=10)
header_names = st.one_of(
    st.sampled_from(["Content-Type", "content-type", "X-Amz-Target", "User-Agent",
                     "X-Amz-Content-SHA256", "Date", "Host", "Expect", "x-amzn-trace-id",
                     "X-Amz-Security-Token", "Authorization", "amz-sdk-request"]),
    st.from_regex(r"\A[A-Za-z][A-Za-z0-9-]{0,10}\Z"))
header_values = st.one_of(
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=20),
    st.lists(st.sampled_from(["a", "B", " ", "  ", "\t", "x, y"]), max_size=6).map("".join))


@st.composite
def requests(draw: Any) -> dict[str, Any]:
    host = draw(st.sampled_from(["ec2.us-east-1.amazonaws.com", "EC2.eu-west-1.AmazonAWS.com",
                                 "127.0.0.1", "[::1]", "localhost"]))
    port = draw(st.sampled_from(["", ":80", ":443", ":40001"]))
    path = "/" + "/".join(draw(st.lists(st.one_of(token, text, st.sampled_from(
        ["", ".", "..", "a b", "%2F"])), max_size=4)))
    query = draw(st.lists(st.tuples(token, token), max_size=3))
    url = f"{draw(st.sampled_from(['http', 'https']))}://{host}{port}{path}"
    if query:
        url += "?" + "&".join(f"{k}={v}" for k, v in query)
    body = draw(st.one_of(st.none(), st.binary(max_size=40), st.just(b""),
                          st.dictionaries(token, token, max_size=3)))
    return {
        "method": draw(st.sampled_from(["GET", "POST", "PUT", "DELETE", "head", "Patch"])),
        "url": url,
        "params": draw(st.one_of(st.just({}), st.dictionaries(token, st.one_of(token, text),
                                                               max_size=3))),
        "headers": draw(st.lists(st.tuples(header_names, header_values), max_size=6)),
        "body": body,
        "file_body": draw(st.booleans()) and isinstance(body, bytes),
        "context": draw(st.fixed_dictionaries({}, optional={
            "payload_signing_enabled": st.booleans(),
            "checksum": st.just({"request_algorithm": {"in": "trailer"}})})),
    }


def build(spec: dict[str, Any]) -> AWSRequest:
    request = AWSRequest(method=spec["method"], url=spec["url"], params=dict(spec["params"]),
                         data=io.BytesIO(spec["body"]) if spec["file_body"] else spec["body"])
    for name, value in spec["headers"]:
        request.headers[name] = value  # repeated names are kept, as HTTP allows
    request.context = dict(spec["context"])
    return request


def signed(cls: type[botocore.auth.SigV4Auth], spec: dict[str, Any], credentials: Any,
           service: str, region: str) -> tuple[list[tuple[str, str]], dict[str, Any], Any]:
    request = build(spec)
    cls(credentials, service, region).add_auth(request)
    body = request.body
    position = body.tell() if hasattr(body, "tell") else None
    return list(request.headers.items()), request.context, position


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # one instant for all
@given(requests(), st.sampled_from([None, "FwoGZXIvYXdzEJr//token+/="]),
       st.sampled_from(["ec2", "sts", "cloudformation", "monitoring"]),
       st.sampled_from(["us-east-1", "eu-west-1", "ap-southeast-2"]),
       st.sampled_from(["wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "sécret"]))
def test_every_header_equals_botocores(monkeypatch: pytest.MonkeyPatch, spec: dict[str, Any],
                                       session_token: str | None, service: str,
                                       region: str, secret: str) -> None:
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: NOW)
    credentials = ReadOnlyCredentials("AKIDEXAMPLE", secret, session_token)
    theirs = signed(botocore.auth.SigV4Auth, spec, credentials, service, region)
    ours = signed(FastSigV4Auth, spec, credentials, service, region)
    assert ours == theirs
    assert any(name == "Authorization" for name, _ in ours[0])


def test_a_new_day_derives_a_new_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """The remembered signing key is per day: signing across midnight still equals."""
    credentials = ReadOnlyCredentials("AKIDEXAMPLE", "secret", None)
    spec = {"method": "POST", "url": "https://ec2.us-east-1.amazonaws.com/", "params": {},
            "headers": [], "body": b"Action=DescribeVpcs", "file_body": False, "context": {}}
    for when in (NOW, NOW + dt.timedelta(days=1), NOW):
        monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda w=when: w)
        assert (signed(FastSigV4Auth, spec, credentials, "ec2", "us-east-1")
                == signed(botocore.auth.SigV4Auth, spec, credentials, "ec2", "us-east-1"))


def test_no_credentials_fails_as_botocore_does() -> None:
    from botocore.exceptions import NoCredentialsError

    with pytest.raises(NoCredentialsError):
        FastSigV4Auth(None, "ec2", "us-east-1").add_auth(AWSRequest(method="GET", url="https://x/"))


def _chosen(client: Any, call: Any) -> list[str]:
    """The signature versions ``client``'s requests were signed with, in order."""
    used: list[str] = []
    client.meta.events.register(
        "before-sign", lambda signature_version, **_: used.append(signature_version))
    call()
    return used


def test_kit_clients_sign_plain_v4_with_it(kit: Any) -> None:
    ec2 = kit.client("ec2", "eu-west-1")
    assert _chosen(ec2, ec2.describe_vpcs) == [SIGNATURE_VERSION]
    sts = kit.client("sts", "eu-west-1")
    assert _chosen(sts, sts.get_caller_identity) == [SIGNATURE_VERSION]


def test_everything_else_keeps_botocores_signer(kit: Any) -> None:
    """S3 (its own signer), presigned URLs (``v4-query``) and plain boto3 clients made in
    the same process are left as botocore makes them."""
    import boto3

    s3 = kit.client("s3", "eu-west-1")
    assert _chosen(s3, s3.list_buckets) == ["s3v4"]
    ec2 = kit.client("ec2", "eu-west-1")
    assert "X-Amz-Signature=" in ec2.generate_presigned_url("describe_vpcs", ExpiresIn=60)
    plain = boto3.Session(**kit.backend.session_kwargs()).client(
        "ec2", region_name="eu-west-1", endpoint_url=kit.backend.endpoint_url("eu-west-1"))
    try:
        assert _chosen(plain, plain.describe_vpcs) == ["v4"]
    finally:
        plain.close()
