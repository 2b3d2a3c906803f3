# x86_64: PCs, servers, x86 appliances. Debian: gcc-x86-64-linux-gnu on
# non-amd64 hosts (on amd64 the native gcc provides x86_64-linux-gnu-gcc).
T_CROSS  := x86_64-linux-gnu-
T_CFLAGS :=
T_QEMU   := qemu-x86_64
T_UNAME  := x86_64
T_DEBPKG := gcc-x86-64-linux-gnu
