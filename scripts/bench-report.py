#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Gather a bench/demo guest run into a table and results.json.

Reads the CONTIG-BENCH-JSON lines the guest printed, adds the emulated
IOTLB counts (QEMU's vtd_iotlb_page_hit / vtd_iotlb_page_update trace
events) for each VFIO scenario by the IOVA range it mapped, prints one
table with every side of every comparison, and writes results.json with
keys named after the metrics of DESIGN §5. Exits non-zero when the guest
did not finish, reported an error, or the kernel log has a splat.
"""
import argparse
import json
import re
import subprocess
import sys

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from report import SPLAT_RE  # noqa: E402

IOVA_RE = re.compile(r"(?:iova|addr)\s*[=:]?\s*0x([0-9a-fA-F]+)")


def iotlb_counts(trace_path):
    """[(event, iova)] for the IOTLB page hit/update events in QEMU's log."""
    events = []
    try:
        f = open(trace_path, errors="replace")
    except OSError:
        return None
    for line in f:
        kind = ("miss" if "vtd_iotlb_page_update" in line else
                "hit" if "vtd_iotlb_page_hit" in line else None)
        if not kind:
            continue
        m = IOVA_RE.search(line)
        if m:
            events.append((kind, int(m.group(1), 16)))
    return events


HW_BITMAPS = ("mlx5", "irdma", "bnxt_re")


