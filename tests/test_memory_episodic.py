"""Episodes with decay, importance, reinforcement and consolidation, under an injected clock;
symbolic facts with supersession and history."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentlab.errors import StoreError, UsageError
from agentlab.memory import Episode, EpisodicMemory, FactStore, MemoryStore
from agentlab.testing import FakeClock, HashEmbeddings

DAY = 86400.0


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def episodes(tmp_path: Path, clock: FakeClock) -> EpisodicMemory:
    store = MemoryStore(tmp_path, HashEmbeddings(), clock=clock)
    return EpisodicMemory(store, half_life_s=10 * DAY, capacity=5, consolidate_batch=3)


def _done(task: str, importance: float = 0.5) -> Episode:
    return Episode(task, "done", f"answered {task}", importance=importance)


def test_recency_halves_every_half_life(episodes: EpisodicMemory, clock: FakeClock) -> None:
    stored = episodes.record(_done("book the train to Bergen"))
    clock.advance(10 * DAY)
    assert episodes.recency(stored) == pytest.approx(0.5)
    clock.advance(10 * DAY)
    assert episodes.recency(stored) == pytest.approx(0.25)


def test_newer_and_more_important_episodes_break_ties(
    episodes: EpisodicMemory, clock: FakeClock
) -> None:
    episodes.record(_done("deploy the billing service"))
    clock.advance(30 * DAY)
    newer = episodes.record(_done("deploy the billing service"))
    important = episodes.record(_done("deploy the billing service", importance=1.0))
    ranked = [h.memory.id for h in episodes.recall("deploy the billing service", k=3)]
    assert ranked[:2] == [important.id, newer.id]


def test_decay_never_drives_a_relevant_episode_out(
    episodes: EpisodicMemory, clock: FakeClock
) -> None:
    relevant = episodes.record(_done("rotate the TLS certificate on gateway-4"))
    episodes.record(_done("order more coffee beans"))
    episodes.record(_done("plan the offsite in spring"))
    clock.advance(3650 * DAY)  # ten years: every recency is ~0
    hits = episodes.recall("TLS certificate on gateway-4", k=1)
    assert [h.memory.id for h in hits] == [relevant.id]
    assert hits[0].score > 0.9  # relevance alone keeps it on top


def test_recall_reinforces(episodes: EpisodicMemory, clock: FakeClock) -> None:
    stored = episodes.record(_done("renew the domain name"))
    clock.advance(20 * DAY)
    before = episodes.recency(stored)
    episodes.recall("renew the domain name", k=1)
    after = episodes.store.get(stored.id)
    assert after is not None
    assert after.access_count == 1
    assert before == pytest.approx(0.25)
    assert episodes.recency(after) == pytest.approx(1.0)
    episodes.recall("renew the domain name", k=1, reinforce=False)
    assert episodes.store.get(stored.id).access_count == 1  # type: ignore[union-attr]


def test_capacity_consolidates_the_lowest_value_episodes(
    episodes: EpisodicMemory, clock: FakeClock
) -> None:
    old = [episodes.record(_done(f"old chore number {i}", importance=0.1)) for i in range(3)]
    clock.advance(60 * DAY)
    kept = [episodes.record(_done(f"recent project {i}", importance=0.9)) for i in range(3)]
    # six episodes > capacity 5: the three old, unimportant ones become one summary
    remaining = {m.id: m for m in episodes.store.list(limit=None)}
    assert all(m.id in remaining for m in kept)
    assert not any(m.id in remaining for m in old)
    summary = [m for m in remaining.values() if m.metadata.get("consolidated")]
    assert len(summary) == 1 and summary[0].metadata["consolidated"] == 3
    assert all(f"old chore number {i}" in summary[0].text for i in range(3))
    assert len(remaining) <= episodes.capacity
    hits = episodes.recall("old chore number 1", k=1)
    assert hits[0].memory.id == summary[0].id  # what was consolidated can still be recalled


def test_reinforced_episodes_survive_consolidation(
    episodes: EpisodicMemory, clock: FakeClock
) -> None:
    often = episodes.record(_done("restart the flaky CI runner", importance=0.1))
    for _ in range(5):
        episodes.recall("restart the flaky CI runner", k=1)
    for i in range(5):
        clock.advance(DAY)
        episodes.record(_done(f"misc errand {i}", importance=0.1))
    assert episodes.store.get(often.id) is not None


def test_facts_supersede_and_keep_history(tmp_path: Path, clock: FakeClock) -> None:
    facts = FactStore(tmp_path / "facts.sqlite", clock=clock)
    first = facts.assert_fact("staging database", "owner", "Priya", source="thread a")
    clock.advance(10)
    again = facts.assert_fact("Staging Database", "OWNER", "priya", confidence=0.9)
    assert again.id == first.id  # the same fact again is not a new one
    clock.advance(10)
    second = facts.assert_fact("staging database", "owner", "Omar", source="thread b")
    facts.assert_fact("staging database", "host", "db-7")
    current = facts.lookup("STAGING DATABASE", "owner")
    assert [f.object for f in current] == ["Omar"]
    history = facts.history("staging database", "owner")
    assert [(f.object, f.current) for f in history] == [("Priya", False), ("Omar", True)]
    assert history[0].superseded_by == second.id and history[0].valid_to == clock.now
    assert {f.predicate for f in facts.lookup("staging database")} == {"owner", "host"}
    assert facts.forget("staging database", "host") == 1
    with pytest.raises(UsageError, match="empty"):
        facts.assert_fact("", "owner", "x")
    with pytest.raises(UsageError, match="confidence"):
        facts.assert_fact("a", "b", "c", confidence=3)


def test_a_damaged_fact_store_is_reported_and_left_untouched(tmp_path: Path) -> None:
    damaged = b"not a database" * 200
    path = tmp_path / "facts.sqlite"
    path.write_bytes(damaged)
    with pytest.raises(StoreError, match=r"the fact store .* cannot be used.*move it away"):
        FactStore(path)
    assert path.read_bytes() == damaged
    with pytest.raises(StoreError, match="cannot be used"):
        FactStore(tmp_path)  # a folder, not a file
