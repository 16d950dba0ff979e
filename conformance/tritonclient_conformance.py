"""Conformance of the embedded model server to the real Triton, through NVIDIA's tritonclient.

Runs every case of cases.py against tritonserver 2.51 (triton-harness) and the embedded server,
both serving the same repository (model_repository plus the tiny models of extra_models.py) in
explicit model control mode, prints a side-by-side table (case, Triton's code and message, the
embedded server's, verdict) and exits 1 on any difference that ACCEPTED below does not list with
its reason, or on an ACCEPTED entry that no longer differs (the list stays true); exits 2 when a
server cannot start.

usage:
  tritonclient_conformance.py                 start both servers, run, stop them
  tritonclient_conformance.py --triton HOST:PORT --embedded HOST:PORT
                                              servers already running on repositories written by
                                              extra_models.py, in
                                              explicit mode with every model loaded (the
                                              repository cases unload and reload models)
  --embedded-root DIR                         start the embedded server of another checkout (with
                                              its proto/gen and node_modules), e.g. an older
                                              commit's, to list the differences it had
  --json PATH                                 also write every outcome as JSON
  --only SUBSTRING                            run only the cases whose name contains it
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cases import CASES, Outcome, Target, attempt  # noqa: E402
from extra_models import write_repository  # noqa: E402
from servers import ROOT, log_directory, start_embedded, start_triton  # noqa: E402

# Differences that stay, each with its reason. Keys are case names.
ACCEPTED: dict[str, str] = {
    'ServerMetadata': (
        'name and version are each server\'s own ("triton" 2.51.0, "triton-caption-modelserver" with the package '
        'version), and extensions list only what each implements: the embedded server has no '
        'shared-memory RPCs (system_shared_memory, cuda_shared_memory: UNIMPLEMENTED), no HTTP '
        'endpoint (binary_tensor_data is the HTTP binary tensor extension), and no trace or logging RPCs'
    ),
    **{case: (
        'the ensemble\'s compute_input and compute_output durations are 0: Triton sums its composing models\' '
        'per-request compute durations, and the embedded schedulers (modelserver/src/scheduler/) do not '
        'hand an execution\'s timings to the requests in it; every count agrees'
    ) for case in ('ModelStatistics food_caption (ensemble)', 'ModelStatistics food_caption v1')},
}

WIDTH = 90


def run_cases(triton: Target, embedded: Target, only: str | None) -> list[tuple[str, Outcome, Outcome]]:
    rows = []
    for name, fn in CASES:
        if only and only not in name:
            continue
        # Both servers at once: the cases are independent between servers, and perf_analyzer's
        # measurement windows dominate the run time.
        with ThreadPoolExecutor(2) as pool:
            a, b = pool.map(lambda t: attempt(lambda: fn(t)), (triton, embedded))
        rows.append((name, a, b))
    return rows


def cell(text: str, width: int) -> list[str]:
    text = text.replace('\n', ' ')
    return [text[i:i + width] for i in range(0, max(len(text), 1), width)]


def print_table(rows: list[tuple[str, Outcome, Outcome, str]]) -> None:
    name_w = max(len(r[0]) for r in rows)
    rule = f'+-{"-" * name_w}-+-{"-" * WIDTH}-+-{"-" * WIDTH}-+-{"-" * 8}-+'
    print(rule)
    print(f'| {"case":<{name_w}} | {"Triton 2.51":<{WIDTH}} | {"embedded":<{WIDTH}} | {"verdict":<8} |')
    print(rule)
    for name, a, b, verdict in rows:
        left, right = cell(a.show(), WIDTH), cell(b.show(), WIDTH)
        for i in range(max(len(left), len(right))):
            print(f'| {name if i == 0 else "":<{name_w}} | {left[i] if i < len(left) else "":<{WIDTH}} | '
                  f'{right[i] if i < len(right) else "":<{WIDTH}} | {verdict if i == 0 else "":<8} |')
    print(rule)


def judge(rows: list[tuple[str, Outcome, Outcome]]) -> tuple[list[tuple[str, Outcome, Outcome, str]], list[str]]:
    judged, problems = [], []
    for name, a, b in rows:
        same = a.matches(b)
        if same and name in ACCEPTED:
            verdict = 'STALE'
            problems.append(f'{name}: listed as an accepted difference but both servers agree now; remove it from ACCEPTED')
        elif same:
            verdict = 'same'
        elif name in ACCEPTED:
            verdict = 'accepted'
        else:
            verdict = 'DIFFERS'
            problems.append(f'{name}: Triton {a.show()!r} vs embedded {b.show()!r}')
        judged.append((name, a, b, verdict))
    return judged, problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--triton')
    parser.add_argument('--embedded')
    parser.add_argument('--embedded-root', type=Path, default=ROOT)
    parser.add_argument('--json', type=Path)
    parser.add_argument('--only')
    parser.add_argument('--ready-timeout', type=float, default=120)
    args = parser.parse_args()
    if bool(args.triton) != bool(args.embedded):
        parser.error('give both --triton and --embedded, or neither')

    servers, repository, logs = [], None, None
    started = time.monotonic()
    try:
        if args.triton:
            addresses = args.triton, args.embedded
        else:
            repository = Path(tempfile.mkdtemp(prefix='conformance-repository.', dir=ROOT / '.cache'))
            write_repository(repository)
            logs = log_directory()
            servers = [start_triton(repository, logs), start_embedded(repository, logs, args.embedded_root.resolve())]
            for s in servers:
                try:
                    s.wait_ready(args.ready_timeout)
                except RuntimeError as err:
                    print(f'conformance: a server could not start (logs in {logs}): {err}', file=sys.stderr)
                    return 2
            addresses = tuple(s.address for s in servers)
            print(f'servers ready in {time.monotonic() - started:.1f} s', flush=True)
        targets = [Target(a) for a in addresses]
        try:
            rows = run_cases(*targets, args.only)
        finally:
            for t in targets:
                t.close()
    finally:
        for s in servers:
            s.stop()
        if repository:
            shutil.rmtree(repository, ignore_errors=True)

    judged, problems = judge(rows)
    print_table(judged)
    if args.json:
        args.json.write_text(json.dumps([{'case': n, 'triton': a.show(), 'embedded': b.show(), 'verdict': v} for n, a, b, v in judged], indent=1))
    accepted = [n for n, _, _, v in judged if v == 'accepted']
    print(f'\n{len(judged)} cases in {time.monotonic() - started:.1f} s: {sum(v == "same" for *_, v in judged)} the same, '
          f'{len(accepted)} accepted differences, {len(problems)} problems')
    for name in accepted:
        print(f'  accepted: {name}: {ACCEPTED[name]}')
    for p in problems:
        print(f'  PROBLEM: {p}')
    if logs and problems:
        print(f'server logs: {logs}')
    elif logs:
        shutil.rmtree(logs, ignore_errors=True)
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