def metrics(rec, events):
    """Flatten one measurement into DESIGN §5 metric keys."""
    r = rec.get("result") or {}
    out = {"scenario": rec["scenario"], "memory": rec["memory"],
           "side": rec["side"]}
    if rec["scenario"].startswith("vfio-"):
        iova, size = int(r["iova"], 16), r["size_mib"] << 20
        out.update({
            "size_mib": r["size_mib"], "iova": r["iova"],
            "iface": r.get("iface", "type1"),
            "backing": r.get("backing", "anon"),
            "runs_before": r.get("runs_before"),
            "map_dma_repeat_us": r.get("map_repeat_us"),
            "map_cycles": r.get("cycles"),
            "M1_leaves_4k": r["leaves_4k"], "M1_leaves_2m": r["leaves_2m"],
            "M1_leaves_1g": r["leaves_1g"], "M2_map_calls": r["map_calls"],
            "map_dma_us": r["map_us"], "runs": r["runs"],
            "chunks_2m": r["chunks_2m"], "chunks_1g": r["chunks_1g"],
            "dma_round_trips": r["dma_ok"],
        })
        if events is not None:
            mine = [k for k, a in events if iova <= a < iova + size]
            transfers = 2 * r["dma_ok"]
            out["M5_iotlb_misses"] = mine.count("miss")
            out["M5_iotlb_hits"] = mine.count("hit")
            out["M5_iotlb_misses_per_dma"] = (
                round(mine.count("miss") / transfers, 3) if transfers else None)
    elif rec["scenario"].startswith("rdma-reg"):
        lb = r.get("loopback") or {}
        out.update({
            "rdma_loopback_ok": r["ok"], "rdma_error": r["error"],
            "size_mib": lb.get("size_mib"),
            "M3_sg_entries": lb.get("sg_entries"),
            "mr_chunks_2m": lb.get("chunks_2m"),
            "mr_chunks_1g": lb.get("chunks_1g"),
            "M6_reg_mr_first_us": lb.get("reg_first_us"),
            "M6_reg_mr_repeat_us": lb.get("reg_repeat_us"),
            "rdma_ops_verified": (lb.get("writes_ok", 0) +
                                  lb.get("reads_ok", 0)),
        })
    elif rec["scenario"].startswith("rdma-policy"):
        lb = r.get("loopback") or {}
        umem = r.get("umem") or {}
        mr = r.get("rxe_mr") or {}
        out.update({
            "size_mib": lb.get("size_mib"), "backing": lb.get("backing"),
            "rdma_ops_verified": (lb.get("writes_ok", 0) +
                                  lb.get("reads_ok", 0)),
            "rdma_failed": lb.get("failed"),
            "runs_pagemap": lb.get("sg_entries"),
            "M3_sg_entries": umem.get("sg_entries"),
            "M6_reg_mr_first_us": lb.get("reg_first_us"),
            "M6_reg_mr_repeat_us": lb.get("reg_repeat_us"),
            "reg_cycles": lb.get("reg_cycles"),
            "reg_cycle_avg_us": lb.get("reg_cycle_avg_us"),
            "rxe_page_size": mr.get("page_size"),
            "rxe_pages": mr.get("pages"),
            "rxe_page_table_bytes": mr.get("page_table_bytes"),
        })
        for hw in HW_BITMAPS:
            out[f"M3_{hw}_pgsz"] = umem.get(f"{hw}_pgsz")
            out[f"M3_{hw}_blocks"] = umem.get(f"{hw}_blocks")
    elif rec["scenario"] == "perftest":
        umem = r.get("umem") or {}
        out.update({"tool": r["tool"], "msg_size": r["size"],
                    "iters": r["iters"], "bw_avg_mbps": r["bw_avg_mbps"],
                    "M3_sg_entries": umem.get("sg_entries"),
                    "mr_bytes": umem.get("length"),
                    "M3_irdma_pgsz": umem.get("irdma_pgsz"),
                    "M3_irdma_blocks": umem.get("irdma_blocks")})
    elif rec["scenario"].startswith("ib_write_bw"):
        out["M6_bw_avg_mbps"] = r["bw_avg_mbps"]
    elif rec["scenario"] == "exchange-regress":
        out.update({"regress_checks": r["checks"],
                    "regress_failed": r["failed"],
                    "regress_failures": ", ".join(r["failures"]) or "-"})
    elif rec["scenario"].startswith("populate-"):
        run = r.get("run") or {}
        what, backing, pct, policy = rec["side"].split("/")
        out.update({
            "what": what, "backing": backing, "pct": int(pct),
            "policy": policy, "rep": r.get("rep"),
            "populated": r.get("populated"),
            "populated_in_place": r.get("populated_in_place"),
            "evicted": r.get("evicted"),
            "thp_populated": r.get("thp_populated"),
            "size_mib": run.get("size_mib"),
            "time_us": run.get("map_us" if what == "vfio" else
                               "reg_first_us"),
            "runs": run.get("runs" if what == "vfio" else "sg_entries"),
            "chunks_2m": run.get("chunks_2m"),
            "leaves_2m": run.get("leaves_2m"),
            "map_calls": run.get("map_calls"),
        })
    elif rec["scenario"] in ("prepare-scale", "prepare-nowindow"):
        out["scale"] = r
    elif rec["scenario"].startswith("contigctl-"):
        lay = r.get("layout") or {}
        out.update({"runs": lay.get("runs"),
                    "chunks_2m": lay.get("chunks_2m"),
                    "chunks_1g": lay.get("chunks_1g")})
    elif rec["scenario"].startswith("defrag-"):
        moved = (r["migrated"], r["exchanged"])
        out.update({
            "size_mib": r["size_mib"],
            "defrag_ok": r["ok"], "defrag_error": r["error"],
            "defrag_outcome": "ok" if r["ok"] else r["error"] or "failed",
            "defrag_runs_before": r["runs_before"],
            "defrag_runs_after": r["runs_after"],
            "defrag_runs": f"{r['runs_before']}->{r['runs_after']}",
            "defrag_chunks_2m_before": r["chunks_2m_before"],
            "defrag_chunks_2m_after": r["chunks_2m_after"],
            "defrag_chunks_1g_after": r["chunks_1g_after"],
            "defrag_migrated": moved[0], "defrag_exchanged": moved[1],
            "defrag_moved": ("-" if None in moved else
                             f"{moved[0]}/{moved[1]}"),
            "defrag_free_pct": r["free_pct"],
            "M4_ns_per_mib": r["ns_per_mib"],
            "M4_ratio_to_memcpy": r["ratio_to_memcpy"],
            "memcpy_ns_per_mib": r["memcpy_ns_per_mib"],
            "M4_ratio_moved_to_memcpy": r.get("ratio_moved_to_memcpy"),
            "kernel_ns_per_mib": r.get("kernel_ns_per_mib"),
        })
    else:
        out.update(r)
    return out


