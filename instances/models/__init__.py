"""The instances app's tables. Other apps read these; only `instances` functions change them."""

from instances.models.command import InstanceCommand
from instances.models.event import InstanceEvent
from instances.models.instance import (
    ACTIONS,
    INSTANCE_ID_RE,
    Action,
    Instance,
    InstanceQuerySet,
    is_instance_id,
    may_act_on_all,
    new_instance_id,
)
from instances.models.sandbox import SandboxIncoming, SandboxPhone, SandboxReceived
from instances.models.throttle import ThrottleBucket
from instances.models.token import AccessToken, hash_key
from instances.models.worker import WorkerProcess

__all__ = [
    "ACTIONS",
    "INSTANCE_ID_RE",
    "AccessToken",
    "Action",
    "Instance",
    "InstanceCommand",
    "InstanceEvent",
    "InstanceQuerySet",
    "SandboxIncoming",
    "SandboxPhone",
    "SandboxReceived",
    "ThrottleBucket",
    "WorkerProcess",
    "hash_key",
    "is_instance_id",
    "may_act_on_all",
    "new_instance_id",
]
