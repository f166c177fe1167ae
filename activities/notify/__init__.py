"""Notification channels and delivery: one module per channel.

* `discord`, `email`, `webhook`, `telegram`, `gotify`, `apprise`: the channels,
  each a settings model and a sender; `registry.KINDS` lists them.
* `template`: message templates and their placeholders.
* `dispatch`: records events and starts their delivery workflows (the emitter
  for code that is not a workflow).
* `activities`: the Temporal activities (record, deliver, dead-letter, prune).
* `redact`: keeps channel secrets out of logs, errors and Temporal.
"""

from activities.notify.activities import NotifyActivities, NotifySettings
from activities.notify.base import ChannelConfig, DeliveryError, Message, SendDeps
from activities.notify.dispatch import (
    Dispatcher,
    ensure_maintenance_schedule,
    start_redelivery,
)
from activities.notify.redact import REDACTOR
from activities.notify.registry import (
    KINDS,
    build_sender,
    parse_config,
    secrets_of,
    try_send,
)
from activities.notify.template import (
    PLACEHOLDERS,
    build_message,
    check_template,
    sample_message,
)

__all__ = [
    "KINDS",
    "PLACEHOLDERS",
    "REDACTOR",
    "ChannelConfig",
    "DeliveryError",
    "Dispatcher",
    "Message",
    "NotifyActivities",
    "NotifySettings",
    "SendDeps",
    "build_message",
    "build_sender",
    "check_template",
    "ensure_maintenance_schedule",
    "parse_config",
    "sample_message",
    "secrets_of",
    "start_redelivery",
    "try_send",
]
