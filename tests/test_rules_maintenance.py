"""Maintenance windows in the generated rules' burn-rate windows: left out (or counted good)
minute by minute or slice by slice, as the report does, so no page follows a closed window.
promtool on synthetic series; the fixture SLO of tests/test_rules_promtool.py (99.9 % over 28
days, 1,000 requests a minute: the 1h & 5m page at 13.44 * 0.001)."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from slo_jobs import rules
from slo_jobs.spec import catalog
from tests.test_rules_promtool import LABELS, _firing, _page_test, _rules_test, _series, _spec

pytestmark = pytest.mark.skipif(shutil.which("promtool") is None, reason="needs promtool")


@pytest.mark.parametrize("count_as", ["excluded", "good"])
def test_no_page_after_a_maintenance_window_closes(tmp_path: Path, count_as: str) -> None:
    # 1,000 requests a minute; all fail in the minutes of a window 02:00-03:00 (the buckets
    # 120..179), then a clean hour but for 20 errors in bucket 190. The report leaves the
    # window's minutes out (or counts them good), so must the alert windows: right after the
    # window closes they read only the minutes after it. Counting every minute, as a rule
    # muted only while the window is open would, err(5m) and err(1h) stay above 13.44 * B
    # until minute 184 (derived below), a page after a planned outage.
    spec = _spec(tmp_path, f"  maintenance:\n    countAs: {count_as}\n    windows:\n"
                 "      - {start: '1970-01-01T02:00:00Z', end: '1970-01-01T03:00:00Z'}\n")
    window, minutes = range(120, 180), 240
    bad = [1000 * (b in window) + 20 * (b == 190) for b in range(minutes)]  # bucket b: [b, b+1)
    ok = " ".join(str(sum(1000 - x for x in bad[:m])) for m in range(minutes + 1))
    err = " ".join(str(sum(bad[:m])) for m in range(minutes + 1))

    def ratio(at: int, w: int, report: bool) -> float | None:
        buckets = range(at - w, at)  # the window (at - w, at] holds buckets at - w .. at - 1
        kept = [b for b in buckets if not (report and count_as == "excluded" and b in window)]
        total = 1000 * len(kept)
        good = sum(1000 - (0 if report and b in window else bad[b]) for b in kept)
        return (total - good) / total if total else None

    thr = 13.44 * 0.001
    old = [m for m in range(180, minutes) if all((ratio(m, w, False) or 0) > thr
                                                 for w in (5, 60))]
    assert old == [180, 181, 182, 183, 184]  # what a rule counting every minute pages
    page = {m: all((ratio(m, w, True) or 0) > thr for w in (5, 60)) and m not in window
            for m in (179, 180, 181, 184, 190, 191, 200, 239)}
    assert not any(page.values())

    def recorded(w: str, at: int) -> dict[str, Any]:
        value = ratio(at, int(rules.prom_duration(rules._seconds(w))[:-1]) * (
            60 if w.endswith("h") else 1), True)
        name = rules.RECORD.format(window=w)
        return {"expr": f'{name}{{slo="api-availability"}}', "eval_time": f"{at}m",
                "exp_samples": [] if value is None else [{"labels": name + "{" + ",".join(
                    f'{k}="{v}"' for k, v in sorted(LABELS.items())) + "}", "value": value}]}

    values = [recorded(w, at) for at in (180, 181, 191, 200, 239) for w in ("5m", "1h")]
    # the checks hold no-window, empty, zero and error ratios
    assert {len(v["exp_samples"]) for v in values} == ({0, 1} if count_as == "excluded"
                                                       else {1})
    _page_test(tmp_path, spec, datetime(1970, 1, 1, tzinfo=UTC),
               [_series("200", ok), _series("500", err)], page, values)


@pytest.mark.parametrize("count_as", ["excluded", "good"])
def test_time_slice_rules_leave_maintenance_slices_out(tmp_path: Path, count_as: str) -> None:
    # 5-minute slices good iff >= 99 % (as in test_rules_promtool), a window 01:02-01:08
    # (buckets 62..67): the slices ending 65 and 70 touch it, so the bad minute 63 (bucket
    # 62) is left out with its slice, or its slice is good; the bad slices ending 90 and 125
    # still count.
    spec = _spec(tmp_path, f"  maintenance:\n    countAs: {count_as}\n    windows:\n"
                 "      - {start: '1970-01-01T01:02:00Z', end: '1970-01-01T01:08:00Z'}\n"
                 ).read_text().replace(
        "objective: {target: 0.999}",
        "budgetingMethod: Timeslices\n  "
        "objective: {target: 0.999, timeSliceTarget: 0.99, timeSliceWindow: 5m}")
    (tmp_path / "api.yaml").write_text(spec)
    errors, minutes, window = {63, 90, 121}, 180, range(62, 68)
    bad = [100 * (m in errors) for m in range(minutes + 1)]
    ok = " ".join(str(sum(1000 - b for b in bad[1:m + 1])) for m in range(minutes + 1))
    err = " ".join(str(sum(bad[1:m + 1])) for m in range(minutes + 1))

    def share(at: int, w: int) -> float | None:
        ends = range(at - at % 5 - w + 5, at - at % 5 + 5, 5)  # completed slices
        touched = {p for p in ends if any(b in window for b in range(p - 5, p))}
        counted = [p for p in ends if not (count_as == "excluded" and p in touched)]
        good = sum(p in touched or not any(p - 5 < m <= p for m in errors) for p in counted)
        return 1 - good / len(counted) if counted else None

    def check(w: str, n: int, at: int) -> dict[str, Any]:
        value, name = share(at, n), rules.RECORD.format(window=w)
        return {"expr": f'{name}{{slo="api-availability"}}', "eval_time": f"{at}m",
                "exp_samples": [] if value is None else [{"labels": name + "{" + ",".join(
                    f'{k}="{v}"' for k, v in sorted(LABELS.items())) + "}", "value": value}]}

    checks = [check(w, n, at) for at in (66, 70, 72, 100, 130) for w, n in (("5m", 5),
                                                                            ("1h", 60))]
    slo = catalog.load([tmp_path / "api.yaml"])[0]
    # unlike test_time_slice_rules_count_slices, no page at minute 65: the slice of minute
    # 63 no longer burns; the slice ending 90 does (1 of 16 or 18 slices so far, above
    # 13.44 * 0.001)
    _rules_test(tmp_path, rules.groups(slo, datetime(1970, 1, 1, tzinfo=UTC))[:1],
                [_series("200", ok), _series("500", err)],
                [_firing(65), _firing(70), _firing(90, "page", "ticket")] + checks)
