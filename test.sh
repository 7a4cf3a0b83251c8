#!/usr/bin/env bash
# Runs every test of the solution on a fresh machine: checks the toolchain, restores NuGet packages,
# builds (warnings are errors) and runs `dotnet test`, then prints one summary line.
set -euo pipefail
cd "$(dirname "$0")"

# Debian packages the tests need: fuse3 (fusermount3, for mounting without root and the tests that mount through it);
# git, gcc, make and fio for the Passthrough workload test; QEMU (with virtiofsd), busybox-static, cpio, kmod and
# libc6-dev for the guest image of the guest tests (scripts/guest/prepare.sh).
source scripts/debian-packages.sh
ensure_debian_packages fuse3 git gcc make fio qemu-system-x86 qemu-system-common busybox-static cpio kmod libc6-dev

if ! command -v dotnet >/dev/null; then
    echo "test.sh: the .NET 10 SDK is required (dotnet not found on PATH)" >&2
    exit 1
fi

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet restore VirtioFs.sln
dotnet build VirtioFs.sln -c Release --no-restore

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
# A test host that hangs is killed (with a dump of where it hung) and counted as failed, instead of stalling the run.
dotnet test VirtioFs.sln -c Release --no-build --blame-hang-timeout 10m 2>&1 | tee "$log" || status=$?

# One closing line over all test assemblies.
awk '/(Passed|Failed)!/ {
        for (i = 1; i <= NF; i++) {
            if ($i == "Failed:")  { f += $(i+1) + 0 }
            if ($i == "Passed:")  { p += $(i+1) + 0 }
            if ($i == "Skipped:") { s += $(i+1) + 0 }
        }
     }
     END { printf "%d passed, %d failed, %d skipped\n", p, f, s }' "$log"
exit "$status"
