#!/usr/bin/env bash
# Metadata-only benchmark of the Passthrough sample against bindfs (and native tmpfs), for measuring changes to
# samples/Passthrough: quicker and less noisy than bench/fs-bench.sh, whose metadata rows it repeats with more files.
# Mounts, each over its own directory in /dev/shm:
#   pt      - samples/Passthrough as built in this tree (its defaults: --cache auto, 4 threads),
#   base    - optional: another Passthrough build (--baseline DLL), for a before/after comparison in the same run,
#   bindfs  - bindfs -f --no-allow-other (Debian's, libfuse 2),
#   native  - the tmpfs directory itself,
# then, in every round, runs on each target in turn (the order rotates from round to round, so drift and position
# hit every target alike):
#   create  - open(O_CREAT|O_EXCL) + write 100 bytes + close of N files (spread over D directories),
#   find    - `find` over the D directories, after 1.1 s (the 1 s entry/attr timeouts have expired),
#   stat    - stat of each, after 1.1 s (each stat is a LOOKUP),
#   unlink  - unlink of each, at once (the entries are fresh: one UNLINK each).
# Prints per workload the median over the rounds (ops/s; entries/s for find), the ratios, and the servers' CPU time
# per operation (steadier than the rates on a shared machine: it does not count time spent waiting for a CPU).
# Everything it mounts is unmounted on exit, however it exits.
#
# usage: bench/meta-bench.sh [--files N] [--dirs D] [--rounds R] [--threads T] [--cache MODE] [--baseline DLL] [--base-threads T] [--no-build]
#   --files N       files per round (default 5000)
#   --dirs D        directories they are spread over (default 10)
#   --rounds R      rounds (default 5)
#   --threads T     Passthrough's --threads for pt and base (default: Passthrough's own default)
#   --cache MODE    Passthrough's --cache for pt (default: Passthrough's own default, auto)
#   --baseline DLL  also mount this Passthrough.dll as "base" (e.g. a copy of bin/Release/net10.0 made before a change)
#   --base-threads T  --threads for base only (with --baseline this tree's own build: compares thread counts)
#   --no-build      use the Passthrough build that is already there
# Needs root (to mount) and bindfs, python3.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

files=5000 dirs=10 rounds=5 build=1 baseline='' threads=() base_threads=() cache=()
for ((i = 1; i <= $#; i++)); do
    arg=${!i}
    case "$arg" in
        --files | --dirs | --rounds | --threads | --base-threads)
            i=$((i + 1))
            [[ ${!i:-} =~ ^[1-9][0-9]*$ ]] || { echo "meta-bench.sh: $arg needs a positive number" >&2; exit 2; }
            case "$arg" in
                --files) files=${!i} ;;
                --dirs) dirs=${!i} ;;
                --rounds) rounds=${!i} ;;
                --threads) threads=(--threads "${!i}") ;;
                --base-threads) base_threads=(--threads "${!i}") ;;
            esac ;;
        --cache)
            i=$((i + 1))
            [[ ${!i:-} =~ ^(never|auto|always)$ ]] || { echo "meta-bench.sh: --cache needs never, auto or always" >&2; exit 2; }
            cache=(--cache "${!i}") ;;
        --baseline)
            i=$((i + 1))
            [[ -f ${!i:-} ]] || { echo "meta-bench.sh: --baseline needs an existing Passthrough.dll" >&2; exit 2; }
            baseline=$(realpath "${!i}") ;;
        --no-build) build=0 ;;
        -h | --help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
        *) echo "meta-bench.sh: unexpected argument '$arg' (try --help)" >&2; exit 2 ;;
    esac
done

source scripts/debian-packages.sh
source bench/lib.sh
ensure_debian_packages bindfs fuse3 python3
[[ -c /dev/fuse ]] || { echo "meta-bench.sh: /dev/fuse is missing" >&2; exit 1; }
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
if ((build)); then
    echo "== building samples/Passthrough (Release)"
    dotnet build -c Release samples/Passthrough -v quiet -nologo >/dev/null
fi
pt_dll=$repo/samples/Passthrough/bin/Release/net10.0/Passthrough.dll
[[ -f $pt_dll ]] || { echo "meta-bench.sh: $pt_dll is missing (build samples/Passthrough in Release)" >&2; exit 1; }

work=$(mktemp -d /dev/shm/meta-bench.XXXXXX)
targets=(pt)
[[ -n $baseline ]] && targets+=(base)
targets+=(bindfs native)
declare -A pids=([native]=0) roots=([native]=$work/native [pt]=$work/mnt-pt [base]=$work/mnt-base [bindfs]=$work/mnt-bindfs)
mkdir -p "$work/native"

