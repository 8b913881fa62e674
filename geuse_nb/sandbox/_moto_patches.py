"""What the sandbox changes in moto, in its own child process, to answer fast.

- **A dispatcher that remembers** (``memoised_dispatcher``): about half of moto's time on
  a small call was finding the backend app (the host → service inference walks every
  backend's URL patterns under a global lock) and re-listing a handler's methods with
  ``inspect`` on every response. Both are memoised.
- **No ECS-optimised images** (``without_ecs_images``): moto builds each region's EC2
  backend with ~1,370 images, 1,284 of them (us-east-1) ECS-optimised AMIs, each with an
  EBS volume and a snapshot, each named by a random id drawn one character at a time.
  That was 57 ms of CPU per region and ~1 s per sandbox warming 17 regions; without them,
  3.2 ms per region (6 regions built in one process, with and without, one run each).
  The regions keep moto's other images: the public ones and each region's "latest"
  (Amazon Linux 2023, 2, …) that its SSM parameters ``/aws/service/ami-amazon-linux-
  latest/…`` name, which is what the spot launch and the runbooks use. An ECS-optimised
  image id (``/aws/service/ecs/…``) is ``InvalidAMIID.NotFound`` in the sandbox;
  ``docs/decisions.md`` says so.
"""

from __future__ import annotations

import functools
from typing import Any

ECS_IMAGES = "ec2/resources/ecs/optimized_amis/"  # moto's resource folder, by region


def without_ecs_images() -> None:
    """Make moto's EC2 backends load no ECS-optimised images (idempotent)."""
    import moto.ec2.models.amis as amis

    if amis.load_resource is _patched.get("load_resource"):
        return
    load = amis.load_resource

    def load_resource(resource: str) -> Any:
        return [] if resource.startswith(ECS_IMAGES) else load(resource)

    amis.load_resource = _patched["load_resource"] = load_resource


_patched: dict[str, Any] = {}  # what without_ecs_images installed


def memoised_dispatcher(base: type) -> type:
    """moto's dispatcher with its per-request work memoised (about half of moto's time on a
    small call): the host → service inference walks every backend's URL patterns under a
    global lock, and every response re-lists the handler's methods with inspect."""
    import moto.core.responses as moto_responses

    listed = moto_responses.method_names_from_class
    if not hasattr(listed, "cache_info"):  # called with a class: safe to memoise
        moto_responses.method_names_from_class = functools.cache(listed)

    class MemoisedDispatcher(base):  # base is moto's class, typed Any (no stubs)
        _apps: dict[tuple[str, ...], Any]

        def get_application(self, environ: dict[str, Any]) -> Any:
            auth = environ.get("HTTP_AUTHORIZATION", "")
            scope = auth.partition("Credential=")[2].split("/", 4)[2:4]
            path = environ.get("PATH_INFO", "")
            key = (environ.get("HTTP_HOST", ""), "/".join(scope),
                   environ.get("HTTP_X_AMZ_TARGET", "").partition(".")[0],
                   path.split("/", 2)[1] if path.count("/") > 1 else path)
            apps = self.__dict__.setdefault("_apps", {})
            app = apps.get(key)
            if app is None:
                app = super().get_application(environ)
                if len(apps) < 4096:
                    apps[key] = app
            return app

    return MemoisedDispatcher
