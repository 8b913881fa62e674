"""The embedded AWS sandbox: moto behind a keep-alive server, with a network model and a
spot market, in a child process. Importing this package is cheap (no moto, boto3 or pandas).

    from geuse_nb.sandbox import Sandbox
    with Sandbox(seed=7, rtt=0.05) as box:
        boto3.client("ec2", "eu-west-1", endpoint_url=box.endpoint_url("eu-west-1"))
"""

from __future__ import annotations

from .handle import Sandbox, start

__all__ = ["Sandbox", "start"]
