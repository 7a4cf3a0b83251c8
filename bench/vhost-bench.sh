#!/usr/bin/env bash
# Whole-guest benchmark over vhost-user: boots the test guest (scripts/guest, under QEMU) with its full workload
# against two virtio-fs backends, each exporting its own fresh copy of the same seed directory in /dev/shm:
#   ours   - the Passthrough sample: dotnet Passthrough.dll SRC --vhost-user SOCK --tag T --cache never
#   theirs - QEMU's virtiofsd: virtiofsd --socket-path=SOCK -o source=SRC -o cache=none -o xattr
# alternating which goes first from round to round, then prints a Markdown table of the per-phase medians (the
# guest's own timings, in ms) with the ratio ours/theirs (above 1: ours is slower), QEMU's wall time and the
# backend's CPU time (user + system, from /usr/bin/time; it counts virtiofsd's sandboxed child too).
#
# usage: bench/vhost-bench.sh [--rounds N] [--workload full|short] [--no-build]
#   --rounds N      rounds (default 3); each boots both backends once
#   --workload W    the guest's workload (default full: 2,000 files and 256 MiB; short: 200 files and 8 MiB)
#   --no-build      use the Passthrough build that is already there
# Environment:
#   VHOST_BENCH_OURS  another command for "ours", run with bash (exec) after exporting SRC, SOCK and TAG, e.g.
#                     '/usr/lib/qemu/virtiofsd --socket-path=$SOCK -o source=$SRC -o cache=none -o xattr'
#                     (checks the script itself: both sides should then measure alike); implies --no-build
#   VFS_GUEST_ACCEL   QEMU's accelerator (default tcg)
# Needs root (Debian packages, virtiofsd); every process it starts is bounded by timeout(1) and stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

rounds=3 build=1 workload=full
for ((i = 1; i <= $#; i++)); do
    arg=${!i}
    case "$arg" in
        --rounds)
            i=$((i + 1))
            [[ ${!i:-} =~ ^[1-9][0-9]*$ ]] || { echo "vhost-bench.sh: --rounds needs a positive number" >&2; exit 2; }
            rounds=${!i} ;;
        --workload)
            i=$((i + 1))
            [[ ${!i:-} =~ ^(full|short)$ ]] || { echo "vhost-bench.sh: --workload is full or short" >&2; exit 2; }
            workload=${!i} ;;
        --no-build) build=0 ;;
        -h | --help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
        *) echo "vhost-bench.sh: unexpected argument '$arg' (try --help)" >&2; exit 2 ;;
    esac
done
[[ $workload == full ]] && guest_limit=300 || guest_limit=120 # seconds a boot may take before it is killed

source scripts/debian-packages.sh
source bench/lib.sh
ensure_debian_packages time python3
scripts/guest/prepare.sh | tail -n 1 # the guest image (cached); installs QEMU and virtiofsd when missing
image=$repo/artifacts/guest
kernel=$image/vmlinux # decompressed, boots seconds sooner under TCG; prepare.sh makes it when the kernel allows
[[ -f $kernel ]] || kernel=$image/vmlinuz
virtiofsd=/usr/lib/qemu/virtiofsd

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
if [[ -n ${VHOST_BENCH_OURS:-} ]]; then
    ours_cmd="exec $VHOST_BENCH_OURS" ours_name="VHOST_BENCH_OURS"
    echo "== ours: VHOST_BENCH_OURS='$VHOST_BENCH_OURS'"
else
    pt_dll=$repo/samples/Passthrough/bin/Release/net10.0/Passthrough.dll
    if ((build)); then
        echo "== building samples/Passthrough (Release)"
        dotnet build -c Release samples/Passthrough -v quiet -nologo >/dev/null
    fi
    [[ -f $pt_dll ]] || { echo "vhost-bench.sh: $pt_dll is missing (build samples/Passthrough in Release)" >&2; exit 1; }
    ours_cmd="exec dotnet '$pt_dll' \"\$SRC\" --vhost-user \"\$SOCK\" --tag \"\$TAG\" --cache never" ours_name=Passthrough
fi
theirs_cmd="exec '$virtiofsd' --socket-path=\"\$SOCK\" -o source=\"\$SRC\" -o cache=none -o xattr"

