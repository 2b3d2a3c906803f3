# aarch64: 64-bit ARM (ARMv8-A) boards and switches.
T_CROSS  := aarch64-linux-gnu-
T_CFLAGS :=
T_QEMU   := qemu-aarch64
T_UNAME  := aarch64
T_DEBPKG := gcc-aarch64-linux-gnu linux-libc-dev-arm64-cross