ROWS = [
    ("buffer: contiguous runs", "runs"),
    ("buffer: congruent 2M chunks", "chunks_2m"),
    ("M1 IOMMU leaves 4K", "M1_leaves_4k"),
    ("M1 IOMMU leaves 2M", "M1_leaves_2m"),
    ("M1 IOMMU leaves 1G", "M1_leaves_1g"),
    ("M2 iommu_map calls", "M2_map_calls"),
    ("VFIO_IOMMU_MAP_DMA us", "map_dma_us"),
    ("M5 IOTLB misses per DMA", "M5_iotlb_misses_per_dma"),
    ("M3 ib_umem sg entries", "M3_sg_entries"),
    ("MR: congruent 2M chunks", "mr_chunks_2m"),
    ("RDMA 3 MRs + loopback ok", "rdma_loopback_ok"),
    ("M6 ibv_reg_mr first us", "M6_reg_mr_first_us"),
    ("M6 ibv_reg_mr repeat us", "M6_reg_mr_repeat_us"),
    ("M6 ib_write_bw MB/s", "M6_bw_avg_mbps"),
    ("free 2 MiB blocks", "free_order9_blocks"),
    ("clean 2M windows", "clean_windows_2m"),
    ("clean 1G windows", "clean_windows_1g"),
    ("1G window: fewest blocked", "fewest_blocked_1g"),
    ("exchange_regress: checks", "regress_checks"),
    ("exchange_regress: failed", "regress_failed"),
    ("exchange_regress: failed checks", "regress_failures"),
    ("exchange: pairs", "pairs"),
    ("exchange ns/pair", "exchange_ns_per_pair"),
    ("migration (both folios) ns/pair", "migration_ns_per_pair"),
    ("exchange / migration", "exchange_vs_migration"),
    ("make contiguous: outcome", "defrag_outcome"),
    ("make contiguous: runs before->after", "defrag_runs"),
    ("make contiguous: 2M chunks after", "defrag_chunks_2m_after"),
    ("make contiguous: 1G chunks after", "defrag_chunks_1g_after"),
    ("make contiguous: migrated/exchanged", "defrag_moved"),
    ("make contiguous: free % before", "defrag_free_pct"),
    ("M4 make contiguous ns/MiB", "M4_ns_per_mib"),
    ("M4 make contiguous x memcpy", "M4_ratio_to_memcpy"),
    ("M4 per byte moved x memcpy", "M4_ratio_moved_to_memcpy"),
]

# How a cell shows a value, where str() is not enough.
CELL = {
    "M4_ratio_to_memcpy": lambda v: f"{v:.2f}x",
    "M4_ratio_moved_to_memcpy": lambda v: f"{v:.2f}x",
}


# The VFIO policy comparison: one row per map, never against always.
VFIO_COLS = [
    ("runs before", "runs_before"),
    ("runs mapped", "runs"),
    ("leaves 4K", "M1_leaves_4k"),
    ("leaves 2M", "M1_leaves_2m"),
    ("leaves 1G", "M1_leaves_1g"),
    ("map calls", "M2_map_calls"),
    ("map first us", "map_dma_us"),
    ("map repeat us", "map_dma_repeat_us"),
    ("first vs never", "first_ratio"),
    ("repeat vs never", "repeat_ratio"),
    ("IOTLB miss/DMA", "M5_iotlb_misses_per_dma"),
    ("DMA ok", "dma_round_trips"),
]


