# Sourced by run.sh and domains.sh (with $psql and $db set): server_cpu prints the whole PostgreSQL server's CPU so
# far in clock ticks (postmaster with its reaped children, plus every live backend), from /proc; ticks is CLK_TCK.
datadir=$("$psql" -XAt -d "$db" -c "SHOW data_directory")
postmaster=$(head -1 "$datadir/postmaster.pid")
ticks=$(getconf CLK_TCK)
server_cpu() {
  local total pid
  total=$(awk '{ print $14 + $15 + $16 + $17 }' "/proc/$postmaster/stat")
  for pid in $(pgrep -P "$postmaster"); do
    total=$((total + $(awk '{ print $14 + $15 }' "/proc/$pid/stat" 2>/dev/null || echo 0)))
  done
  echo "$total"
}