trap cleanup_targets EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mount_target pt dotnet "$pt_dll" "${threads[@]}" "${cache[@]}"
((${#base_threads[@]})) || base_threads=("${threads[@]}")
[[ -n $baseline ]] && mount_target base dotnet "$baseline" "${base_threads[@]}"
# The same bindfs mount as fs-bench.sh's (big_writes has no effect on metadata).
set_bindfs_opts
mount_target bindfs bindfs "${bindfs_opts[@]}"

cat bench/lib.py - >"$work/bench.py" <<'PY'
import os, statistics, subprocess, sys, time

def run(target, root, pid, files, ndirs, out):
    data = b"x" * 100
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    base = os.path.join(root, "meta")
    os.mkdir(base)
    dirs = [os.path.join(base, f"d{i:03d}") for i in range(ndirs)]
    for d in dirs:
        os.mkdir(d)
    names = [os.path.join(dirs[i % ndirs], f"f{i:06d}") for i in range(files)]

    def create():
        for n in names:
            fd = os.open(n, flags, 0o644)
            os.write(fd, data)
            os.close(fd)
        return files

    def stat():
        for n in names:
            os.stat(n)
        return files

    def find():
        listed = subprocess.run(["find", base], stdout=subprocess.PIPE, check=True).stdout.count(b"\n")
        if listed != 1 + ndirs + files:
            sys.exit(f"find on {target} listed {listed} entries, expected {1 + ndirs + files}")
        return listed

    def unlink():
        for n in names:
            os.unlink(n)
        return files

    # find and stat after 1.1 s: the 1 s entry/attr timeouts have expired, so they reach the server; unlink right after
    # stat, as in fs-bench.sh (the entries are fresh: one UNLINK per file, no LOOKUP).
    for name, fn, pause in (("create", create, 0), ("find", find, 1.1), ("stat", stat, 1.1), ("unlink", unlink, 0)):
        time.sleep(pause)
        c0, t0 = cpu_seconds(pid), time.perf_counter()
        count = fn()
        t1, c1 = time.perf_counter(), cpu_seconds(pid)
        with open(out, "a") as f:
            f.write(f"{target}\t{name}\t{count / (t1 - t0):.6g}\t{1e6 * (c1 - c0) / count:.6g}\n")
    for d in dirs:
        os.rmdir(d)
    os.rmdir(base)

def table(path, targets):
    vals, cpu, order = {}, {}, []
    with open(path) as f:
        for line in f:
            t, w, v, c = line.split("\t")
            if w not in order:
                order.append(w)
            vals.setdefault(w, {}).setdefault(t, []).append(float(v))
            cpu.setdefault(w, {}).setdefault(t, []).append(float(c))
    ratios = [("pt", "bindfs"), ("pt", "native")] + ([("pt", "base"), ("base", "bindfs")] if "base" in targets else [])
    header = ["workload", "unit"] + targets + ["min-max pt"] + [f"{a}/{b}" for a, b in ratios]
    rows = []
    for w in order:
        m = {t: statistics.median(vals[w][t]) for t in targets}
        unit = "entries/s" if w == "find" else "ops/s"
        rows.append([w, unit] + [f"{m[t]:,.0f}" for t in targets]
                    + [f"{min(vals[w]['pt']):,.0f}-{max(vals[w]['pt']):,.0f}"]
                    + [f"{m[a] / m[b]:.2f}" for a, b in ratios])
    print_table(header, rows)
    servers = [t for t in targets if t != "native"]
    print()
    print("Server CPU time per operation (per entry for find; µs, user + system, all its threads; median over the rounds):")
    print()
    print("| workload | " + " | ".join(servers) + " |")
    print("|---|" + "---:|" * len(servers))
    for w in order:
        print(f"| {w} | " + " | ".join(f"{statistics.median(cpu[w][t]):.1f}" for t in servers) + " |")

if sys.argv[1] == "run":
    run(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), sys.argv[7])
else:
    table(sys.argv[2], sys.argv[3].split(","))
PY

results=$work/results.tsv
: >"$results"
echo "== $(uname -r), $(nproc) CPUs, load average at start: $(cut -d' ' -f1-3 /proc/loadavg); $files files in $dirs directories, $rounds rounds; targets: ${targets[*]}"
start=$SECONDS
n=${#targets[@]}
# One short untimed pass per target first: the servers' JIT warms up outside the measured rounds.
for t in "${targets[@]}"; do
    run_child python3 "$work/bench.py" run "$t" "${roots[$t]}" "${pids[$t]}" $((files < 1000 ? files : 1000)) "$dirs" "$work/warm-up.tsv"
done
for ((round = 0; round < rounds; round++)); do
    for ((k = 0; k < n; k++)); do
        t=${targets[(round + k) % n]}
        echo "== round $((round + 1))/$rounds: $t"
        run_child python3 "$work/bench.py" run "$t" "${roots[$t]}" "${pids[$t]}" "$files" "$dirs" "$results"
    done
done
echo
echo "== results: median of $rounds rounds ($((SECONDS - start)) s; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg))"
echo
(IFS=,; python3 "$work/bench.py" table "$results" "${targets[*]}")
