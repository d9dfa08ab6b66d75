#!/usr/bin/env bash
# Where the CPU goes during timed MSD steps, thread by thread and function by function: runs bench/speed-msd.ts,
# attaches `perf record` once its warm-up step is logged (so set-up, the teacher's training and the warm-up are left
# out), and prints each busy thread's share of the samples by shared object and symbol. Needs Linux `perf` (Debian:
# linux-perf) and the permission to attach (root, or kernel.perf_event_paranoid <= 1).
#
#   bash bench/perf-steps.sh <teacher|student> <paper|tiny> <workDir> [steps] [topN]
#
# JIT'd code (tfjs-wasm's WebAssembly kernels and JavaScript) shows as one row, "JIT"; samples are per thread, so a
# thread's shares sum to 100% of the time it was on a core, not of the wall time.
set -euo pipefail
task=${1:?task: teacher or student}
size=${2:?size: paper or tiny}
dir=${3:?work dir}
steps=${4:-6}
top=${5:-20}
root=$(cd "$(dirname "$0")/.." && pwd)
command -v perf > /dev/null || { echo "perf-steps.sh: perf is not installed (Debian: apt-get install linux-perf)" >&2; exit 1; }
mkdir -p "$dir"
if [ "$task" = teacher ]; then sub=teacher; else sub=students/nl; fi
metrics="$dir/run-$size-$task/$sub/metrics.jsonl"
rm -f "$metrics"
cd "$root"
node --import tsx bench/speed-msd.ts "$task" "$size" "$dir" "$steps" "" 1 > "$dir/perf-steps.out" 2>&1 &
pid=$!
until grep -q '"kind":"step","step":1,' "$metrics" 2> /dev/null; do
  kill -0 "$pid" 2> /dev/null || { echo "perf-steps.sh: the run ended before its first step; see $dir/perf-steps.out" >&2; exit 1; }
  sleep 0.2
done
perf record -F 499 -o "$dir/perf.data" -p "$pid" > /dev/null 2>&1 &
perf_pid=$!
wait "$pid"
kill -INT "$perf_pid" 2> /dev/null || true
wait "$perf_pid" || true
[ -s "$dir/perf.data" ] || {
  echo "perf-steps.sh: perf recorded nothing (allowed to attach? see kernel.perf_event_paranoid)" >&2
  exit 1
}
grep -o '"tokensPerSec":[0-9.]*' "$dir/perf-steps.out" || true
perf script -i "$dir/perf.data" -F tid,ip,sym,dso 2> /dev/null | python3 -c '
import collections, re, sys
top = int(sys.argv[1])
by_tid = collections.defaultdict(collections.Counter)
for line in sys.stdin:
    m = re.match(r"\s*(\d+)\s+[0-9a-f]+\s+(.*?)\s+\((.*)\)\s*$", line)
    if not m:
        continue
    tid, sym, dso = m.groups()
    dso = dso.split("/")[-1]
    if dso.startswith("perf-") or dso.startswith("[JIT]"):
        dso, sym = "JIT", "(WebAssembly and JavaScript)"
    by_tid[tid][(dso, sym)] += 1
total = sum(sum(c.values()) for c in by_tid.values())
for tid, c in sorted(by_tid.items(), key=lambda kv: -sum(kv[1].values()))[:3]:
    n = sum(c.values())
    libs = collections.Counter()
    for (dso, _), k in c.items():
        libs[dso] += k
    print(f"thread {tid}: {100 * n / total:.1f}% of all samples; by library: " +
          ", ".join(f"{dso} {100 * k / n:.1f}%" for dso, k in libs.most_common(5)))
    for (dso, sym), k in c.most_common(top):
        print(f"  {100 * k / n:5.1f}%  {dso:26s} {sym[:70]}")
' "$top"
