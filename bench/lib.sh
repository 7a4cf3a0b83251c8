# Sourced by bench/fs-bench.sh, bench/meta-bench.sh and bench/worker-bench.sh: what they need to mount servers, run
# measurements and clean up.
# Messages name the script that sourced this file. bench/lib.py is the Python counterpart (prepended to their bench.py).

bench_name=$(basename "$0")

is_mounted() { awk -v m="$1" '$2 == m { found = 1 } END { exit !found }' /proc/mounts; }

wait_mounted() { # <mountpoint> <pid> <log>: waits up to 30 s; exits, showing the log, when the server dies or does not mount
    for _ in $(seq 300); do
        is_mounted "$1" && return 0
        kill -0 "$2" 2>/dev/null || { echo "$bench_name: the server for $1 exited:" >&2; cat "$3" >&2; exit 1; }
        sleep 0.1
    done
    echo "$bench_name: $1 was not mounted within 30 s:" >&2
    cat "$3" >&2
    exit 1
}

stop_server() { # <pid> <mountpoint> <unmount command...>: unmounts, gives the server 5 s to exit, then kills it
    local pid=$1 mnt=$2
    shift 2
    if is_mounted "$mnt"; then
        "$@" >/dev/null 2>&1 || true
    fi
    if [[ -n $pid ]]; then
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    if is_mounted "$mnt"; then umount -l "$mnt" 2>/dev/null || fusermount3 -u -z "$mnt" 2>/dev/null || true; fi
}

unmount_fuse() { fusermount3 -u "$1" 2>/dev/null || fusermount -u "$1" 2>/dev/null || umount "$1"; }

# Sets bindfs_opts. Debian's bindfs is linked against libfuse 2, which asks for FUSE_BIG_WRITES only with -o big_writes:
# without it every write reaches bindfs as 4 KiB requests. libfuse 3 always asks for it (and rejects the option).
set_bindfs_opts() {
    bindfs_opts=(-f --no-allow-other)
    if ldd "$(command -v bindfs)" 2>/dev/null | grep -q 'libfuse\.so\.2'; then
        bindfs_opts+=(-o big_writes)
    fi
}

# Runs a measurement in background and waits for it, so that a signal to the script runs its trap at once (bash runs
# traps only once `wait` returns); $child is its pid meanwhile, for stop_child.
child=''
run_child() {
    "$@" &
    child=$!
    wait "$child"
    child=''
}

stop_child() { # a measurement still running, and its fio or find if any
    if [[ -n $child ]]; then
        pkill -TERM -P "$child" 2>/dev/null
        kill -TERM "$child" 2>/dev/null
        wait "$child" 2>/dev/null
    fi
    return 0
}

# For scripts that keep their servers in an array $targets and an associative array $pids (target -> server pid; 0 for
# a target that is no mount, such as a native directory), each over $work/src-<target> mounted at $work/mnt-<target>.
mount_target() { # <target> <command...>: runs <command> <src> <mnt> in background and waits until it has mounted
    local t=$1 src=$work/src-$1 mnt=$work/mnt-$1
    shift
    mkdir -p "$src" "$mnt"
    "$@" "$src" "$mnt" >"$work/$t.log" 2>&1 &
    pids[$t]=$!
    wait_mounted "$mnt" "${pids[$t]}" "$work/$t.log"
}

cleanup_targets() { # the EXIT trap: stops the measurement and every server, and removes $work once nothing is mounted
    local status=$?
    trap - EXIT INT TERM
    set +e
    cd /
    stop_child
    local t pid
    for t in "${targets[@]}"; do
        pid=${pids[$t]:-}
        [[ $pid == 0 ]] && continue
        # Our samples unmount themselves on SIGTERM; bindfs is unmounted with fusermount.
        if [[ -n $pid && $t != bindfs ]]; then kill -TERM "$pid" 2>/dev/null; fi
        stop_server "$pid" "$work/mnt-$t" unmount_fuse "$work/mnt-$t"
    done
    if grep -q " $work/" /proc/mounts; then
        echo "$bench_name: could not unmount everything under $work; left it in place" >&2
    else
        rm -rf --one-file-system "$work"
    fi
    exit "$status"
}
