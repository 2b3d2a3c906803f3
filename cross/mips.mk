# mips: big-endian MIPS32r2, o32, hard float (Debian's defaults). Big-endian:
# where byte-order mistakes show.
T_CROSS  := mips-linux-gnu-
T_CFLAGS := -mplt
# MIPS16e code is ~35% smaller: it keeps the binary in budget. Common router
# cores (24K, 34K, 74K, 1004K) have it; for one that does not, empty this
# (the binary then exceeds the budget). musl stays MIPS32 (inline asm).
T_CODEFLAGS := -mips16 -minterlink-mips16
T_QEMU   := qemu-mips
T_UNAME  := mips
T_DEBPKG := gcc-mips-linux-gnu linux-libc-dev-mips-cross
# Big-endian: compare on the whole corpus, not a sample.
T_CORPUS := all
