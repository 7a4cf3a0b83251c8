#!/usr/bin/env bash
# Whole-system benchmark over /dev/fuse: runs the same metadata and fio workloads, in one run, on
#   ours   - the MemoryFs sample (in-memory filesystem served by this library through /dev/fuse),
#   pt     - the Passthrough sample (this library) over a directory in /dev/shm (--cache auto, like bindfs's 1 s timeouts),
#   pt+pt  - the same with --passthrough (FUSE_PASSTHROUGH backing files: the kernel does file reads and writes itself),
#   bindfs - bindfs (a libfuse passthrough; Debian builds it on libfuse 2, single-threaded by default) over a directory in /dev/shm,
#   native - a directory in /dev/shm (tmpfs), the same backing as bindfs's source,
# then prints one table (rows: workloads; columns: ours, pt, pt+pt, bindfs, native and ratios) and the
# servers' CPU use per workload. Everything it mounts is unmounted on exit, however it exits.
#
# usage: bench/fs-bench.sh [--quick] [--workers N] [--no-build]
#   --quick       short run for testing the script (N=300 files, a 5x60 tree, 64 MiB fio file, 2 s fio runs)
#   --workers N   MemoryFs's --workers (default: MemoryFs's own default, the processor count)
#   --no-build    use the MemoryFs build that is already there
# Needs root to install missing Debian packages (fio, bindfs, fuse3, python3) with apt-get, and to mount.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

quick=0
build=1
workers=()
for ((i = 1; i <= $#; i++)); do
    case "${!i}" in
        --quick) quick=1 ;;
        --no-build) build=0 ;;
        --workers)
            i=$((i + 1))
            [[ ${!i:-} =~ ^[0-9]+$ ]] || { echo "fs-bench.sh: --workers needs a number" >&2; exit 2; }
            workers=(--workers "${!i}") ;;
        -h | --help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "fs-bench.sh: unexpected argument '${!i}' (try --help)" >&2; exit 2 ;;
    esac
done

if ((quick)); then
    files=300 tree_dirs=5 tree_files=60 fio_size=64M fio_runtime=2 fio_rounds=1
else
    files=2000 tree_dirs=20 tree_files=200 fio_size=256M fio_runtime=3 fio_rounds=2
fi
reps=3

# --- Debian packages --------------------------------------------------------------------------------------
source scripts/debian-packages.sh
source bench/lib.sh
ensure_debian_packages fio bindfs fuse3 python3

if ! command -v dotnet >/dev/null; then
    echo "fs-bench.sh: the .NET 10 SDK is required (dotnet not found on PATH)" >&2
    exit 1
fi
if [[ ! -c /dev/fuse ]]; then
    echo "fs-bench.sh: /dev/fuse is missing (modprobe fuse, or pass the device into the container)" >&2
    exit 1
fi

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dll=$repo/samples/MemoryFs/bin/Release/net10.0/MemoryFs.dll
if ((build)); then
    echo "== building samples/MemoryFs and samples/Passthrough (Release)"
    dotnet build -c Release samples/MemoryFs -v quiet -nologo >/dev/null
    dotnet build -c Release samples/Passthrough -v quiet -nologo >/dev/null
fi
pt_dll=$repo/samples/Passthrough/bin/Release/net10.0/Passthrough.dll
[[ -f $dll ]] || { echo "fs-bench.sh: $dll is missing (build samples/MemoryFs in Release)" >&2; exit 1; }
[[ -f $pt_dll ]] || { echo "fs-bench.sh: $pt_dll is missing (build samples/Passthrough in Release)" >&2; exit 1; }

# --- work area and cleanup -----------------------------------------------------------------------------------
# Everything lives under one tmpfs directory: the native directory, bindfs's source and both mount points.
work=$(mktemp -d /dev/shm/fs-bench.XXXXXX)
native=$work/native bindsrc=$work/bindfs-src ours_mnt=$work/mnt-ours bindfs_mnt=$work/mnt-bindfs
ptsrc=$work/pt-src pt_mnt=$work/mnt-pt ptpsrc=$work/ptp-src ptp_mnt=$work/mnt-ptp
mkdir -p "$native" "$bindsrc" "$ours_mnt" "$bindfs_mnt" "$ptsrc" "$pt_mnt" "$ptpsrc" "$ptp_mnt"
ours_pid='' bindfs_pid='' pt_pid='' ptp_pid=''

