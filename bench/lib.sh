# Sourced by bench/fs-bench.sh and bench/meta-bench.sh: what both need to mount servers, run measurements and clean up.
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
