# mapsize.awk: size breakdown of a static d42pcap from its GNU ld map file
# (-Wl,-Map). Sums the input sections that made it into the image, per
# object of ours (objdir) and per library, and checks the stripped size
# against the budget. Used by `make size` / `make size-check` (cross/static.mk).
#   awk -v target=T -v objdir=build/T/obj/ -v stripped=BYTES -v budget=KIB \
#       -f third_party/mapsize.awk build/T/d42pcap.map
# Exit status 1 when the stripped binary is over budget.

function hex(s,    i, c, v) {
	v = 0
	s = tolower(s)
	sub(/^0x/, "", s)
	for (i = 1; i <= length(s); i++) {
		c = index("0123456789abcdef", substr(s, i, 1))
		if (c == 0) return 0
		v = v * 16 + c - 1
	}
	return v
}

function group(f) {
	if (index(f, objdir) == 1) { f = substr(f, length(objdir) + 1); sub(/\.o$/, "", f); return "src/" f }
	# -flto: the linker's partitions of d42pcap's code, modules mixed
	if (f ~ /\.ltrans[0-9]*\.ltrans\.o$/) return "src/ (all, -flto)"
	if (f ~ /libpcap\.a\(/) return "libpcap"
	if (f ~ /libmbedtls\.a\(/) return "mbedtls (tls)"
	if (f ~ /libmbedx509\.a\(/) return "mbedtls (x509)"
	if (f ~ /libmbedcrypto\.a\(/) return "mbedtls (crypto)"
	if (f ~ /libc\.a\(/ || f ~ /sysroot\/lib\/[A-Za-z]*crt[1in]\.o$/) return "musl libc"
	if (f ~ /libgcc(_eh)?\.a\(/ || f ~ /crt(begin|end)[A-Za-z]*\.o$/) return "libgcc"
	return "other"
}

function add(sz, f,    g) {
	if (sz == 0 || skip) return
	g = (f == "") ? "padding" : group(f)
	if (bss) bsz[g] += sz; else img[g] += sz
	seen[g] = 1
}

/^Linker script and memory map/ { inmap = 1; next }
!inmap { next }

# Output section: name at column 0.
/^(\.|\/DISCARD\/)/ {
	pending = 0
	out = $1
	skip = (out ~ /^(\/DISCARD\/|\.debug|\.comment|\.stab|\.gnu\.attributes|\.mdebug|\.pdr|\.gnu_debuglink|\.ARM\.attributes|\.note\.GNU-stack)/)
	bss = (out ~ /^\.(s?bss|tbss)/)
	next
}
# Padding the linker inserted.
/^ \*fill\*/ { add(hex($3), ""); pending = 0; next }
# Input section with address, size and file on one line...
/^ [.A-Z]/ && NF >= 4 && $2 ~ /^0x/ && $3 ~ /^0x/ { add(hex($3), $4); pending = 0; next }
# ...or a long name alone, the rest on the next line.
/^ [.A-Z]/ && NF == 1 { pending = 1; next }
pending && $1 ~ /^0x/ && $2 ~ /^0x/ && NF >= 3 { add(hex($2), $3); pending = 0; next }
{ pending = 0 }

END {
	n = 0
	for (g in seen) { names[++n] = g }
	# src modules first (largest first), then libraries in a fixed order.
	order["libpcap"] = 1; order["mbedtls (tls)"] = 2; order["mbedtls (x509)"] = 3
	order["mbedtls (crypto)"] = 4; order["musl libc"] = 5; order["libgcc"] = 6
	order["other"] = 7; order["padding"] = 8
	for (i = 1; i <= n; i++) {
		key[i] = (names[i] in order) ? 1000000000 + order[names[i]] : 999999999 - img[names[i]]
	}
	for (i = 2; i <= n; i++) {
		for (j = i; j > 1 && key[j - 1] > key[j]; j--) {
			t = key[j]; key[j] = key[j - 1]; key[j - 1] = t
			t = names[j]; names[j] = names[j - 1]; names[j - 1] = t
		}
	}
	kib = stripped / 1024
	status = (stripped <= budget * 1024) ? "ok" : "OVER BUDGET"
	printf "%s: stripped %d bytes = %.1f KiB (budget %d KiB): %s\n", target, stripped, kib, budget, status
	printf "  %-22s %10s %10s\n", "module/library", "image", "bss"
	tot = 0; totb = 0; ours = 0; oursb = 0
	for (i = 1; i <= n; i++) {
		g = names[i]
		if (g ~ /^src\//) { ours += img[g]; oursb += bsz[g] }
		else if (!printed_ours) {
			printf "  %-22s %10d %10d\n", "= d42pcap (src/)", ours, oursb
			printed_ours = 1
		}
		printf "  %-22s %10d %10d\n", g, img[g], bsz[g]
		tot += img[g]; totb += bsz[g]
		if (g ~ /^mbedtls/) { mb += img[g]; mbb += bsz[g] }
	}
	if (!printed_ours) printf "  %-22s %10d %10d\n", "= d42pcap (src/)", ours, oursb
	printf "  %-22s %10d %10d\n", "= mbedtls", mb, mbb
	printf "  %-22s %10d %10d\n", "= total", tot, totb
	exit(status == "ok" ? 0 : 1)
}
