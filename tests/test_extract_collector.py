"""The garbage-collector setting extraction runs under: raised while in use, then restored."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest

from slo_jobs.sources.prometheus import collector


@pytest.fixture(autouse=True)
def default_thresholds() -> Iterator[tuple[int, int, int]]:
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield (700, 10, 10)
    gc.set_threshold(*before)


def test_threshold_is_raised_inside_and_restored_after(
        default_thresholds: tuple[int, int, int]) -> None:
    with collector.fewer_collections():
        assert gc.get_threshold() == (collector.THRESHOLD, 10, 10)
    assert gc.get_threshold() == default_thresholds


def test_nested_use_restores_only_when_the_outermost_ends(
        default_thresholds: tuple[int, int, int]) -> None:
    with collector.fewer_collections():
        with collector.fewer_collections():
            pass
        # The inner exit must not put the default back while the outer run goes on.
        assert gc.get_threshold()[0] == collector.THRESHOLD
    assert gc.get_threshold() == default_thresholds


def test_overlapping_threads_restore_once_the_last_leaves(
        default_thresholds: tuple[int, int, int]) -> None:
    # Thread A enters, thread B enters, A leaves first: the setting must hold until B leaves.
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    seen: list[int] = []

    def a() -> None:
        with collector.fewer_collections():
            a_in.set()
            b_in.wait(5)
        a_out.set()

    def b() -> None:
        a_in.wait(5)
        with collector.fewer_collections():
            b_in.set()
            a_out.wait(5)
            seen.append(gc.get_threshold()[0])

    threads = [threading.Thread(target=a), threading.Thread(target=b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert seen == [collector.THRESHOLD]
    assert gc.get_threshold() == default_thresholds


def test_a_higher_threshold_already_set_is_kept() -> None:
    gc.set_threshold(50_000, 10, 10)
    with collector.fewer_collections():
        assert gc.get_threshold() == (50_000, 10, 10)
    assert gc.get_threshold() == (50_000, 10, 10)
