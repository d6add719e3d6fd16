/* SPDX-License-Identifier: GPL-2.0-or-later */
/* lab-mmio: read or write one 32-bit register of a PCI device's BAR through sysfs
 * (mmap of /sys/bus/pci/devices/$BDF/resourceN), so the lab can see a reset from the device's
 * own state: a value written before the reset is gone after it.
 * usage: lab-mmio BDF BAR OFFSET [VALUE]   (numbers in C notation; prints the value read) */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
    char path[128];
    unsigned long bar, offset, page;
    volatile uint32_t *reg;
    void *map;
    int fd;

    if (argc < 4 || argc > 5 || strlen(argv[1]) != 12) {
        fprintf(stderr, "usage: lab-mmio BDF BAR OFFSET [VALUE]\n");
        return 2;
    }
    bar = strtoul(argv[2], NULL, 0);
    offset = strtoul(argv[3], NULL, 0);
    snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource%lu", argv[1], bar);
    fd = open(path, O_RDWR | O_SYNC | O_CLOEXEC);
    if (fd < 0) {
        perror(path);
        return 1;
    }
    page = offset & ~4095UL;
    map = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)page);
    if (map == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    reg = (volatile uint32_t *)((char *)map + (offset - page));
    if (argc == 5)
        *reg = (uint32_t)strtoul(argv[4], NULL, 0);
    printf("0x%08x\n", *reg);
    munmap(map, 4096);
    close(fd);
    return 0;
}
