#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Runs inside the lab guest (tests/lab/lab-run -n 2 -L): DMA works through devices passed to a
# guest by fastpass's QEMU with every option on, after SeaBIOS's PAM changes and again after a
# guest reboot. The lab's first two e1000e are wired to each other (lab-run -L: one hub); both go
# to vfio-pci and into one nested guest (256 MiB, SeaBIOS, the host's kernel, a busybox
# initramfs). In it, one e1000e stays in the first network namespace (10.9.0.1) and the other
# moves to a second one (10.9.0.2): a ping, and 256 KiB of random bytes fetched over HTTP from
# one namespace to the other, go over the wire, through both devices' DMA (descriptor rings and
# packet buffers in guest RAM), and the bytes must arrive unchanged (sha256). The guest then
# reboots itself (the machine resets; SeaBIOS runs again, its PAM changes again) and does it all
# again. QEMU's trace must show that mappings were kept (vfio_dma_map_kept): the path under test
# ran. Any IOMMU fault the lab kernel logs (the device reaching unmapped memory) is shown.
# usage: dma-works.sh QEMU [EXTRA-QEMU-ARGS...]
#   (the lab's CMake runs it with fastpass's QEMU; any other QEMU, or extra arguments, to show
#   what a broken one does)
set -u
qemu=$(realpath "$1"); shift
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../cli/lib.sh"
[ -x "$qemu" ] || { echo "SKIP: no QEMU at $qemu (launcher/qemu/build-qemu builds fastpass's)"; exit 77; }
read -r -a devs <<<"${LAB_DEVICES:-}"
[ ${#devs[@]} -ge 2 ] || { echo "needs two lab devices (lab-run -n 2 -L)"; exit 2; }
work=/tmp/fastpass-lab-dma-works; rm -rf "$work"; mkdir -p "$work"
kernel=$("$here/../debian-kernel")
kver=${kernel##*/vmlinuz-}
rounds=2

# The nested guest's initramfs: busybox, e1000e and its dependencies, /init below.
root=$work/initramfs
mkdir -p "$root"/{bin,proc,sys,dev,tmp,www,mod}
cp "$(command -v busybox)" "$root/bin/busybox"
modprobe -S "$kver" --show-depends e1000e | awk '$1 == "insmod" { print $2 }' > "$work/modpaths"
while read -r path; do
  name=${path##*/}; name=${name%%.ko*}.ko
  case $path in
    *.ko) cp "$path" "$root/mod/$name" ;;
    *.ko.xz) xz -dc "$path" > "$root/mod/$name" ;;
    *.ko.zst) zstd -qdc "$path" > "$root/mod/$name" ;;
    *.ko.gz) gzip -dc "$path" > "$root/mod/$name" ;;
  esac
  echo "$name" >> "$root/modules"
