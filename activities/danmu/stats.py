"""Per-session chat statistics, accumulated in memory as messages arrive.

Pure: no I/O, no clock of its own (messages carry their receipt time). The session
feeds every deduplicated message; `snapshot()` returns a pydantic model the danmu
activity stores beside the session and the API serves. `state()` and `restore()`
carry the counters across a retried activity; past `STATE_TALKERS` talkers only the
most active are kept by name, the rest by count, so a big room's state stays small.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from activities.danmu.models import MessageKind

if TYPE_CHECKING:
    from activities.danmu.models import DanmuMessage

# Runs of CJK (no spaces between words there: the run is the unit), or word
# characters; emoticon codes like [热] are dropped before counting.
_WORDS = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]+|[^\W\d_]{2,}")
_EMOTES = re.compile(r"\[[^\[\]]{1,16}\]")
_WORD_CAP = 50_000  # distinct words kept before the rare ones are pruned
STATE_TALKERS = 20_000  # talkers a saved state names; the rest are only counted


class RateBucket(BaseModel):
    """Messages received in one time bucket."""

    start_secs: float = Field(
        description="Bucket start, seconds since the session start"
    )
    count: int = Field(description="Messages of every kind in the bucket")


class TopTalker(BaseModel):
    """One of the most active users."""

    user_id: str
    user_name: str
    messages: int = Field(description="Chat messages sent")


class TopWord(BaseModel):
    """One of the most frequent words in chat."""

    word: str
    count: int


class TopGift(BaseModel):
    """A gift type ranked by total value."""

    name: str
    count: int = Field(description="Gifts of this type (sum of counts)")
    value: float = Field(description="Total value in whole currency units")
    currency: str


class DanmuStatistics(BaseModel):
    """What a session's chat looked like."""

    total: int = Field(description="Messages of every kind")
    by_kind: dict[str, int] = Field(description="Messages per kind (chat, gift, …)")
    unique_talkers: int = Field(description="Distinct users who sent chat")
    bucket_secs: float = Field(description="Width of each rate bucket")
    rate: list[RateBucket] = Field(description="Messages per bucket, in time order")
    peak_per_minute: float = Field(description="Highest bucket rate, per minute")
    top_talkers: list[TopTalker]
    top_words: list[TopWord]
    top_gifts: list[TopGift]
    gift_value: dict[str, float] = Field(description="Total paid value per currency")


class AccumulatorState(BaseModel):
    """Everything `StatisticsAccumulator` counts, to continue after a restart."""

    start: float
    bucket_secs: float
    top: int
    by_kind: dict[str, int] = Field(default_factory=dict)
    buckets: dict[int, int] = Field(default_factory=dict)
    talkers: dict[str, int] = Field(default_factory=dict)
    names: dict[str, str] = Field(default_factory=dict)
    other_talkers: int = Field(
        default=0, description="Talkers left out of `talkers` (counted, not named)"
    )
    words: dict[str, int] = Field(default_factory=dict)
    gifts: list[tuple[str, str, float, float]] = Field(
        default_factory=list, description="(name, currency, count, value)"
    )


class StatisticsAccumulator:
    """Accumulates `DanmuStatistics` for one session."""

    def __init__(
        self, start: float, *, bucket_secs: float = 60.0, top: int = 10
    ) -> None:
        """Args:
        start: epoch seconds bucket 0 starts at (the session start).
        bucket_secs: width of a rate bucket.
        top: how many talkers, words and gifts to rank.
        """
        self.start = start
        self.bucket_secs = bucket_secs
        self.top = top
        self.by_kind: Counter[str] = Counter()
        self.buckets: Counter[int] = Counter()
        self.talkers: Counter[str] = Counter()
        self.names: dict[str, str] = {}
        self.words: Counter[str] = Counter()
        self.gifts: dict[tuple[str, str], list[float]] = {}
        self.other_talkers = 0  # pruned from a restored state: counted only

    def state(self) -> AccumulatorState:
        """The counters, for `restore` (the talkers capped at `STATE_TALKERS`)."""
        kept = dict(self.talkers.most_common(STATE_TALKERS))
        return AccumulatorState(
            start=self.start,
            bucket_secs=self.bucket_secs,
            top=self.top,
            by_kind=dict(self.by_kind),
            buckets=dict(self.buckets),
            talkers=kept,
            names={k: self.names[k] for k in kept},
            other_talkers=self.other_talkers + len(self.talkers) - len(kept),
            words=dict(self.words),
            gifts=[(n, c, v[0], v[1]) for (n, c), v in self.gifts.items()],
        )

    @classmethod
    def restore(cls, state: AccumulatorState) -> StatisticsAccumulator:
        """An accumulator that continues from `state`."""
        acc = cls(state.start, bucket_secs=state.bucket_secs, top=state.top)
        acc.by_kind.update(state.by_kind)
        acc.buckets.update(state.buckets)
        acc.talkers.update(state.talkers)
        acc.names.update(state.names)
        acc.other_talkers = state.other_talkers
        acc.words.update(state.words)
        acc.gifts = {(n, c): [count, value] for n, c, count, value in state.gifts}
        return acc

    def add(self, msg: DanmuMessage) -> None:
        """Count one message."""
        self.by_kind[msg.kind.value] += 1
        self.buckets[
            int(max(0.0, msg.received_at - self.start) // self.bucket_secs)
        ] += 1
        if msg.kind is MessageKind.CHAT:
            key = msg.user_id or msg.user_name
            self.talkers[key] += 1
            self.names[key] = msg.user_name
            self._count_words(msg.text)
        if msg.kind in (MessageKind.GIFT, MessageKind.SUPER_CHAT, MessageKind.GUARD):
            name = msg.gift_name or msg.kind.value
            slot = self.gifts.setdefault((name, msg.currency), [0, 0.0])
            slot[0] += msg.count
            slot[1] += msg.value

    def _count_words(self, text: str) -> None:
        self.words.update(w.lower() for w in _WORDS.findall(_EMOTES.sub(" ", text)))
        if len(self.words) > _WORD_CAP:
            # keep the frequent half: the ranking only needs the head
            self.words = Counter(dict(self.words.most_common(_WORD_CAP // 2)))

    def snapshot(self) -> DanmuStatistics:
        """The statistics so far."""
        rate = [
            RateBucket(start_secs=i * self.bucket_secs, count=n)
            for i, n in sorted(self.buckets.items())
        ]
        peak = max((b.count for b in rate), default=0) * 60.0 / self.bucket_secs
        gifts = sorted(self.gifts.items(), key=lambda kv: (-kv[1][1], -kv[1][0]))
        value: dict[str, float] = {}
        for (_, currency), (_, total) in self.gifts.items():
            if currency:
                value[currency] = value.get(currency, 0.0) + total
        return DanmuStatistics(
            total=sum(self.by_kind.values()),
            by_kind=dict(self.by_kind),
            unique_talkers=len(self.talkers) + self.other_talkers,
            bucket_secs=self.bucket_secs,
            rate=rate,
            peak_per_minute=peak,
            top_talkers=[
                TopTalker(user_id=k, user_name=self.names[k], messages=n)
                for k, n in self.talkers.most_common(self.top)
            ],
            top_words=[
                TopWord(word=w, count=n) for w, n in self.words.most_common(self.top)
            ],
            top_gifts=[
                TopGift(name=name, count=int(c), value=round(v, 3), currency=cur)
                for (name, cur), (c, v) in gifts[: self.top]
            ],
            gift_value={k: round(v, 3) for k, v in value.items()},
        )
