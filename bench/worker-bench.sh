#!/usr/bin/env bash
# How the /dev/fuse worker model shapes round-trip-bound workloads: the Passthrough sample mounted three ways, and
# bindfs (Debian's, libfuse 2, one thread) as the reference, each over its own directory in /dev/shm:
#   pt1     - Passthrough --threads 1 (one worker: every request wakes the same thread),
#   pt4     - Passthrough --threads 4 (the default: idle workers wait in the kernel and take requests in turn),
#   pt4park - Passthrough --threads 4 --park-idle-workers (one idle worker waits in the kernel, the others park),
#   bindfs  - bindfs -f --no-allow-other,
# then, in every round, runs on each target in turn (the order rotates from round to round):
#   stat      - stat of N files, after 1.1 s (the 1 s entry/attr timeouts have expired: one LOOKUP each),
#   randread  - fio randread, psync, 4 KiB, one job, on a 64 MiB file,
#   randread4 - the same with 4 jobs.
# Prints per workload the median over the rounds and each target's ratio to bindfs.
# Everything it mounts is unmounted on exit, however it exits.
#
# usage: bench/worker-bench.sh [--rounds R] [--files N] [--runtime S] [--no-build]
#   --rounds R    rounds (default 3)
#   --files N     files for the stat workload (default 2000)
#   --runtime S   seconds per fio job (default 2)
#   --no-build    use the Passthrough build that is already there
# Needs root (to mount) and bindfs, fio, python3 (installed with apt-get when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

rounds=3 files=2000 runtime=2 build=1
for ((i = 1; i <= $#; i++)); do
    arg=${!i}
    case "$arg" in
        --rounds | --files | --runtime)
            i=$((i + 1))
            [[ ${!i:-} =~ ^[1-9][0-9]*$ ]] || { echo "worker-bench.sh: $arg needs a positive number" >&2; exit 2; }
            case "$arg" in
                --rounds) rounds=${!i} ;;
                --files) files=${!i} ;;
                --runtime) runtime=${!i} ;;
            esac ;;
        --no-build) build=0 ;;
        -h | --help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "worker-bench.sh: unexpected argument '$arg' (try --help)" >&2; exit 2 ;;
    esac
done

source scripts/debian-packages.sh
source bench/lib.sh
ensure_debian_packages fio bindfs fuse3 python3

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
if ((build)); then
    echo "== building samples/Passthrough (Release)"
    dotnet build -c Release samples/Passthrough -v quiet -nologo >/dev/null
fi
pt_dll=$repo/samples/Passthrough/bin/Release/net10.0/Passthrough.dll
[[ -f $pt_dll ]] || { echo "worker-bench.sh: $pt_dll is missing (build samples/Passthrough in Release)" >&2; exit 1; }

work=$(mktemp -d /dev/shm/worker-bench.XXXXXX)
targets=(pt1 pt4 pt4park bindfs)
declare -A pids=()

trap cleanup_targets EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mount_target pt1 dotnet "$pt_dll" --threads 1
mount_target pt4 dotnet "$pt_dll" --threads 4
mount_target pt4park dotnet "$pt_dll" --threads 4 --park-idle-workers
set_bindfs_opts
mount_target bindfs bindfs "${bindfs_opts[@]}"

cat >"$work/bench.py" <<'PY'
import json, os, statistics, subprocess, sys, time

def stat_rate(root, files):
    d = os.path.join(root, "stat")
    if not os.path.isdir(d):
        os.mkdir(d)
        for i in range(files):
            os.close(os.open(os.path.join(d, f"f{i:05d}"), os.O_WRONLY | os.O_CREAT, 0o644))
    names = [os.path.join(d, f"f{i:05d}") for i in range(files)]
    time.sleep(1.1)
    start = time.perf_counter()
    for n in names:
        os.stat(n)
    return files / (time.perf_counter() - start)

def fio_rate(root, jobs, runtime):
    out = subprocess.run(["fio", "--name=j", f"--directory={root}", "--filename=f", "--size=64M", "--rw=randread",
                          "--bs=4k", "--ioengine=psync", f"--numjobs={jobs}", "--group_reporting", "--time_based",
                          f"--runtime={runtime}", "--output-format=json"], check=True, capture_output=True, text=True).stdout
    return json.loads(out)["jobs"][0]["read"]["bw_bytes"] / 1048576

def measure(target, root, files, runtime, out):
    f = os.path.join(root, "f")
    if not os.path.exists(f):
        with open(f, "wb") as w:
            for _ in range(64):
                w.write(b"\0" * 1048576)
    with open(out, "a") as o:
        o.write(f"{target} stat {stat_rate(root, files)}\n")
        o.write(f"{target} randread {fio_rate(root, 1, runtime)}\n")
        o.write(f"{target} randread4 {fio_rate(root, 4, runtime)}\n")

def table(out, targets):
    values = {}
    for line in open(out):
        t, w, v = line.split()
        values.setdefault((t, w), []).append(float(v))
    rows = [("stat", "stat/s"), ("randread", "MiB/s"), ("randread4", "MiB/s")]
    print("| workload | unit | " + " | ".join(targets) + " | " + " | ".join(f"{t}/bindfs" for t in targets if t != "bindfs") + " |")
    print("|---|---|" + "---:|" * (2 * len(targets) - 1))
    for w, unit in rows:
        med = {t: statistics.median(values[(t, w)]) for t in targets}
        print(f"| {w} | {unit} | " + " | ".join(f"{med[t]:,.0f}" for t in targets) + " | "
              + " | ".join(f"{med[t] / med['bindfs']:.2f}" for t in targets if t != "bindfs") + " |")

if sys.argv[1] == "measure":
    measure(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), sys.argv[6])
else:
    table(sys.argv[2], sys.argv[3:])
PY

results=$work/results.txt
echo "== $(uname -r), $(nproc) CPUs, load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
for ((r = 0; r < rounds; r++)); do
    for ((k = 0; k < ${#targets[@]}; k++)); do
        t=${targets[$(((k + r) % ${#targets[@]}))]}
        echo "== round $((r + 1))/$rounds: $t"
        run_child python3 "$work/bench.py" measure "$t" "$work/mnt-$t" "$files" "$runtime" "$results"
    done
done
echo
python3 "$work/bench.py" table "$results" "${targets[@]}"
