"""``python -m bench.run [--quick] [--only SECTION ...]``: driftline's performance benchmark.

Sections: ``throughput`` (consume ceilings A/B, the worker end to end on a
ClickHouse server and on chdb, per-stage times), ``drift`` (Evidently 0.7.23 vs
DriftSuite), ``quality`` (detection quality vs Evidently and always/never-fire:
bench/quality.py), ``cbpe`` (NannyML 0.13's CBPE vs CBPEWindow), ``latency`` (drift onset -> webhook alert), ``rss`` (peak RSS as
the stream grows, bytes per pending join entry), ``scale`` (two workers in one group),
``processes`` (``driftline run --processes 1`` and ``2``), ``growth`` (features per event
and streams) and ``segments`` (the throughput with 2 segment keys x 50 values over the same
run without). Writes
``bench/results/<timestamp>.md`` and ``.json``. See docs/performance.md.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import platform
import statistics
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from driftline.demo import EmbeddedBroker

from tests.support.servers import ClickHouseServer

from . import cbpe_compare, drift_compare, growth, latency, processes, quality, rss, scale, segments
from .e2e import run_worker
from .load import consume_all, decoder, produce_plan
from .scale import cpu_seconds
from .settings import bench_settings, topics, traffic_profile
from .traffic import Plan

RESULTS = Path(__file__).resolve().parent / "results"


def _git_state() -> str:
    root = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True).stdout.strip()
        return head + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


SECTIONS = ("throughput", "drift", "quality", "cbpe", "latency", "rss", "scale", "processes", "growth", "segments")
# Run against the bundled broker and a ClickHouse server, started only when one of them is asked for.
SERVER_SECTIONS = ("throughput", "latency", "rss", "scale", "processes", "growth", "segments")


def throughput(broker, clickhouse, events: int, repeat: int, gc_threshold: tuple[int, ...] | None) -> dict:
    """One data set in one broker; per repeat: ceiling A, ceiling B, worker on ClickHouse, worker on chdb."""
    plan = Plan.for_events(events)
    profile = traffic_profile()  # the default tests' null fits made here, before any clock
    runs: list[dict] = []
    chdb_dir = tempfile.mkdtemp(prefix="driftline-bench-chdb-")
    services = {"broker": broker._proc.pid, "clickhouse": clickhouse._proc.pid, "worker": os.getpid()}
    run_id = uuid.uuid4().hex[:6]
    names = topics(run_id)
    broker.create_topics(list(names.values()), partitions=4)
    produced = produce_plan(broker.bootstrap_servers, names["predictions"], names["feedback"], plan)
    total = produced["predictions"] + produced["feedback"]
    for i in range(repeat):
        base = bench_settings(broker.bootstrap_servers, "chdb://:memory:", run_id)
        a = consume_all(base, total)
        b = consume_all(base, total, decoder(base))
        row = {"ceiling_a_s": a.seconds, "ceiling_b_s": b.seconds}
        stores = {"clickhouse": f"clickhouse://default:@127.0.0.1:{clickhouse.tcp_port}/bench_{run_id}_{i}",
                  "chdb": f"chdb://{chdb_dir}?database=bench_{run_id}_{i}"}
        for store, url in stores.items():
            settings = bench_settings(broker.bootstrap_servers, url, run_id, reference=profile)
            old = gc.get_threshold()
            if gc_threshold:
                gc.set_threshold(*gc_threshold)
            cpu_before = cpu_seconds(services)
            try:
                worker, _runtime = run_worker(settings, plan, produced["feedback"])
            finally:
                gc.set_threshold(*old)
            cpu = {k: v - cpu_before[k] for k, v in cpu_seconds(services).items()}
            gc.collect()
            row[store] = {"seconds": worker.seconds, "stages": worker.stages, "cpu_s": cpu,
                          "histograms": worker.histograms, "windows": worker.windows_closed}
        runs.append(row)
        logging.info("repeat %d: %s", i + 1, {k: v if not isinstance(v, dict) else v["seconds"]
                                               for k, v in row.items()})
    return {"plan": {"predictions": plan.predictions, "feedback": produced["feedback"],
                     "messages": total, "mean_bytes": produced["bytes"] / produced["predictions"],
                     "windows": plan.windows(), "produce_s": produced["seconds"]}, "runs": runs,
            "_reuse": {"run_id": run_id, "single_db": f"bench_{run_id}_0", "services": services}}


def summarise(result: dict) -> dict:
    preds = result["plan"]["predictions"]
    out = {}
    for row in result["runs"]:
        for name in ("ceiling_a", "ceiling_b"):
            out.setdefault(name, []).append(preds / row[f"{name}_s"])
        for store in ("clickhouse", "chdb"):
            eps = preds / row[store]["seconds"]
            out.setdefault(store, []).append(eps)
            out.setdefault(f"{store}_share_b", []).append(eps / (preds / row["ceiling_b_s"]))
    return {k: statistics.median(v) for k, v in out.items()}


def markdown(report: dict) -> str:
    meta = report["meta"]
    lines = [f"# driftline benchmark {meta['started']}", "",
             f"git {meta['git']}, {meta['cpus']} CPUs, Python {meta['python']}, mode {meta['mode']}", ""]
    if "throughput" in report:
        lines += _throughput_md(report["throughput"], report["summary"])
    if "drift" in report:
        lines += _drift_md(report["drift"])
    if "quality" in report:
        lines += quality.markdown(report["quality"])
    if "cbpe" in report:
        lines += cbpe_compare.markdown(report["cbpe"])
    if "latency" in report:
        lines += _latency_md(report["latency"])
    if "rss" in report:
        lines += _rss_md(report["rss"])
    if "scale" in report:
        lines += _scale_md(report["scale"], report.get("summary"), report.get("throughput"))
    if "segments" in report:
        lines += segments.markdown(report["segments"])
    if "processes" in report:
        lines += processes.markdown(report["processes"])
    if "growth" in report:
        lines += growth.markdown(report["growth"])
    return "\n".join(lines)


def _throughput_md(result: dict, summary: dict) -> list[str]:
    plan = result["plan"]
    lines = ["## Throughput", "",
             f"{plan['predictions']:,} predictions + {plan['feedback']:,} feedback, "
             f"median of {len(result['runs'])} (ratios within each repeat, then the median)", "",
             "| figure | prediction events/s | share of ceiling B |", "|---|---:|---:|",
             f"| ceiling A: raw consume | {summary['ceiling_a']:,.0f} | |",
             f"| ceiling B: consume + decode/validate | {summary['ceiling_b']:,.0f} | 100% |",
             f"| driftline, ClickHouse server | {summary['clickhouse']:,.0f} | {summary['clickhouse_share_b']:.0%} |",
             f"| driftline, embedded chdb | {summary['chdb']:,.0f} | {summary['chdb_share_b']:.0%} |", ""]
    last = result["runs"][-1]
    lines += ["CPU seconds during the worker run (last repeat): " + "; ".join(
        f"{store}: " + ", ".join(f"{k} {v:.1f}" for k, v in last[store]["cpu_s"].items()) +
        f" in {last[store]['seconds']:.1f} s wall" for store in ("clickhouse", "chdb")), ""]
    for store in ("clickhouse", "chdb"):
        row = last[store]
        lines += [f"### Stages, {store} (last repeat, exclusive seconds)", "", "| stage | s | % of run |",
                  "|---|---:|---:|"]
        for stage, secs in sorted(row["stages"].items(), key=lambda kv: -kv[1]):
            lines.append(f"| {stage} | {secs:.2f} | {secs / row['seconds']:.0%} |")
        lines += ["", "Prometheus histogram sums (s): " + ", ".join(
            f"`{k}` {v:.2f}" for k, v in row["histograms"].items()), ""]
    return lines


def _drift_md(d: dict) -> list[str]:
    lines = ["## Drift tests: Evidently 0.7.23 DataDriftPreset vs driftline DriftSuite", "",
             f"{d['windows']} windows of {d['window_rows']:,} rows vs a {d['reference_rows']:,}-row reference, "
             f"10 numeric + 3 categorical features, scenarios {', '.join(d['scenarios'])}", "",
             "| figure | value |", "|---|---:|",
             f"| Evidently, s per window (median) | {d['evidently_s']:.3f} |",
             f"| driftline, s per window (median) | {d['driftline_s']:.4f} |",
             f"| time ratio | {d['ratio']:,.0f}x |",
             f"| driftline reference profile build, s (once per model) | {d['driftline_reference_build_s']:.3f} |", "",
             "| test | verdicts agree (driftline default) | agree (driftline, window-sized reservoir) |",
             "|---|---:|---:|"]
    for test in ("psi", "ks", "chi2"):
        a, b = d["agreement"]["driftline"][test], d["agreement"]["driftline_full_reservoir"][test]
        lines.append(f"| {test} | {a['agree']}/{a['total']} ({a['share']:.1%}) | {b['agree']}/{b['total']} ({b['share']:.1%}) |")
    det = d["detection"]
    lines += ["", "Against the injected truth (all tests): " + "; ".join(
        f"{tool}: {h['tp']} true / {h['fp']} false positives, {h['fn']} misses" for tool, h in det.items()), "",
        "Disagreements (driftline default; value = p-value for ks/chi2, statistic for psi):", "",
        "| scenario | seed | feature | test | Evidently | driftline | Evidently says drift | truly drifted |",
        "|---|---:|---|---|---:|---:|---|---|"]
    for x in d["disagreements"]:
        lines.append(f"| {x['scenario']} | {x['seed']} | {x['feature']} | {x['test']} | {x['evidently']} | "
                     f"{x['driftline']} | {x['evidently_drift']} | {x['truth']} |")
    return lines + [""]


def _latency_md(d: dict) -> list[str]:
    lines = ["## Drift onset -> webhook alert", "",
             f"paced producer {d['runs'][0]['rate']:,} predictions/s, {d['window_s']:g} s windows, onset "
             f"{d['runs'][0]['phase_s']} s after a window boundary; target <= {d['target_s']:g} s", "",
             f"median {d['median_s']:.2f} s over {len(d['runs'])} runs" if d["median_s"] is not None else "no alert",
             "", "| run | latency s | first alert | false alerts before onset |", "|---:|---:|---|---:|"]
    for i, r in enumerate(d["runs"]):
        lat = f"{r['latency_s']:.2f}" if r["latency_s"] is not None else "missed"
        lines.append(f"| {i + 1} | {lat} | {r['alert'].get('model')}/{r['alert'].get('version')} | "
                     f"{r['false_alerts_before_onset']} |")
    return lines + [""]


def _rss_md(d: dict) -> list[str]:
    mode = (f"produced in stages, at most {d['ahead']:,} messages ahead of the worker" if d.get("ahead")
            else "produced before the worker starts (a backlog)")
    lines = ["## Peak RSS of one worker process", "",
             f"{d['predictions']:,} predictions ({d['messages']:,} messages) through one child worker, "
             f"ClickHouse server store, {mode}, {d['consume_s']:.0f} s", "",
             "| predictions read | VmHWM MB | VmRSS MB | join pending | join bytes per pending entry |",
             "|---:|---:|---:|---:|---:|"]
    for p in d["points"]:
        lines.append(f"| {p['predictions']:,} | {p['vm_hwm_mb']:.0f} | {p['vm_rss_mb']:.0f} | {p['join_pending']:,} | "
                     f"{p.get('join_bytes_per_entry', 0):.0f} |")
    pts = d["points"]
    if len(pts) >= 2:
        lines += ["", f"HWM growth from {pts[-2]['predictions']:,} to {pts[-1]['predictions']:,} predictions: "
                  f"{pts[-1]['vm_hwm_mb'] / pts[-2]['vm_hwm_mb'] - 1:+.1%}"]
    peak = d.get("join_peak")
    if peak:
        lines += ["", f"Label join at its largest: {peak['pending']:,} pending entries (at about "
                  f"{peak['predictions']:,} predictions), {peak['bytes'] / 2**20:,.0f} MiB, "
                  f"{peak['bytes_per_entry']:.0f} bytes per entry"]
    return lines + [""]


def _scale_md(d: dict, summary: dict | None, throughput_result: dict | None) -> list[str]:
    lines = ["## Two workers in one consumer group", ""]
    preds = throughput_result["plan"]["predictions"] if throughput_result else None
    rate = f"{preds / d['seconds']:,.0f} predictions/s" if preds else ""
    lines += [f"{d['workers']} worker processes: {d['seconds']:.1f} s, {rate}"
              + (f" (one in-process worker, ClickHouse: {summary['clickhouse']:,.0f}/s)" if summary else ""),
              f"partitions per worker at the end: {d['final_partitions']}",
              "CPU seconds over the run: " + ", ".join(f"{k} {v:.1f}" for k, v in d["cpu_s"].items()), "",
              "| table | one worker rows | two workers rows | same results |", "|---|---:|---:|---|"]
    for table, t in d["tables"].items():
        same = "yes, bit for bit" if t["identical"] else (
            f"{t['bitwise_differing_rows']} rows differ bitwise; {t['unequal_within_1e-9']} beyond 1e-9, "
            f"{t['missing_keys']} missing, {t['extra_keys']} extra ({', '.join(t['differing_names'])})")
        lines.append(f"| {table} | {t['single_rows']:,} | {t['two_worker_rows']:,} | {same} |")
    return lines + [""]


def _server_sections(report: dict, args, broker, clickhouse, events: int, repeat: int,
                     gc_threshold: tuple[int, ...] | None, latency_runs: int, rss_events: int,
                     marks: tuple[int, ...]) -> None:
    """The sections that run against the bundled broker and a ClickHouse server."""
    if "throughput" in args.only or "scale" in args.only:
        result = throughput(broker, clickhouse, events, repeat if "throughput" in args.only else 1, gc_threshold)
        reuse = result.pop("_reuse")
        report["throughput"], report["summary"] = result, summarise(result)
    if "scale" in args.only:
        report["scale"] = scale.measure(broker, clickhouse, reuse["run_id"], reuse["single_db"],
                                        reuse["services"])
        logging.info("scale: %.1f s", report["scale"]["seconds"])
    if "latency" in args.only:
        url = f"clickhouse://default:@127.0.0.1:{clickhouse.tcp_port}/bench_lat_{{}}"
        report["latency"] = latency.measure(broker, url.format, runs=latency_runs)
        logging.info("latency: %s", report["latency"]["median_s"])
    if "rss" in args.only:
        report["rss"] = rss.measure(broker, clickhouse, rss_events, marks, ahead=args.rss_ahead)
        logging.info("rss: %s", report["rss"]["points"])
    if "segments" in args.only:
        report["segments"] = segments.measure(broker, clickhouse, args.segment_events or events, repeat)
        logging.info("segments: ratio %.3f", report["segments"]["ratio"])
    if "processes" in args.only:
        report["processes"] = processes.measure(broker, clickhouse, events)
        logging.info("processes: %.2fx", report["processes"]["speedup"])
    if "growth" in args.only:
        axes = growth.AXES if args.growth_axis == "both" else (args.growth_axis,)
        report["growth"] = growth.measure(broker, clickhouse, quick=args.quick, axes=axes, scale=args.growth_scale)
        logging.info("growth: features %+.1f, streams %+.1f points", -report["growth"].get("drop_features_points", 0),
                     -report["growth"].get("drop_streams_points", 0))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="prediction events (default 1M)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per throughput figure; the median is reported")
    parser.add_argument("--quick", action="store_true", help="small sizes, 1 repeat: a smoke run (~3 min)")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS), help="sections to run")
    parser.add_argument("--segment-events", type=int, default=None,
                        help="predictions for the segments section (default: --events; 200k with --quick)")
    parser.add_argument("--rss-events", type=int, default=5_000_000,
                        help="predictions for the RSS section (default 5M; 10M takes ~10 more minutes)")
    parser.add_argument("--rss-ahead", type=int, default=None, metavar="MESSAGES",
                        help="RSS section: produce in stages while the worker consumes, at most this many "
                             "messages ahead of it (live traffic; default: the whole data set first, a backlog)")
    parser.add_argument("--latency-runs", type=int, default=3)
    parser.add_argument("--growth-axis", choices=("both", "features", "streams"), default="both",
                        help="growth section: one axis only (features per event, or streams)")
    parser.add_argument("--growth-scale", type=float, default=None,
                        help="growth section: events per stream times this (default 1; 0.25 with --quick)")
    parser.add_argument("--quality-reps", type=int, default=24, metavar="N",
                        help="quality section: streams per graded change and no-change size (default 24; "
                             "a grade's rate moves by 0.02 with one window at 24)")
    parser.add_argument("--quality-families", nargs="+", default=None, metavar="NAME",
                        help='quality section: only these families (e.g. "mean shift"; "no change", '
                             '"seasonality"), with the same streams as a full run; skips the stable streams')
    parser.add_argument("--gc-threshold", default=None,
                        help="e.g. 100000,50,1000: override the worker's GC thresholds (a prototype knob)")
    parser.add_argument("--render", metavar="JSON", help="only rewrite the .md next to a results .json")
    args = parser.parse_args(argv)
    if args.render:
        path = Path(args.render)
        path.with_suffix(".md").write_text(markdown(json.loads(path.read_text())))
        print(path.with_suffix(".md").read_text())
        return
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("driftline").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if args.quick:
        events, repeat, rss_events, latency_runs, seeds = 200_000, 1, 400_000, 1, 1
        marks = (200_000,)
    else:
        events, repeat, rss_events, latency_runs, seeds = args.events, args.repeat, args.rss_events, args.latency_runs, 3
        marks = (1_000_000, 3_000_000)
    gc_threshold = tuple(int(x) for x in args.gc_threshold.split(",")) if args.gc_threshold else None
    meta = {"started": time.strftime("%Y%m%d-%H%M%S"), "git": _git_state(), "cpus": os.cpu_count(),
            "python": platform.python_version(), "events": events, "repeat": repeat, "mode":
            "quick" if args.quick else "full", "sections": args.only, "gc_threshold": gc_threshold}
    report: dict = {"meta": meta}
    started = time.perf_counter()
    if "drift" in args.only:  # CPU only, no servers: first, on a quiet machine
        report["drift"] = drift_compare.compare(seeds=seeds)
        logging.info("drift: %.0fx", report["drift"]["ratio"])
    if "quality" in args.only:  # CPU only, no servers
        report["quality"] = quality.run(
            reps=2 if args.quick else args.quality_reps,
            stable_events=(200_000 if args.quick else 2_000_000) if args.quality_families is None else 0,
            families=None if args.quality_families is None else tuple(args.quality_families))
        logging.info("quality: %s", report["quality"]["stable"].get("default"))
    if "cbpe" in args.only:  # CPU only, no servers
        report["cbpe"] = cbpe_compare.compare()
        logging.info("cbpe: max |driftline - NannyML| %s", report["cbpe"]["max_abs_difference"])
    if set(args.only) & set(SERVER_SECTIONS):
        with EmbeddedBroker() as broker, ClickHouseServer() as clickhouse:
            _server_sections(report, args, broker, clickhouse, events, repeat, gc_threshold, latency_runs,
                             rss_events, marks)
    meta["seconds"] = time.perf_counter() - started
    RESULTS.mkdir(exist_ok=True)
    stem = RESULTS / meta["started"]
    stem.with_suffix(".json").write_text(json.dumps(report, indent=1, default=str))
    stem.with_suffix(".md").write_text(markdown(report))
    print(stem.with_suffix(".md").read_text())


if __name__ == "__main__":
    main()
