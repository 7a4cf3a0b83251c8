# Prepended to the bench.py that bench/fs-bench.sh and bench/meta-bench.sh write: what both measure and print with.
import os

def cpu_seconds(pid):
    """CPU time of a process's live threads (user + system, from schedstat, in ns), in seconds; 0 without a server."""
    if pid == 0:
        return 0.0
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total / 1e9

def print_table(header, rows):
    """A Markdown table: the first two columns left-aligned, the others right-aligned."""
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    show = lambda r: print("| " + " | ".join(c.ljust(widths[i]) if i < 2 else c.rjust(widths[i]) for i, c in enumerate(r)) + " |")
    show(header)
    print("|" + "|".join("-" * (w + 2) if i < 2 else "-" * (w + 1) + ":" for i, w in enumerate(widths)) + "|")
    for r in rows:
        show(r)
