# SPDX-License-Identifier: GPL-2.0-or-later
# Sourced by the lab's DMA tests (inside the lab guest): the kernel's own count of VFIO type1 map
# and unmap ioctls. dma_kprobe_on sets T (tracefs) and adds the probe, or skips the test (exit 77)
# where the kernel cannot probe it; the caller turns tracing on and off around QEMU's run.
dma_kprobe_on() {
  T=/sys/kernel/tracing
  mountpoint -q $T || mount -t tracefs none $T
  echo 0 > $T/tracing_on
  echo > $T/kprobe_events
  # VFIO type1 map and unmap ioctls as the kernel sees them (its helpers are inlined): the command
  # and the user's struct (dma_map: iova at +16, size at +24; dma_unmap: iova at +8, size at +16).
  echo "p:fpdma/dma vfio_iommu_type1_ioctl cmd=%si:x32 a8=+u8(%dx):x64 a16=+u16(%dx):x64 a24=+u24(%dx):x64" \
    >> $T/kprobe_events || { echo "SKIP: vfio_iommu_type1_ioctl cannot be probed here"; exit 77; }
  echo 1 > $T/events/fpdma/enable
  echo 16384 > $T/buffer_size_kb
}
