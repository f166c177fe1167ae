"""Guards in front of every recording (the seed's DownloadManager limits).

* `slots`: the global limit of concurrent recordings, with extra slots for
  high-priority streamers, as leases in the app DB shared by all workers.
* `breaker`: per-worker circuit breakers keyed by engine/config.
* `write_gate`: the output-root write gate, its state in the app DB.

`activities/record.py` applies them in this order: write gate, settle what a crashed
attempt left, breaker, slot, then the engine. Each refusal is a `GuardError`, which
the activity raises as a non-retryable `ApplicationError` with `next_retry_delay`.
"""

from activities.guards.breaker import Attempt, CircuitBreaker, breaker_key
from activities.guards.slots import RecordingSlots, SlotLease
from activities.guards.write_gate import Signaller, WriteGate, check_now_signaller

__all__ = [
    "Attempt",
    "CircuitBreaker",
    "RecordingSlots",
    "Signaller",
    "SlotLease",
    "WriteGate",
    "breaker_key",
    "check_now_signaller",
]