def vfio_table(results):
    """Rows of the vfio-policy scenarios, with map-time ratios to the
    policy-never run of the same interface and size (one run, same
    memory: times are only compared as ratios)."""
    rows = [r for r in results if r["scenario"].startswith("vfio-policy")]
    if not rows:
        return
    never = {(r["size_mib"], r["iface"]): r for r in rows
             if r["side"].endswith("/never")}
    for r in rows:
        base = never.get((r["size_mib"], r["iface"]))
        for key, ratio in (("map_dma_us", "first_ratio"),
                           ("map_dma_repeat_us", "repeat_ratio")):
            if base and base.get(key) and r.get(key) is not None:
                r[ratio] = f"{r[key] / base[key]:.2f}x"
    head = ["VFIO map, fragmented", "policy"] + [c for c, _ in VFIO_COLS]
    lines = [[f"{r['iface']} {r['size_mib']} MiB {r['backing']}",
              r["side"].split("/")[-1]] +
             [str(r[k]) if r.get(k) is not None else "-"
              for _, k in VFIO_COLS] for r in rows]
    print()
    print_rows(head, lines)


def size_str(b):
    """4096 -> 4K, 2097152 -> 2M: page and message sizes."""
    if b is None:
        return "-"
    for unit, shift in (("G", 30), ("M", 20), ("K", 10)):
        if b >= 1 << shift and b % (1 << shift) == 0:
            return f"{b >> shift}{unit}"
    return str(b)


def print_rows(head, lines):
    """A table: the head, a rule, the lines, columns as wide as needed."""
    widths = [max(len(row[i]) for row in [head] + lines)
              for i in range(len(head))]
    fmt = "  ".join("{:<%d}" % w for w in widths)
    print(fmt.format(*head))
    print(fmt.format(*["-" * w for w in widths]))
    for row in lines:
        print(fmt.format(*row))


def rdma_table(results):
    """ibv_reg_mr on fragmented memory, policy never against always: what
    the kernel made of the buffer (M3), what rxe keeps for it, and the
    registration times as ratios to the never run of the same size."""
    rows = [r for r in results if r["scenario"].startswith("rdma-policy")]
    if not rows:
        return
    never = {r["size_mib"]: r for r in rows if r["side"] == "never"}
    head = ["ibv_reg_mr, fragmented", "policy", "sg entries"]
    head += [f"{hw} blocks x page" for hw in HW_BITMAPS]
    head += ["rxe pages", "rxe table bytes", "reg first us",
             "reg repeat us", "first vs never", "repeat vs never",
             "ops verified"]
    lines = []
    for r in rows:
        base = never.get(r["size_mib"]) or {}
        line = [f"{r['size_mib']} MiB {r['backing']}", r["side"],
                str(r["M3_sg_entries"])]
        line += [f"{r[f'M3_{hw}_blocks']} x {size_str(r[f'M3_{hw}_pgsz'])}"
                 for hw in HW_BITMAPS]
        line += [f"{r['rxe_pages']} x {size_str(r['rxe_page_size'])}",
                 str(r["rxe_page_table_bytes"]),
                 str(r["M6_reg_mr_first_us"]), str(r["reg_cycle_avg_us"])]
        for key in ("M6_reg_mr_first_us", "reg_cycle_avg_us"):
            line.append(f"{r[key] / base[key]:.2f}x"
                        if base.get(key) and r.get(key) is not None else "-")
        line.append(str(r["rdma_ops_verified"]))
        lines.append(line)
    print()
    print_rows(head, lines)