done < "$work/modpaths"
cat > "$root/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in $(cat /modules); do insmod /mod/$m; done
r() { echo "DMA-ROUND $* (guest uptime $(cut -d' ' -f1 /proc/uptime) s)" > /dev/ttyS0; reboot -f; }
echo "DMA-STEP init at $(cut -d' ' -f1 /proc/uptime) s" > /dev/ttyS0
i=0; while [ ! -e /sys/class/net/eth1 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -e /sys/class/net/eth1 ] || r "FAIL: no eth0 and eth1"
ip link set lo up
unshare -n sleep 100000 &
ns=$!
sleep 0.3
ip link set dev eth1 netns $ns || r "FAIL: eth1 cannot move to a second namespace"
ip addr add 10.9.0.1/24 dev eth0; ip link set eth0 up
nsenter -t $ns -n sh -c 'ip link set lo up; ip addr add 10.9.0.2/24 dev eth1; ip link set eth1 up'
i=0; while [ "$(cat /sys/class/net/eth0/carrier 2>/dev/null)" != 1 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
echo "DMA-STEP link up at $(cut -d' ' -f1 /proc/uptime) s" > /dev/ttyS0
ping -c 3 -w 20 -s 1000 10.9.0.2 > /tmp/ping 2>&1 || r "FAIL: no ping reply: $(tail -2 /tmp/ping | tr '\n' ' ')"
dd if=/dev/urandom of=/www/blob bs=1024 count=256 2>/dev/null
nsenter -t $ns -n httpd -p 10.9.0.2:80 -h /www
rx0=$(cat /sys/class/net/eth0/statistics/rx_bytes)
timeout 60 wget -q -O /tmp/got http://10.9.0.2/blob || r "FAIL: the HTTP fetch failed"
rx1=$(cat /sys/class/net/eth0/statistics/rx_bytes)
want=$(sha256sum < /www/blob); got=$(sha256sum < /tmp/got)
[ "$want" = "$got" ] || r "FAIL: 256 KiB fetched, but not the bytes sent ($(wc -c < /tmp/got) bytes)"
r "ok: ping, and 262144 bytes fetched from the other namespace intact (eth0 received $((rx1 - rx0)) bytes)"
EOF
chmod 755 "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1 > "$work/initrd")

modprobe vfio-pci
for dev in "${devs[0]}" "${devs[1]}"; do
  # QEMU 7.2's e1000e resets only on a bus reset (tests/lab/README.md, point 4)
  echo bus > /sys/bus/pci/devices/$dev/reset_method
  # echo vfio-pci > driver_override; echo $dev > driver/unbind; echo $dev > drivers_probe
  echo vfio-pci > /sys/bus/pci/devices/$dev/driver_override
  [ -e /sys/bus/pci/devices/$dev/driver ] && echo "$dev" > /sys/bus/pci/devices/$dev/driver/unbind
  echo "$dev" > /sys/bus/pci/drivers_probe
  check "$dev on vfio-pci" [ "$(basename "$(readlink /sys/bus/pci/devices/$dev/driver)")" = vfio-pci ]
done

dmesg -c > /dev/null
start=$SECONDS
"$qemu" -machine q35,accel=tcg -m 256 -nodefaults -display none -kernel "$kernel" \
  -initrd "$work/initrd" -append "console=ttyS0 quiet panic=-1" -serial "file:$work/console" \
  -device "vfio-pci,host=${devs[0]},rombar=0" -device "vfio-pci,host=${devs[1]},rombar=0" \
  -global vfio-pci.x-skip-first-reset=on -global vfio-pci.x-parallel-open=on \
  -global vfio-pci.x-keep-dma-maps=on \
  -D "$work/trace" -trace enable=vfio_dma_map_kept -trace enable=vfio_dma_map_ioctl \
  "$@" > "$work/qemu.log" 2>&1 &
qpid=$!
seen=0 at=()
while kill -0 $qpid 2>/dev/null && [ $seen -lt $rounds ] && [ $((SECONDS - start)) -lt 640 ]; do
  sleep 1
  n=$(cat "$work/console" 2>/dev/null | grep -c '^DMA-ROUND')
  while [ $seen -lt "$n" ]; do at+=($((SECONDS - start))); seen=$((seen + 1)); done
done
kill $qpid 2>/dev/null; wait $qpid 2>/dev/null; qrc=$?
touch "$work/console"
echo "     nested guest: $seen rounds, done at ${at[*]:-never} s after exec (QEMU status $qrc)"
grep '^DMA-ROUND' "$work/console" | tr -d '\r' | sed 's/^/     /'
sed 's/^/     qemu: /' "$work/qemu.log" | head -5
[ $seen -ge $rounds ] || tail -5 "$work/console" | tr -d '\r' | sed 's/^/     console: /'
check "round 1 (first boot, after SeaBIOS's PAM changes): DMA works both ways, bytes intact" \
  [ "$(grep '^DMA-ROUND' "$work/console" | sed -n 1p | cut -c1-13)" = "DMA-ROUND ok:" ]
check "round 2 (after the guest rebooted: machine reset, PAM changes again): DMA works" \
  [ "$(grep '^DMA-ROUND' "$work/console" | sed -n 2p | cut -c1-13)" = "DMA-ROUND ok:" ]
kept=$(grep -c 'vfio_dma_map_kept' "$work/trace" 2>/dev/null); kept=${kept:-0}
check "QEMU kept mappings across memory map changes ($kept vfio_dma_map_kept events)" [ "$kept" -gt 0 ]
faults=$(dmesg | grep -ci 'DMAR.*fault')
[ "$faults" -gt 0 ] && dmesg | grep -i 'DMAR' | head -5 | sed 's/^/     lab kernel: /'
check "the lab's IOMMU saw no DMA fault from the devices ($faults)" [ "$faults" -eq 0 ]
finish