# --- work area and cleanup -----------------------------------------------------------------------------------
work=$(mktemp -d /dev/shm/vhost-bench.XXXXXX)
backend_pid='' qemu_pid=''
stop_pid() { # <pid of a timeout(1) or time(1) wrapper>: SIGTERM to what it runs, 5 s, then SIGKILL to the tree
    local pid=$1 child
    [[ -n $pid ]] || return 0
    for child in $(pgrep -P "$pid"); do kill -TERM "$child" 2>/dev/null; done
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
        for child in $(pgrep -P "$pid"); do pkill -KILL -P "$child" 2>/dev/null; kill -KILL "$child" 2>/dev/null; done
        kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null || true
}
cleanup() {
    local status=$?
    trap - EXIT INT TERM
    set +e
    cd /
    stop_pid "$qemu_pid"
    stop_pid "$backend_pid"
    rm -rf --one-file-system "$work"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The directory both export: a few small files in a few directories and one 1 MiB file, copied afresh for each boot.
mkdir -p "$work/seed"
for d in 1 2 3 4 5; do
    mkdir "$work/seed/d$d"
    for f in $(seq 20); do echo "seed file $d/$f" >"$work/seed/d$d/f$f"; done
done
head -c 1048576 /dev/urandom >"$work/seed/random.bin"

results=$work/results.tsv # side, round, measure, milliseconds
: >"$results"

fail_run() { # <message> <side>
    echo "vhost-bench.sh: $1" >&2
    for f in "$work/$2.console" "$work/$2.qemu" "$work/$2.log"; do
        [[ -s $f ]] && { echo "--- $(basename "$f"), last lines:" >&2; tail -n 25 "$f" >&2; }
    done
    exit 1
}

run_one() { # <ours|theirs> <round>
    local side=$1 round=$2 cmd t0 t1 tag=bench
    [[ $side == ours ]] && cmd=$ours_cmd || cmd=$theirs_cmd
    local src=$work/src-$side sock=$work/$side.sock
    rm -rf "$src" "$sock"
    cp -a "$work/seed" "$src"

    SRC=$src SOCK=$sock TAG=$tag /usr/bin/time -o "$work/$side.time" -f '%U %S' \
        timeout -k 5 $((guest_limit + 30)) bash -c "$cmd" >"$work/$side.log" 2>&1 &
    backend_pid=$!
    for _ in $(seq 200); do
        [[ -S $sock ]] && break
        kill -0 "$backend_pid" 2>/dev/null || fail_run "the $side backend exited before creating its socket" "$side"
        sleep 0.1
    done
    [[ -S $sock ]] || fail_run "the $side backend did not create $sock within 20 s" "$side"

    t0=$(date +%s%N)
    timeout -k 5 "$guest_limit" qemu-system-x86_64 \
        -machine q35 -accel "${VFS_GUEST_ACCEL:-tcg}" -cpu max -smp 1 -m 512M \
        -object memory-backend-memfd,id=mem,size=512M,share=on -numa node,memdev=mem \
        -chardev socket,id=vfs,path="$sock" -device vhost-user-fs-pci,chardev=vfs,tag=$tag \
        -kernel "$kernel" -initrd "$image/initrd.gz" \
        -append "console=ttyS0 quiet panic=-1 vfs.tag=$tag vfs.workload=$workload" \
        -nodefaults -display none -serial stdio -monitor none -no-reboot \
        </dev/null >"$work/$side.console" 2>"$work/$side.qemu" &
    qemu_pid=$!
    wait "$qemu_pid" || true # bash runs the INT/TERM traps only once wait returns
    qemu_pid=''
    t1=$(date +%s%N)

    # virtiofsd leaves when QEMU disconnects; a backend that stays is asked to (SIGTERM) after 5 s.
    for _ in $(seq 50); do kill -0 "$backend_pid" 2>/dev/null || break; sleep 0.1; done
    stop_pid "$backend_pid"
    backend_pid=''

    grep -q '^VFS-DONE ok' "$work/$side.console" || fail_run "round $round, $side: the guest did not finish ok" "$side"
    tr -d '\r' <"$work/$side.console" | awk -v s="$side" -v r="$round" '$1 == "VFS-PHASE" { print s "\t" r "\t" $2 "\t" $3 }' >>"$results"
    printf '%s\t%s\tQEMU wall time\t%d\n' "$side" "$round" $(((t1 - t0) / 1000000)) >>"$results"
    awk -v s="$side" -v r="$round" 'NF == 2 && $1 ~ /^[0-9.]+$/ { printf "%s\t%s\tbackend CPU\t%d\n", s, r, ($1 + $2) * 1000 }' \
        "$work/$side.time" >>"$results"
    echo "   round $round, $side: $(((t1 - t0) / 1000000)) ms, backend CPU $(awk 'NF == 2 && $1 ~ /^[0-9.]+$/ { print $1 + $2 " s" }' "$work/$side.time")"
}

echo "== $rounds round(s) of the $workload workload (QEMU ${VFS_GUEST_ACCEL:-tcg}, guest limit $guest_limit s per boot)"
for ((round = 1; round <= rounds; round++)); do
    if ((round % 2)); then order=(ours theirs); else order=(theirs ours); fi
    for side in "${order[@]}"; do run_one "$side" "$round"; done
done

echo
python3 - "$results" "$rounds" "$workload" "$ours_name" <<'PY'
import statistics, sys
rows, order = {}, []
for line in open(sys.argv[1]):
    side, _, measure, ms = line.rstrip("\n").split("\t")
    if measure not in rows:
        rows[measure] = {"ours": [], "theirs": []}
        order.append(measure)
    rows[measure][side].append(int(ms))
# Guest phases first (in the order the guest ran them), then the host-side measures.
order.sort(key=lambda m: m in ("QEMU wall time", "backend CPU"))
print(f"Medians of {sys.argv[2]} round(s), workload {sys.argv[3]}; ours = {sys.argv[4]}, theirs = virtiofsd.")
print()
print("| measure (ms) | ours | theirs | ours/theirs |")
print("|---|---:|---:|---:|")
for m in order:
    ours, theirs = rows[m]["ours"], rows[m]["theirs"]
    if not ours or not theirs:
        continue
    o, t = statistics.median(ours), statistics.median(theirs)
    ratio = f"{o / t:.2f}" if t > 0 else "-"
    print(f"| {m} | {o:.0f} | {t:.0f} | {ratio} |")
PY