def perftest_table(results, png):
    """Unmodified perftest over rxe, never against always, one row per tool
    and message size; and the same as a PNG plot (gnuplot)."""
    rows = [r for r in results if r["scenario"] == "perftest"]
    if not rows:
        return None
    points = {}
    for r in rows:
        points.setdefault((r["tool"], r["msg_size"]), {})[r["side"]] = r
    head = ["perftest over rxe", "msg size", "never MB/s", "always MB/s",
            "always/never", "MR sg entries never/always",
            "MR pages never/always"]
    lines = []
    for (tool, size), sides in sorted(points.items()):
        nv, al = sides.get("never", {}), sides.get("always", {})
        ratio = (f"{al['bw_avg_mbps'] / nv['bw_avg_mbps']:.2f}x"
                 if nv.get("bw_avg_mbps") and al.get("bw_avg_mbps") else "-")
        lines.append([tool, size_str(size), str(nv.get("bw_avg_mbps", "-")),
                      str(al.get("bw_avg_mbps", "-")), ratio,
                      f"{nv.get('M3_sg_entries')}/{al.get('M3_sg_entries')}",
                      f"{size_str(nv.get('M3_irdma_pgsz'))}/"
                      f"{size_str(al.get('M3_irdma_pgsz'))}"])
    print()
    print_rows(head, lines)
    return plot_perftest(points, png)


