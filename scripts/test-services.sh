# Sourced by ./test.sh and bench/soak.sh: starts every scripts/test-services/NAME.sh (`NAME.sh start STATE_DIR`:
# installs what it needs, starts its server on loopback, prints KEY=VALUE lines on stdout, progress on stderr) into a
# fresh state folder, $test_services_state, and exports what they print. Whatever happens, each is stopped
# (`NAME.sh stop STATE_DIR`) and the folder removed when the sourcing script exits.
test_services_state=$(mktemp -d)
chmod 755 "$test_services_state"
test_services=(scripts/test-services/*.sh)

test_services_stop() {
  for service in "${test_services[@]}"; do
    [ -e "$service" ] && bash "$service" stop "$test_services_state" || true
  done
  rm -rf "$test_services_state"
}
trap test_services_stop EXIT

# Starts them all; returns 1, naming the service, when one cannot start.
test_services_start() {
  local service
  for service in "${test_services[@]}"; do
    [ -e "$service" ] || continue
    echo "== start $(basename "$service" .sh)"
    if ! bash "$service" start "$test_services_state" >>"$test_services_state/test.env"; then
      echo "Could not start $(basename "$service" .sh) (see above)."
      return 1
    fi
  done
  if [ -f "$test_services_state/test.env" ]; then
    set -a
    # shellcheck disable=SC1091
    source "$test_services_state/test.env"
    set +a
  fi
}
