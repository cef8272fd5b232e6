#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Judge the console logs of the test guests (one per --console, each
with its QEMU exit status as a --guest-rc in the same order).

Counts the KUnit cases (parsed by the kernel's own `kunit.py parse`) and
the guest tests (CONTIG-TEST-BEGIN/END markers written by guest/init),
fails on any kernel splat and on a guest that did not finish, and ends with
the line `N passed, N failed, N skipped`. Exit status 0 only when nothing
failed and at least one test passed.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

# A console line matching any of these is a kernel splat: the run fails.
SPLATS = [
    r"\bBUG: ", r"kernel BUG at", r"WARNING: CPU: \d+ PID: \d+",
    r"\bKASAN: ", r"UBSAN: ", r"Oops: ", r"general protection fault",
    r"Kernel panic", r"possible circular locking dependency",
    r"possible recursive locking", r"inconsistent lock state",
    r"suspicious RCU usage", r"DEBUG_LOCKS_WARN_ON", r"rcu: INFO: .*stall",
    r"soft lockup", r"hung_task", r"list_add corruption",
    r"list_del corruption", r"Bad page state", r"page dumped because",
    r"sleeping function called from invalid context",
    r"unreferenced object",
]
SPLAT_RE = re.compile("|".join(SPLATS))


def kunit_results(kunit_py, log):
    """Run `kunit.py parse --json` on the log: ([(name, status)], text)."""
    with tempfile.NamedTemporaryFile("r", suffix=".json") as js:
        proc = subprocess.run(
            [sys.executable, kunit_py, "parse", "--json=" + js.name,
             os.path.abspath(log)],
            capture_output=True, text=True)
        try:
            data = json.load(open(js.name))
        except ValueError:
            return [], proc.stdout + proc.stderr
    cases = []

    def walk(group, prefix):
        for case in group.get("test_cases", []):
            cases.append((prefix + case["name"], case["status"]))
        for sub in group.get("sub_groups", []):
            walk(sub, prefix + sub["name"] + ".")

    walk(data, "")
    return cases, proc.stdout


def kunit_details(lines):
    """{case name: the console lines it printed}, for failed KUnit cases.

    KTAP prints a case's diagnostics ("# case: EXPECTATION FAILED at ...",
    "Expected ... but ...") before its "not ok N case" line.
    """
    details, out = {}, []
    for line in lines:
        m = re.search(r"^\s*(not )?ok \d+ (\S+)", line)
        if m:
            if m.group(1):
                details[m.group(2)] = out
            out = []
        elif re.search(r"^\s*(# Subtest:|KTAP version|1\.\.\d)", line):
            out = []
        else:
            out.append(line)
    return details


def guest_results(lines):
    """[(name, status, output lines, seconds or None)] from the
    CONTIG-TEST markers."""
    results, cur, out = [], None, []
    for line in lines:
        m = re.search(r"CONTIG-TEST-BEGIN (\S+)", line)
        if m:
            if cur:
                results.append((cur, "FAIL", out + ["(no end marker)"], None))
            cur, out = m.group(1), []
            continue
        m = re.search(r"CONTIG-TEST-END (\S+) (\w+)(?: -?\d+ (\d+) s)?", line)
        if m and cur:
            results.append((cur, m.group(2).upper(), out, m.group(3)))
            cur = None
            continue
        if cur:
            out.append(line)
    if cur:
        results.append((cur, "FAIL", out + ["(guest stopped inside this test)"],
                        None))
    return results


# A guest test's own verdicts, and the kernel's word on a killed process
FAILURE_RE = re.compile(r"\bFAIL\b|CONTIG-TIME-LIMIT|corrupt=[1-9]|"
                        r"invoked oom-killer|Out of memory")


def failure_excerpt(detail, first=20, last=40):
    """What a failed test printed, shortened for the summary: the lines
    that say what failed first (a long test's verdict can be far from its
    end), then its last lines."""
    if len(detail) <= first + last:
        return detail
    hits = [d for d in detail if FAILURE_RE.search(d)]
    out = hits[:first]
    if len(hits) > first:
        out.append(f"({len(hits) - first} more such lines)")
    return out + ["(last lines:)"] + detail[-last:]


def judge_console(console, lines, guest_rc, args, count):
    """Count one guest's KUnit cases, guest tests and run checks; returns
    whether KUnit cases ran in it."""
    print("KUnit (kunit.py parse):")
    cases, text = kunit_results(args.kunit_py, console)
    details = kunit_details(lines)
    for name, status in cases:
        count("kunit:" + name, status, details.get(name.split(".")[-1]))

    print("Guest tests:")
    for name, status, out, secs in guest_results(lines):
        count("guest:" + name, status, out, secs)

    # The run's own checks are not tests: they add a failure when they
    # fail and nothing to the pass count when they hold.
    print("Run checks:")
    splats = [l for l in lines if SPLAT_RE.search(l)]
    if splats:
        count("kernel-log-clean", "FAIL", splats)
    else:
        print("  ok    kernel log has no splat")
    done = any("CONTIG-GUEST-DONE" in l for l in lines)
    if done and guest_rc == 0:
        print("  ok    guest finished and powered off")
    else:
        why = {124: "guest timed out"}.get(guest_rc,
                                           f"qemu exit status {guest_rc}")
        count("guest-finished", "FAIL", [why] + lines[-20:])
    return bool(cases)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--console", required=True, action="append")
    ap.add_argument("--kunit-py", required=True)
    ap.add_argument("--guest-rc", type=int, action="append", default=[])
    ap.add_argument("--expect-kunit", action="store_true",
                    help="fail when no KUnit case ran")
    ap.add_argument("--json", help="write every result here")
    args = ap.parse_args()

    passed = failed = skipped = 0
    results = []

    def count(name, status, detail=None, secs=None):
        nonlocal passed, failed, skipped
        status = {"PASS": "PASS", "SKIP": "SKIP"}.get(status, "FAIL")
        results.append({"name": name, "status": status})
        if secs is not None:
            results[-1]["seconds"] = int(secs)
        if status == "PASS":
            passed += 1
        elif status == "SKIP":
            skipped += 1
        else:
            failed += 1
        took = f" ({secs} s)" if secs is not None else ""
        print(f"  {status:4}  {name}{took}")
        if status == "FAIL" and detail:
            for d in failure_excerpt(detail):
                print(f"        | {d}")

    rcs = args.guest_rc + [0] * (len(args.console) - len(args.guest_rc))
    kunit_ran = False
    for console, guest_rc in zip(args.console, rcs):
        print(f"{console}:")
        lines = open(console, errors="replace").read().splitlines()
        kunit_ran |= judge_console(console, lines, guest_rc, args, count)
    if not kunit_ran:
        count("kunit:suites-ran", "FAIL" if args.expect_kunit else "SKIP",
              ["no KUnit test ran"])

    if args.json:
        with open(args.json, "w") as f:
            json.dump({"passed": passed, "failed": failed,
                       "skipped": skipped, "results": results}, f, indent=1)
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
