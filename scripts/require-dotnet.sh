#!/usr/bin/env bash
# Sourced by run.sh and test.sh: makes sure the .NET 10 SDK is on PATH (installed from Debian's packages if missing).
if ! command -v dotnet >/dev/null 2>&1; then
  for candidate in /usr/share/dotnet /usr/lib/dotnet "$HOME/.dotnet"; do
    if [ -x "$candidate/dotnet" ]; then export PATH="$candidate:$PATH"; break; fi
  done
fi
if ! command -v dotnet >/dev/null 2>&1; then
  echo "The .NET 10 SDK is needed; trying to install it with apt-get (package dotnet-sdk-10.0)..." >&2
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq dotnet-sdk-10.0 >&2 || true
  fi
fi
if ! dotnet --list-sdks 2>/dev/null | grep -q '^10\.'; then
  echo "error: the .NET 10 SDK was not found and could not be installed; install dotnet-sdk-10.0 and try again." >&2
  exit 1
fi
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
# The GC sizes its youngest generation from the CPU cache the machine reports; a VM that reports a 260 MiB L3 made every
# process collect only every ~100 MB of allocation, keeping that much memory for a heap of 10 MB (docs/reliability.md,
# session 46). A fixed 16 MB budget is what a usual machine's cache gives; an operator's own setting wins. The units in
# deploy/ set the same.
export DOTNET_GCgen0size="${DOTNET_GCgen0size:-0x1000000}"
