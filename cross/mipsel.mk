# mipsel: little-endian MIPS32r2, o32, hard float (Debian's defaults; the
# kernel's FPU emulator serves FPU-less SoCs; d42pcap uses little floating point).
T_CROSS  := mipsel-linux-gnu-
T_CFLAGS := -mplt
# MIPS16e code is ~35% smaller: it keeps the binary in budget. Common router
# cores (24K, 34K, 74K, 1004K) have it; for one that does not, empty this
# (the binary then exceeds the budget). musl stays MIPS32 (inline asm).
T_CODEFLAGS := -mips16 -minterlink-mips16
T_QEMU   := qemu-mipsel
T_UNAME  := mipsel
T_DEBPKG := gcc-mipsel-linux-gnu linux-libc-dev-mipsel-cross