def plot_perftest(points, png):
    """Bandwidth against message size, never and always on each tool's
    panel. Returns an error string, or None."""
    tools = sorted({t for t, _ in points})
    dat = png.rsplit(".", 1)[0] + ".dat"
    with open(dat, "w") as f:
        for i, tool in enumerate(tools):
            f.write(f"# {tool}: msg_size never_mbps always_mbps\n")
            for (t, size), sides in sorted(points.items()):
                if t == tool:
                    f.write("%d %s %s\n" % (size, *(
                        sides.get(p, {}).get("bw_avg_mbps", "NaN")
                        for p in ("never", "always"))))
            f.write("\n\n")
    script = [
        "set terminal png size 1500,500",
        f"set output '{png}'",
        f"set multiplot layout 1,{len(tools)} title "
        "'perftest over rxe on fragmented memory: contig policy never vs always'",
        "set termoption noenhanced",
        "set logscale x 2", "set grid",
        "set xtics (%s)" % ", ".join(
            f'"{size_str(size)}" {size}'
            for size in sorted({size for _, size in points})),
        "set yrange [0:*]",
        "set xlabel 'message size'", "set ylabel 'average MB/s'",
        "set key bottom right",
    ]
    for i, tool in enumerate(tools):
        script += [
            f"set title '{tool}'",
            f"plot '{dat}' index {i} using 1:2 with linespoints title 'never', "
            f"'' index {i} using 1:3 with linespoints title 'always'",
        ]
    script.append("unset multiplot")
    try:
        subprocess.run(["gnuplot"], input="\n".join(script) + "\n",
                       text=True, check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as e:
        return f"gnuplot: {getattr(e, 'stderr', '') or e}"
    print(f"plot: {png} (data: {dat})")
    return None


SEPARATE_TABLES = ("vfio-policy", "rdma-policy", "perftest", "prepare-scale",
                   "populate-")


def populate_table(results):
    """Memory written only in part before a VFIO map or an ibv_reg_mr:
    policy never against always, per share written. Times are medians
    (min-max) over the repetitions, the ratio that of the medians; the
    layout is the first repetition's (later runs find memory the earlier
    ones freed). Targets (issue 17): unwritten, always at most 1.0x never
    with every 2 MiB chunk made; half written, every chunk and no slower
    than the fully written always run; MADV_HUGEPAGE unwritten, always
    faster than never."""
    rows = [r for r in results if r["scenario"].startswith("populate-")]
    if not rows:
        return
    groups = {}
    for r in rows:
        key = (r["what"], r["backing"], r["pct"])
        groups.setdefault(key, {}).setdefault(r["policy"], []).append(r)

    def ms(runs):
        t = [r["time_us"] for r in runs if r.get("time_us") is not None]
        if not t:
            return None, "-"
        med = median(t)
        return med, f"{med / 1e3:.0f} ({min(t) / 1e3:.0f}-{max(t) / 1e3:.0f})"

    def layout(r):
        if r is None:
            return "-"
        s = f"{r['runs']} / {r['chunks_2m']}"
        return s + (f" / {r['map_calls']}" if r["what"] == "vfio" else "")

    print()
    print("Populate into place (issue 17): a buffer written only in part "
          "before the map or registration, fragmented memory; ms median "
          "(min-max) over the repetitions; layout of the first: runs / "
          "2 MiB chunks (/ map calls for VFIO)")
    head = ["buffer", "never layout", "always layout", "never ms",
            "always ms", "always/never", "populated (in place, evicted)",
            "target", "verdict"]
    lines = []
    full = {what: ms(sides.get("always", []))[0]
            for (what, backing, pct), sides in groups.items()
            if pct == 100 and backing == "nothp"}
    for (what, backing, pct), sides in sorted(groups.items()):
        nv, al = sides.get("never", []), sides.get("always", [])
        nmed, ncell = ms(nv)
        amed, acell = ms(al)
        ratio = amed / nmed if nmed and amed else None
        first = al[0] if al else None
        size = (first or (nv[0] if nv else {})).get("size_mib") or 0
        chunks = size // 2
        if backing == "thp":
            target = "< 1.0x"
            ok = ratio is not None and ratio < 1.0
        elif backing == "fork":
            target = f"{chunks} chunks"
            ok = bool(first and first["chunks_2m"] == chunks)
        elif pct == 0:
            target = f"<= 1.0x, {chunks} chunks"
            ok = (ratio is not None and ratio <= 1.0 and first and
                  first["chunks_2m"] == chunks)
        elif pct == 50:
            target = f"{chunks} chunks, <= 100 % always"
            ok = (first and first["chunks_2m"] == chunks and
                  amed is not None and full.get(what) is not None and
                  amed <= full[what])
        else:
            target, ok = "", None
        lines.append([
            f"{'VFIO type1' if what == 'vfio' else 'ibv_reg_mr'} "
            f"{size} MiB " + ("nothp, shared with a child" if backing == "fork"
                              else f"{backing} {pct} % written"),
            layout(nv[0] if nv else None), layout(first), ncell, acell,
            f"{ratio:.2f}x" if ratio else "-",
            f"{first['populated']} ({first['populated_in_place']}, "
            f"{first.get('evicted')})" if first else "-",
            target, "" if ok is None else ("met" if ok else "missed")])
    print_rows(head, lines)


def table(results):
    results = [r for r in results
               if not r["scenario"].startswith(SEPARATE_TABLES)]
    if not results:
        return
    cols = []
    for r in results:
        col = (r["memory"], r["side"])
        if col not in cols:
            cols.append(col)
    merged = {c: {} for c in cols}
    for r in results:
        merged[(r["memory"], r["side"])].update(r)
    head = ["metric"] + [f"{m} / {s}" for m, s in cols]
    lines = []
    for label, key in ROWS:
        if not any(key in merged[c] for c in cols):
            continue
        show = CELL.get(key, str)
        lines.append([label] + [
            show(merged[c][key]) if merged[c].get(key) is not None else "-"
            for c in cols])
    # Times are noisy under TCG: give the ratio to the first column.
    for label, key in (("VFIO map time ratio", "map_dma_us"),
                       ("ibv_reg_mr first ratio", "M6_reg_mr_first_us")):
        base = merged[cols[0]].get(key)
        if base:
            lines.append([label] + [
                f"{merged[c][key] / base:.2f}x" if merged[c].get(key) else "-"
                for c in cols])
    print_rows(head, lines)


def gib(mem):
    """'16G' -> 16, for ordering the guest sizes"""
    return int(mem.rstrip("G")) if mem.rstrip("G").isdigit() else 0


def median(values):
    """the median of a non-empty list"""
    v = sorted(values)
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def ms_spread(values):
    """median (min-max) of ns values, in ms"""
    v = sorted(values)
    med = median(v)
    return med, f"{med / 1e6:.1f} ({v[0] / 1e6:.1f}-{v[-1] / 1e6:.1f})"


# Issue targets: a request on the largest guest against the smallest
SCALE_TARGETS = {"2M": 1.25, "64M": 1.5}


def scale_table(results):
    """The guest-size sweep: PREPARE time by request size and guest size,
    pooled over the boots (median (min-max)), and the same divided by each
    boot's 64 MiB copy time (the speed of that boot: under TCG it varies
    from one boot to the next by up to 2x); the ratio of the largest guest
    to the smallest for both; then two requests at once against one."""
    rows = [r for r in results if r["scenario"] == "prepare-scale"]
    if not rows:
        return
    mems = sorted({r["memory"] for r in rows}, key=gib)
    pooled, per_copy, boots = {}, {}, {}
    calib = {r["scale"].get("boot"): r["scale"]["median_ns"] for r in rows
             if r["side"].startswith("calibrate")}
    for r in rows:
        sc, key = r["scale"], (r["memory"], r["side"])
        boots.setdefault(r["memory"], set()).add(sc.get("boot"))
        for k, v in sc.items():
            if isinstance(v, list):
                pooled.setdefault(key, {}).setdefault(k, []).extend(v)
        copy = calib.get(sc.get("boot"))
        if copy and isinstance(sc.get("ns"), list):
            per_copy.setdefault(key, []).extend(n / copy for n in sc["ns"])
    print()
    print("PREPARE cost by guest size (bench kernel, 4 KiB pages interleaved "
          "with another buffer: every page moves; ms, median (min-max) over "
          "all boots; 'per copy': the time over the same boot's 64 MiB "
          "copy)")
    head = (["request"] + [f"{m} ({len(boots[m])} boots)" for m in mems] +
            [f"{mems[-1]}/{mems[0]}", "target", "verdict"])
    out = [head]

    def ratio_cells(meds, target):
        ratio = meds[-1] / meds[0] if meds and meds[0] and meds[-1] else None
        return [f"{ratio:.2f}x" if ratio else "-",
                f"<= {target}x" if target else "",
                "-" if ratio is None or not target else
                ("met" if ratio <= target else "missed")]

    for size in ("2M", "64M"):
        cells, meds, rel, rel_meds = [f"{size} total"], [], \
            [f"{size} per copy"], []
        for m in mems:
            s = pooled.get((m, f"request-{size}"), {})
            if not s.get("ns"):
                cells.append("-")
                meds.append(None)
            else:
                med, text = ms_spread(s["ns"])
                cells.append(text)
                meds.append(med)
            v = sorted(per_copy.get((m, f"request-{size}"), []))
            if v:
                med = median(v)
                rel.append(f"{med:.2f} ({v[0]:.2f}-{v[-1]:.2f})")
                rel_meds.append(med)
            else:
                rel.append("-")
                rel_meds.append(None)
        out.append(cells + ratio_cells(meds, SCALE_TARGETS[size]))
        out.append(rel + ratio_cells(rel_meds, SCALE_TARGETS[size]))
        cells = [f"{size} plan"]
        for m in mems:
            s = pooled.get((m, f"request-{size}"), {})
            cells.append(ms_spread(s["plan_ns"])[1] if s.get("plan_ns")
                         else "-")
        out.append(cells + ["", "", ""])
    cells = ["64 MiB copy"]
    for m in mems:
        s = pooled.get((m, "calibrate-64M"), {})
        cells.append(ms_spread(s["ns"])[1] if s.get("ns") else "-")
    out.append(cells + ["", "", ""])
    cells = ["index build"]
    for m in mems:
        w = [r["scale"] for r in rows
             if r["memory"] == m and r["side"].startswith("warmup")]
        cells.append(ms_spread([x["index_ns"] for x in w])[1] +
                     f" ({w[0]['index_blocks']} blocks)" if w else "-")
    out.append(cells + ["", "", ""])
    cells = ["2 at once / 1"]
    for m in mems:
        c = pooled.get((m, "concurrent-64M"), {})
        ratios = sorted(t / o for t, o in zip(c.get("two_ns", []),
                                              c.get("one_ns", [])) if o)
        cells.append(f"{median(ratios):.2f}x "
                     f"({ratios[0]:.2f}-{ratios[-1]:.2f})" if ratios else "-")
    out.append(cells + ["", "< 2x", ""])
    widths = [max(len(str(row[i])) for row in out if i < len(row))
              for i in range(len(head))]
    for row in out:
        print("  ".join(str(c).ljust(widths[i]) for i, c in enumerate(row)))


def nowindow_table(results):
    """A 2 GiB range at a 1 GiB-aligned key on memory with no clean 1 GiB
    window: where every page ended up."""
    rows = [r["scale"] for r in results
            if r["scenario"] == "prepare-nowindow"]
    if not rows:
        return
    w, p = rows[0]["windows"], rows[0]["prepare"]
    after, moves = p["after"], p["moves"]
    chunks = p["length"] >> 21
    placed = after["chunks_2m"] * 512 + after["chunks_1g"] * 262144
    failed = sum(moves["failed"].values())
    print()
    print(f"A {p['length'] >> 30} GiB range at a 1 GiB-aligned key, no clean "
          f"1 GiB window (fewest blocked frames in one: "
          f"{w['fewest_blocked_1g']}; clean 2 MiB windows: "
          f"{w['clean_windows_2m']})")
    head = ["segments", "runs before", "runs after", "2M chunks congruent",
            "pages failed", "pages neither placed nor failed", "time"]
    row = [p["moves"]["segments"], p["before"]["runs"], after["runs"],
           f"{after['chunks_2m']} of {chunks}", failed,
           after["present"] - placed - failed,
           f"{moves['ns'] / 1e9:.1f} s"]
    widths = [max(len(str(a)), len(str(b))) for a, b in zip(head, row)]
    for line in (head, row):
        print("  ".join(str(c).ljust(widths[i]) for i, c in enumerate(line)))


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--console", required=True, action="append",
                    help="a guest's console log; again for each guest")
    ap.add_argument("--qemu-trace")
    ap.add_argument("--guest-rc", type=int, default=0)
    ap.add_argument("--json", required=True)
    args = ap.parse_args()

    events = iotlb_counts(args.qemu_trace) if args.qemu_trace else None
    results, errors = [], []
    lines = []
    for console in args.console:
        guest = open(console, errors="replace").read().splitlines()
        if not any("CONTIG-GUEST-DONE" in l for l in guest):
            errors.append(f"guest did not finish: {console}")
        lines += guest
    # What the guest chose to show as is (make demo's contigctl runs)
    for line in lines:
        m = re.search(r"CONTIG-SHOW (.*)", line)
        if m:
            print(m.group(1))
    for line in lines:
        m = re.search(r"CONTIG-BENCH-JSON (\{.*\})\s*$", line)
        if m:
            try:
                results.append(metrics(json.loads(m.group(1)), events))
            except (ValueError, KeyError, TypeError) as e:
                errors.append(f"bad measurement ({e}): {line}")
        m = re.search(r"CONTIG-BENCH-ERROR (.*)", line)
        if m:
            errors.append(m.group(1))
    splats = [l for l in lines if SPLAT_RE.search(l)]
    if args.guest_rc:
        errors.append(f"a guest did not finish (qemu exit {args.guest_rc})")
    errors += ["kernel splat: " + s for s in splats[:5]]

    with open(args.json, "w") as f:
        json.dump({"results": results, "errors": errors}, f, indent=1)
    if results:
        table(results)
        vfio_table(results)
        rdma_table(results)
        populate_table(results)
        scale_table(results)
        nowindow_table(results)
        png = args.json.rsplit("/", 1)[0] + "/perftest-bw" + (
            "-demo" if args.json.endswith("-demo.json") else "") + ".png"
        err = perftest_table(results, png)
        if err:
            errors.append(err)
    print(f"results: {args.json}")
    for e in errors:
        print("ERROR:", e)
    return 1 if errors or not results else 0


if __name__ == "__main__":
    sys.exit(main())
