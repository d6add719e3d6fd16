# Sourced by the e2e tests: start, restart and stop a real libvirtd (and virtlogd) on this
# machine without systemd, as DESIGN's verified recipe does.
libvirtd_up() {
  mkdir -p /var/log/libvirt/qemu /var/run/libvirt /var/lib/libvirt/qemu
  pgrep -x virtlogd >/dev/null || virtlogd -d
  if ! pgrep -x libvirtd >/dev/null; then libvirtd -d; fi
  for _ in $(seq 1 100); do
    virsh -c qemu:///system version >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "libvirtd did not come up" >&2; return 1
}
libvirtd_restart() { # libvirt reads hooks only at daemon start
  pkill -x libvirtd || true
  for _ in $(seq 1 100); do pgrep -x libvirtd >/dev/null || break; sleep 0.1; done
  libvirtd_up
}
# libvirt runs hooks and emulators with a clean environment: a two-line script names the
# fastpass configuration and execs the real binary. usage: config_script CONFIG BINARY OUT
config_script() {
  printf '#!/bin/sh\nFASTPASS_CONFIG=%s exec %s "$@"\n' "$1" "$2" > "$3"
  chmod 755 "$3"
}
