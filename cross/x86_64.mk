# x86_64: PCs, servers, x86 appliances.
T_CROSS  := x86_64-linux-gnu-
T_CFLAGS :=
T_QEMU   := qemu-x86_64
T_UNAME  := x86_64
# On amd64 hosts the native gcc provides x86_64-linux-gnu-gcc.
T_DEBPKG := $(if $(filter x86_64,$(shell uname -m)),gcc,gcc-x86-64-linux-gnu)
