# mips: big-endian MIPS32r2, o32, hard float (Debian's defaults). Big-endian:
# where byte-order mistakes show.
T_CROSS  := mips-linux-gnu-
T_CFLAGS := -mplt
# MIPS16e (on every MIPS32 router core we know of: 24K, 34K, 74K, 1004K, 4KEc)
# makes code ~35% smaller; musl keeps plain MIPS32 (inline asm).
T_CODEFLAGS := -mips16 -minterlink-mips16
T_QEMU   := qemu-mips
T_UNAME  := mips
T_DEBPKG := gcc-mips-linux-gnu
