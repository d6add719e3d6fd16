# SPDX-License-Identifier: GPL-2.0-or-later
# Sourced by the e2e tests: start, restart and stop a real libvirtd (and virtlogd) on this
# machine without systemd, as DESIGN's verified recipe does.
# A daemon started here outlives the run: it must not keep the run's descriptors (ctest's pipes,
# a lock the run holds), so it starts with none but stdin, stdout and stderr.
detached() {
  ( for fd in /proc/self/fd/*; do
      fd=${fd##*/}; [ "$fd" -gt 2 ] 2>/dev/null && eval "exec $fd>&-"
    done 2>/dev/null
    exec "$@" )
}
libvirtd_up() {
  mkdir -p /var/log/libvirt/qemu /var/run/libvirt /var/lib/libvirt/qemu
  pgrep -x virtlogd >/dev/null || detached virtlogd -d
  if ! pgrep -x libvirtd >/dev/null; then detached libvirtd -d; fi
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
  printf '#!/bin/sh\n%s\nFASTPASS_CONFIG=%s exec %s "$@"\n' "$run_marker" "$1" "$2" > "$3"
  chmod 755 "$3"
}
# What a test or benchmark run installs carries this line: only such a file is replaced or
# removed, never a hook the host had before (an operator's own fastpass install).
run_marker='# installed by a fastpass test or benchmark run; removed when it ends'
hook_free() { # PATH: fails, saying why, when PATH is a hook this host had before
  if [ -e "$1" ] && ! grep -qxF "$run_marker" "$1" 2>/dev/null; then
    echo "error: $1 is a hook this host already has (not one a fastpass run installed): left alone; run this on a host without it" >&2
    return 1
  fi
}
# libvirtd confined by its AppArmor profile executes hooks from /etc/libvirt/hooks/ only: a hook
# that runs fastpass from a build tree would make every start fail ("Hook script execution
# failed"). Say so plainly instead; the package works there (README: AppArmor).
libvirtd_unconfined() {
  local profiles=/sys/kernel/security/apparmor/profiles
  if [ -r "$profiles" ] && grep -q '^libvirtd (enforce)$' "$profiles"; then
    echo "error: libvirtd runs confined by AppArmor (profile libvirtd in enforce mode): it cannot run fastpass from this build tree; install the package (README: Install) or use a host without AppArmor" >&2
    return 1
  fi
}
install_hook() { # CONFIG BINARY PATH
  hook_free "$3" || return 1
  libvirtd_unconfined || return 1
  mkdir -p "$(dirname "$3")"
  config_script "$1" "$2" "$3"
}
remove_hook() { # PATH: removes it when a run installed it; fails when there was nothing to remove
  [ -e "$1" ] && grep -qxF "$run_marker" "$1" 2>/dev/null && rm -f "$1"
}
# Debian's kernel (linux-image-amd64), which the test guests boot whatever the host runs; empty
# if none.
host_kernel() { "$(dirname "${BASH_SOURCE[0]}")/../debian-kernel"; }
# A small guest that boots this machine's newest kernel and writes its serial console to a file
# (what the tests and the profiler read). usage: boot_domain_xml NAME UUID CONSOLE [TOP-XML]
# [DEVICES-XML]; TOP-XML goes after <memory> (e.g. <memoryBacking>), DEVICES-XML first in
# <devices> (e.g. <emulator>, <hostdev>).
boot_domain_xml() {
  local kernel
  kernel=$(host_kernel)
  cat <<XML
<domain type='qemu'>
  <name>$1</name>
  <uuid>$2</uuid>
  <memory unit='MiB'>256</memory>
  ${4:-}
  <vcpu placement='static'>1</vcpu>
  <os>
    <type arch='x86_64' machine='q35'>hvm</type>
    <kernel>$kernel</kernel>
    <cmdline>console=ttyS0 panic=-1</cmdline>
    <bootmenu enable='no'/>
  </os>
  <on_reboot>destroy</on_reboot>
  <devices>
    ${5:-}
    <serial type='file'>
      <source path='$3'/>
      <target port='0'/>
    </serial>
    <memballoon model='none'/>
  </devices>
</domain>
XML
}
