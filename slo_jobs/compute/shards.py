"""A month's compute split into shards of SLOs, for an orchestrator to run as tasks.

Reading the partitions and the window sums are per SLO, so the SLOs (ordered by name) are
cut into shards of ``size``; each shard is computed by one task into its own folder,

    <lake>/monthly/.shards/month=<YYYY-MM>/shard=<n>/
        summary, decisions, daily, incidents, burn, breakdown, categories, pipelines,
        pipeline_late_runs, pipeline_hours (.parquet)
        shard.json (period, as-of, size, SLOs and spec hashes)

published as a set (a re-run replaces exactly that shard). ``merge`` then checks that the
shards hold every SLO of the catalog once, from the same definitions, lays their tables
end to end, computes what needs every SLO (``compute.finish_month``: maintenance notes,
release reasons, priorities, toil), publishes the month as one set and removes the shards.
The outputs equal those of ``compute_month``, which computes every SLO in one process.

A shard runs in its task's process only (no worker processes): the orchestrator spreads
the shards over its workers. The ``daily``, ``burn``, ``breakdown`` and ``categories``
tables (SLO x day, SLO x hour, SLO x label values, SLO x span x category) are copied
shard by shard, never held whole, so the merge's memory grows with the SLOs' summary rows only.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq

from .. import lake
from ..core.errors import LakeError, SloJobsError
from ..core.periods import Period
from ..lake import LakeDir
from ..spec import Slo
from ..spec.journey import Journey
from . import (
    MonthPolicy,
    _table,
    breakdown,
    categories,
    compute_part,
    finish_month,
    percentiles,
    write_result,
)
from . import pipelines as monthly
from .engine import WindowResult

MANIFEST = "shard.json"
ROW_TABLES = ("summary", "decisions", "incidents")  # read whole: the merge needs every row
STREAMED = ("daily", "burn", "breakdown", "categories", "percentiles")  # copied file by file
PIPELINE_TABLES = ("pipelines", "pipeline_late_runs", "pipeline_hours")


def shards_root(lake_dir: LakeDir, label: str) -> LakeDir:
    return lake.monthly_partition(lake_dir, label).parent.parent / ".shards" / f"month={label}"


def shard_folder(lake_dir: LakeDir, label: str, index: int) -> LakeDir:
    return shards_root(lake_dir, label) / f"shard={index:05d}"


def listed(names: Sequence[str], most: int = 5) -> str:
    """``a, b, c, d, e and 7 more``: SLO names for a one-line error."""
    more = f" and {len(names) - most} more" if len(names) > most else ""
    return ", ".join(names[:most]) + more


def count(n_slos: int, size: int) -> int:
    """How many shards of ``size`` SLOs hold ``n_slos`` (at least one: an empty catalog
    still publishes its empty month)."""
    if size < 1:
        raise SloJobsError(f"shard_size: found {size}; expected a whole number of SLOs >= 1")
    return max(1, math.ceil(n_slos / size))


def members(slos: Sequence[Slo], index: int, size: int) -> list[Slo]:
    """The SLOs of shard ``index``: the ``index``-th run of ``size`` SLOs by name."""
    n = count(len(slos), size)
    if not 0 <= index < n:
        raise SloJobsError(f"shard: found {index}; expected 0 to {n - 1} ({len(slos)} SLOs "
                           f"in shards of {size})")
    return sorted(slos, key=lambda s: s.name)[index * size:(index + 1) * size]


def compute_shard(lake_dir: LakeDir, part: Sequence[Slo], period: Period, index: int,
                  size: int, as_of: datetime | None = None) -> LakeDir:
    """Compute shard ``index`` of shards of ``size``, whose SLOs are ``part`` (``members``
    of the catalog), into its folder (replaced whole)."""
    result = compute_part(lake_dir, part, period, as_of, processes=False)
    manifest = {"period": period.label, "index": index, "size": size,
                "as_of": result.as_of.isoformat(),
                "slos": {s.name: s.spec_hash for s in part}}
    target = shard_folder(lake_dir, period.label, index)
    with lake.publish_set(target) as stage:
        write_result(lake_dir, result, stage)
        monthly.summarise(lake_dir, part, period, stage)
        lake.write_atomic(breakdown.month_breakdown(lake_dir, part, result.summary),
                          stage / "breakdown.parquet")
        lake.write_atomic(categories.month_categories(lake_dir, part, result.summary,
                                                      result.incidents),
                          stage / "categories.parquet")
        lake.write_atomic(percentiles.month_percentiles(lake_dir, part, result.summary),
                          stage / "percentiles.parquet")
        lake.write_whole(stage / MANIFEST, lambda fh: _write_json(fh, manifest))
    return target


def _write_json(fh: BinaryIO, data: dict[str, Any]) -> None:
    fh.write((json.dumps(data, indent=1) + "\n").encode())


def _rerun(label: str) -> str:
    return (f"re-run the month's compute_shard tasks (or slo-jobs compute --month {label}), "
            "then merge")


def _manifest(folder: LakeDir, period: Period) -> dict[str, Any]:
    path = folder / MANIFEST
    try:
        data: dict[str, Any] = json.loads(lake.read_bytes(path).decode("utf-8"))
    except (OSError, ValueError, LakeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else \
            "not JSON" if isinstance(exc, ValueError) else str(exc)
        raise LakeError(f"{path}: unreadable ({reason}); expected the manifest of a computed "
                        f"shard; {_rerun(period.label)}") from None
    if data.get("period") != period.label:
        raise LakeError(f"{path}: period: found {data.get('period')!r}; expected "
                        f"{period.label!r}; {_rerun(period.label)}")
    return data


def _check(slos: Sequence[Slo], manifests: Sequence[dict[str, Any]], period: Period) -> None:
    """Every SLO of the catalog in exactly one shard, computed from its current definition
    (the catalog may have changed between the shard tasks and the merge)."""
    where = f"month {period.label}: shards"
    seen: dict[str, str] = {}
    for m in manifests:
        for name, spec_hash in m["slos"].items():
            if name in seen:
                raise SloJobsError(f"{where}: SLO {name} found in two shards; expected each "
                                   f"once; {_rerun(period.label)}")
            seen[name] = spec_hash
    current = {s.name: s.spec_hash for s in slos}
    missing = sorted(set(current) - set(seen))
    extra = sorted(set(seen) - set(current))
    changed = sorted(n for n in set(seen) & set(current) if seen[n] != current[n])
    for found, what in ((missing, "not computed by any shard"),
                        (extra, "computed but no longer in the catalog"),
                        (changed, "computed from a definition that has changed since")):
        if found:
            raise SloJobsError(f"{where}: {listed(found)}: {what}; expected the catalog's "
                               f"{len(current)} SLOs as they are; {_rerun(period.label)}")


def _read(path: LakeDir, label: str, schema_only: bool = False) -> Any:
    try:
        return lake.open_file(path).schema_arrow if schema_only else lake.read_file(path)
    except (OSError, LakeError, pa.ArrowException) as exc:
        reason = " ".join(str(exc).split())[:160]
        raise LakeError(f"{path}: not a readable Parquet file ({reason}); expected a shard's "
                        f"computed table; {_rerun(label)}") from None


def _concat_files(paths: Sequence[LakeDir], target: LakeDir, label: str) -> None:
    """The tables at ``paths`` end to end in ``target``, one file in memory at a time.

    A column null in every row of one shard is typed null there: the shards' types are
    unified as one table of all the rows would type them."""
    schemas: list[pa.Schema] = [_read(p, label, schema_only=True) for p in paths]
    # An empty table is written with its "slo" column only (no rows, no columns to match).
    full = [i for i, s in enumerate(schemas) if len(s) > 1] or [0]
    schema = pa.unify_schemas([schemas[i] for i in full], promote_options="permissive")

    def fill(fh: BinaryIO) -> None:
        with pq.ParquetWriter(fh, schema, **lake.write_options(schema)) as writer:
            for i in full:
                table = _read(paths[i], label)
                writer.write_table(table.select(schema.names).cast(schema))

    lake.write_whole(target, fill)


def merge(lake_dir: LakeDir, slos: Sequence[Slo], period: Period, indices: Sequence[int],
          policy: MonthPolicy, journeys: Sequence[Journey] = ()) -> list[dict[str, Any]]:
    """Publish the month from the shards ``indices`` (the ones computed for this run), with
    the team ``policy``'s tables, and remove the shards; returns the summary rows."""
    with lake.reading_sets():  # each shard's files from one version of it
        return _merge(lake_dir, slos, period, sorted(set(indices)), policy, journeys)


