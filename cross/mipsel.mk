# mipsel: little-endian MIPS32r2, o32, hard float (Debian's defaults; the
# kernel's FPU emulator serves FPU-less SoCs; d42pcap uses little floating point).
T_CROSS  := mipsel-linux-gnu-
T_CFLAGS :=
T_QEMU   := qemu-mipsel
T_UNAME  := mipsel
T_DEBPKG := gcc-mipsel-linux-gnu