cleanup() {
    local status=$?
    trap - EXIT INT TERM
    set +e # clean up as much as possible, whatever fails
    cd /
    stop_child
    # MemoryFs unmounts itself on SIGTERM (not SIGINT: a background job of a script starts with SIGINT ignored).
    [[ -n $ours_pid ]] && kill -TERM "$ours_pid" 2>/dev/null
    [[ -n $pt_pid ]] && kill -TERM "$pt_pid" 2>/dev/null
    [[ -n $ptp_pid ]] && kill -TERM "$ptp_pid" 2>/dev/null
    stop_server "$ours_pid" "$ours_mnt" umount "$ours_mnt"
    stop_server "$pt_pid" "$pt_mnt" umount "$pt_mnt"
    stop_server "$ptp_pid" "$ptp_mnt" umount "$ptp_mnt"
    stop_server "$bindfs_pid" "$bindfs_mnt" unmount_fuse "$bindfs_mnt"
    if is_mounted "$ours_mnt" || is_mounted "$bindfs_mnt" || is_mounted "$pt_mnt" || is_mounted "$ptp_mnt"; then
        echo "fs-bench.sh: could not unmount everything under $work; left it in place" >&2
    else
        rm -rf --one-file-system "$work"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- measuring helper (python3) ------------------------------------------------------------------------------
cat bench/lib.py - >"$work/bench.py" <<'PY'
import json, os, statistics, subprocess, sys, time

RESULTS = sys.argv[2]

def record(fs, workload, value, cpu_pct):
    with open(RESULTS, "a") as f:
        f.write(f"{fs}\t{workload}\t{value:.6g}\t{cpu_pct:.6g}\n")

def timed(pid, fn):
    c0, t0 = cpu_seconds(pid), time.perf_counter()
    fn()
    t1, c1 = time.perf_counter(), cpu_seconds(pid)
    return t1 - t0, c1 - c0

def meta(fs, root, pid, files, tree_dirs, tree_files, reps):
    data = b"x" * 100
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    phases = {"create": [], "stat": [], "unlink": []}
    cpu = {"create": [0.0, 0.0], "stat": [0.0, 0.0], "unlink": [0.0, 0.0]}  # busy, wall over all repetitions
    for rep in range(reps):
        d = os.path.join(root, f"meta{rep}")
        os.mkdir(d)
        names = [os.path.join(d, f"f{i:05d}") for i in range(files)]
        def create():
            for n in names:
                fd = os.open(n, flags, 0o644)
                os.write(fd, data)
                os.close(fd)
        def stat():
            for n in names:
                os.stat(n)
        def unlink():
            for n in names:
                os.unlink(n)
        for name, fn in (("create", create), ("stat", stat), ("unlink", unlink)):
            if name == "stat":
                time.sleep(1.1)  # let FUSE's 1 s entry/attr timeouts expire: each stat is then a LOOKUP round trip
            wall, busy = timed(pid, fn)
            phases[name].append(files / wall)
            cpu[name][0] += busy
            cpu[name][1] += wall
        os.rmdir(d)
    for name in phases:
        record(fs, name, statistics.median(phases[name]), 100 * max(cpu[name][0], 0) / cpu[name][1])

    tree = os.path.join(root, "tree")
    os.mkdir(tree)
    for i in range(tree_dirs):
        sub = os.path.join(tree, f"d{i:03d}")
        os.mkdir(sub)
        for j in range(tree_files):
            os.close(os.open(os.path.join(sub, f"f{j:04d}"), flags, 0o644))
    rates, busy_total, wall_total = [], 0.0, 0.0
    for _ in range(reps):
        time.sleep(1.1)  # same cache state on every repetition
        out = []
        wall, busy = timed(pid, lambda: out.append(subprocess.run(["find", tree], stdout=subprocess.PIPE, check=True).stdout))
        entries = out[0].count(b"\n")
        expected = 1 + tree_dirs * (1 + tree_files)
        if entries != expected:
            sys.exit(f"find on {fs} listed {entries} entries, expected {expected}")
        rates.append(entries / wall)
        busy_total += busy
        wall_total += wall
    record(fs, "find", statistics.median(rates), 100 * max(busy_total, 0) / wall_total)
    for i in range(tree_dirs):
        sub = os.path.join(tree, f"d{i:03d}")
        for j in range(tree_files):
            os.unlink(os.path.join(sub, f"f{j:04d}"))
        os.rmdir(sub)
    os.rmdir(tree)

FIO_JOBS = [("seqread", "read"), ("seqwrite", "write"), ("randread", "randread"), ("randwrite", "randwrite")]

def fio(fs, root, pid, size, runtime):
    path = os.path.join(root, "fio.dat")
    common = ["fio", "--ioengine=psync", "--direct=0", f"--filename={path}", f"--size={size}", "--numjobs=1"]
    # Lay the file out once, in 1 MiB writes (a one-I/O read job lays it out; --create_only leaves a file of size 0
    # on FUSE mounts, and then the first real job would lay it out in its own block size, outside its runtime).
    subprocess.run(common + ["--name=layout", "--rw=read", "--bs=1M", "--number_ios=1"],
                   check=True, stdout=subprocess.DEVNULL)
    for bs in ("4k", "1m"):
        for label, rw in FIO_JOBS:
            c0, t0 = cpu_seconds(pid), time.perf_counter()
            r = subprocess.run(common + [f"--name={label}", f"--rw={rw}", f"--bs={bs}", "--time_based",
                                         f"--runtime={runtime}", "--output-format=json"],
                               check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            wall, busy = time.perf_counter() - t0, cpu_seconds(pid) - c0  # wall includes fio's start-up (~0.1 s)
            job = json.loads(r.stdout[r.stdout.index("{"):])["jobs"][0]
            if "Laying out" in r.stdout + r.stderr:
                sys.exit(f"fio laid the file out again in job {label} {bs} on {fs}")
            side = job["write" if "write" in rw else "read"]
            record(fs, f"fio {label} {bs}", side["bw_bytes"] / 2**20, 100 * max(busy, 0) / wall)
    os.unlink(path)

def table():
    rows, cpu = {}, {}
    order = []
    with open(RESULTS) as f:
        for line in f:
            fs, workload, value, pct = line.rstrip("\n").split("\t")
            if workload not in rows:
                rows[workload] = {}
                order.append(workload)
            rows[workload].setdefault(fs, []).append(float(value))
            cpu.setdefault(workload, {}).setdefault(fs, []).append(float(pct))
    unit = lambda w: "MiB/s" if w.startswith("fio") else ("entries/s" if w == "find" else "ops/s")
    def fmt(v):
        return "-" if v is None else (f"{v:,.0f}" if v >= 100 else f"{v:,.1f}")
    def ratio(a, b):
        return "-" if a is None or not b else f"{a / b:.2f}"
    header = ["workload", "unit", "ours", "pt", "pt+pt", "bindfs", "native", "ours/bindfs", "ours/native", "pt/bindfs", "pt/native", "pt+pt/native"]
    lines = []
    for w in order:
        # Median over the rounds; the targets take turns within each round, so drift hits them alike.
        r = {fs: statistics.median(v) for fs, v in rows[w].items()}
        o, p, pp, b, n = r.get("ours"), r.get("pt"), r.get("ptp"), r.get("bindfs"), r.get("native")
        lines.append([w, unit(w), fmt(o), fmt(p), fmt(pp), fmt(b), fmt(n), ratio(o, b), ratio(o, n), ratio(p, b), ratio(p, n), ratio(pp, n)])
    print_table(header, lines)
    print()
    print("Server CPU during each workload (% of one core: the server's threads' CPU time over the wall time,")
    print("mean over the rounds):")
    print()
    print("| workload | ours | pt | pt+pt | bindfs |")
    print("|---|---:|---:|---:|---:|")
    for w in order:
        c = {fs: statistics.mean(v) for fs, v in cpu[w].items()}
        print(f"| {w} | {c.get('ours', 0):.0f} % | {c.get('pt', 0):.0f} % | {c.get('ptp', 0):.0f} % | {c.get('bindfs', 0):.0f} % |")

cmd = sys.argv[1]
if cmd == "meta":
    meta(sys.argv[3], sys.argv[4], int(sys.argv[5]), *map(int, sys.argv[6:10]))
elif cmd == "fio":
    fio(sys.argv[3], sys.argv[4], int(sys.argv[5]), sys.argv[6], int(sys.argv[7]))
elif cmd == "table":
    table()
PY
results=$work/results.tsv
: >"$results"

measure() { run_child python3 "$work/bench.py" "$@"; }

# Rounds: within each round the three targets take turns, and the table shows the median of the rounds, so a
# machine that speeds up or slows down during the run affects every target alike.
run_rounds() {
    local round target
    for ((round = 1; round <= reps; round++)); do
        for target in ours pt ptp bindfs native; do
            echo "== round $round/$reps, $target: metadata ($files files, find over ${tree_dirs}x${tree_files})"
            measure meta "$results" "$target" "${dirs[$target]}" "${pids[$target]}" "$files" "$tree_dirs" "$tree_files" 1
        done
    done
    for ((round = 1; round <= fio_rounds; round++)); do
        for target in ours pt ptp bindfs native; do
            echo "== round $round/$fio_rounds, $target: fio (psync, buffered, $fio_size file, ${fio_runtime} s per job)"
            measure fio "$results" "$target" "${dirs[$target]}" "${pids[$target]}" "$fio_size" "$fio_runtime"
        done
    done
}

start=$(date +%s.%N)
echo "== $(uname -r), $(nproc) CPUs, load average at start: $(cut -d' ' -f1-3 /proc/loadavg); $(bindfs --version 2>&1 | head -1); $(fio --version)"
echo "== mounting MemoryFs at $ours_mnt"
dotnet "$dll" "$ours_mnt" "${workers[@]}" >"$work/ours.log" 2>&1 &
ours_pid=$!
wait_mounted "$ours_mnt" "$ours_pid" "$work/ours.log"

set_bindfs_opts
echo "== mounting bindfs $bindsrc at $bindfs_mnt (${bindfs_opts[*]})"
bindfs "${bindfs_opts[@]}" "$bindsrc" "$bindfs_mnt" >"$work/bindfs.log" 2>&1 &
bindfs_pid=$!
wait_mounted "$bindfs_mnt" "$bindfs_pid" "$work/bindfs.log"

# Passthrough: the same source as bindfs's kind (a tmpfs directory), its default cache mode (1 s timeouts like
# bindfs's) and default 4 threads; then the same with FUSE_PASSTHROUGH backing files.
echo "== mounting Passthrough $ptsrc at $pt_mnt"
dotnet "$pt_dll" "$ptsrc" "$pt_mnt" >"$work/pt.log" 2>&1 &
pt_pid=$!
wait_mounted "$pt_mnt" "$pt_pid" "$work/pt.log"
echo "== mounting Passthrough --passthrough $ptpsrc at $ptp_mnt"
dotnet "$pt_dll" "$ptpsrc" "$ptp_mnt" --passthrough >"$work/ptp.log" 2>&1 &
ptp_pid=$!
wait_mounted "$ptp_mnt" "$ptp_pid" "$work/ptp.log"

declare -A dirs=([ours]=$ours_mnt [pt]=$pt_mnt [ptp]=$ptp_mnt [bindfs]=$bindfs_mnt [native]=$native)
declare -A pids=([ours]=$ours_pid [pt]=$pt_pid [ptp]=$ptp_pid [bindfs]=$bindfs_pid [native]=0)
run_rounds

end=$(date +%s.%N)
echo
echo "== results ($(uname -r), $(nproc) CPUs; native and bindfs's source: tmpfs /dev/shm; $(python3 -c "print(f'{$end - $start:.0f}')") s)"
echo
python3 "$work/bench.py" table "$results"
