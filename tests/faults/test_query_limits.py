"""Fault 4: Prometheus refuses a range as too large; the extractor halves it until it passes.

Once against a real Prometheus started with a small ``--query.max-samples``, once against
answers that imitate its resolution limit, so both refusals Prometheus has are covered.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from slo_jobs import spec
from slo_jobs.core.errors import ExtractError
from slo_jobs.sources.prometheus import PrometheusClient, extract_slo
from tests.faults.conftest import DAY, StartProm, fast
from tests.faults.faultserver import FORWARD, FaultServer, Reply, error_body

RESOLUTION = ("bad_data", "exceeded maximum resolution of 11,000 points per timeseries. Try "
              "decreasing the query resolution (?step=XX)")
SAMPLES = ("execution", "query processing would load too many samples into memory in query "
           "execution")


def test_real_sample_limit_is_split_around(private_prometheus: StartProm, slo: spec.Slo,
                                           reference: Path, tmp_path: Path) -> None:
    # With 1,000 samples a whole day of raw samples (1,500 per series with the lookback hour,
    # over 2 series) is refused.
    url, _ = private_prometheus("--query.max-samples=1000")
    with FaultServer(url) as server, PrometheusClient(fast(server.url)) as client:
        result = extract_slo(client, slo, [DAY], tmp_path)[0]
    assert result.path.read_bytes() == reference.read_bytes()
    sizes = [s.range_s for s in server.seen]
    assert sizes[0] == 90_000 and len(sizes) > 2 and min(sizes) < 90_000


@pytest.mark.parametrize("refusal", [RESOLUTION, SAMPLES], ids=["resolution", "samples"])
def test_imitated_limit_is_split_around(refusal: tuple[str, str], prometheus: str,
                                        slo: spec.Slo, reference: Path, tmp_path: Path) -> None:
    limit = 5 * 3600  # seconds of raw samples per query

    def script(n: int, params: dict[str, str]) -> Reply:
        too_long = int(params["query"].rsplit("[", 1)[1].removesuffix("s]")) > limit
        return Reply(400 if refusal is RESOLUTION else 422, error_body(*refusal)) \
            if too_long else FORWARD

    with FaultServer(prometheus, script) as server, \
            PrometheusClient(fast(server.url)) as client:
        result = extract_slo(client, slo, [DAY], tmp_path)[0]
    assert result.path.read_bytes() == reference.read_bytes()
    answered = [s for s in server.seen if s.range_s <= limit]
    # Halving 25 h (the day and its lookback hour): 4 levels, 8 pieces per selector.
    assert len(answered) == 2 * 8
    pieces = sorted((int(s.params["time"]) - s.range_s, int(s.params["time"]))
                    for s in answered if "code!~" in s.params["query"])
    # Contiguous and not overlapping: (start, end] pieces from the lookback to the day's end.
    assert pieces[0][0] == int(datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC).timestamp()) \
        - 3600 and pieces[-1][1] == pieces[0][0] + 90_000
    for (_, end), (start, _) in zip(pieces, pieces[1:], strict=False):
        assert start == end


def test_a_single_point_over_the_limit_fails_clearly(prometheus: str, slo: spec.Slo) -> None:
    refuse = Reply(422, error_body(*SAMPLES))
    start = datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC)
    with FaultServer(prometheus, lambda n, p: refuse) as server, \
            PrometheusClient(fast(server.url)) as client:
        with pytest.raises(ExtractError, match=r"refused query .* even for a single point: "
                                               r"query processing would load too many"):
            client.query_range("sum(up)", start, start + timedelta(minutes=9),
                               timedelta(minutes=1))
    # Halved down to the first single point, which is refused as well: then it stops.
    assert [s.points for s in server.seen] == [10, 5, 3, 2, 1]
