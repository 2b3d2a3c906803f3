# mips: big-endian MIPS32r2, o32, hard float (Debian's defaults). Big-endian:
# where byte-order mistakes show.
T_CROSS  := mips-linux-gnu-
T_CFLAGS :=
T_QEMU   := qemu-mips
T_UNAME  := mips
T_DEBPKG := gcc-mips-linux-gnu
