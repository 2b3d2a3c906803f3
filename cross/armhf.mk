# armhf: 32-bit ARMv7-A, Thumb-2, VFPv3-D16 hard float (Debian's defaults).
T_CROSS  := arm-linux-gnueabihf-
T_CFLAGS :=
T_QEMU   := qemu-arm
T_UNAME  := armv7l
T_DEBPKG := gcc-arm-linux-gnueabihf linux-libc-dev-armhf-cross