def _merge(lake_dir: LakeDir, slos: Sequence[Slo], period: Period, indices: Sequence[int],
           policy: MonthPolicy, journeys: Sequence[Journey]) -> list[dict[str, Any]]:
    folders = [shard_folder(lake_dir, period.label, i) for i in indices]
    manifests = [_manifest(f, period) for f in folders]
    _check(slos, manifests, period)
    rows = {name: [r for f in folders for r in _read(f / f"{name}.parquet",
                                                     period.label).to_pylist()]
            for name in ROW_TABLES + PIPELINE_TABLES}
    as_of = datetime.fromisoformat(manifests[0]["as_of"]) if manifests else period.end
    result = WindowResult(period, as_of, summary=rows["summary"], decisions=rows["decisions"],
                          incidents=rows["incidents"])
    result.summary.sort(key=lambda r: (r["service"], r["slo"]))
    ordered = sorted(slos, key=lambda s: s.name)
    with lake.publish_set(lake.monthly_partition(lake_dir, period.label).parent) as stage:
        finish_month(lake_dir, ordered, period, result, policy, stage, journeys)
        for name in STREAMED:
            _concat_files([f / f"{name}.parquet" for f in folders], stage / f"{name}.parquet",
                          period.label)
        for name in PIPELINE_TABLES:
            lake.write_atomic(_table(rows[name]), stage / f"{name}.parquet")
    # .shards with it when no other month's shards are there
    lake.remove_folder(shards_root(lake_dir, period.label))
    return result.summary
