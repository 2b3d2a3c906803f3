/* Replays saved fuzz inputs without libFuzzer, so any compiler can run a
 * target's corpus (tests/t_fuzz_replay.sh, make fuzz-replay). Arguments are
 * files or directories (their regular files, not recursive). Each input is
 * read into a buffer of exactly its size and passed once to
 * LLVMFuzzerTestOneInput; a target reports a failure by aborting (or a
 * sanitizer does). With REPLAY_VERBOSE set, each file name is printed to
 * stderr before it runs, to find which input failed.
 * Exit: 0 all ran, 1 an input could not be read, 2 usage. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define REPLAY_MAX_INPUT (16 * 1024 * 1024)	/* larger files are refused */
#define REPLAY_PATH_MAX  4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int verbose;
static unsigned long nrun;

static int run_file(const char *path)
{
	struct stat st;
	uint8_t *buf;
	size_t got;
	FILE *f;

	f = fopen(path, "rb");
	if (!f || fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > REPLAY_MAX_INPUT) {
		fprintf(stderr, "replay: %s: %s\n", path,
			f ? "not a regular file of at most 16 MiB" : strerror(errno));
		if (f)
			fclose(f);
		return -1;
	}
	/* malloc(0) may return NULL: keep one byte, pass size 0 */
	buf = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!buf) {
		fclose(f);
		fprintf(stderr, "replay: %s: out of memory\n", path);
		return -1;
	}
	got = fread(buf, 1, (size_t)st.st_size, f);
	fclose(f);
	if (got != (size_t)st.st_size) {
		free(buf);
		fprintf(stderr, "replay: %s: short read\n", path);
		return -1;
	}
	if (verbose)
		fprintf(stderr, "replay: %s\n", path);
	LLVMFuzzerTestOneInput(buf, got);
	free(buf);
	nrun++;
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Regular files of dir, in name order so runs are reproducible. */
static int run_dir(const char *dir)
{
	char path[REPLAY_PATH_MAX];
	char **names = NULL, **grown;
	size_t n = 0, cap = 0, i;
	struct dirent *e;
	struct stat st;
	int rc = 0;
	DIR *d;

	d = opendir(dir);
	if (!d) {
		fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			grown = realloc(names, cap * sizeof(*names));
			if (!grown) {
				rc = -1;
				break;
			}
			names = grown;
		}
		names[n] = strdup(e->d_name);
		if (!names[n]) {
			rc = -1;
			break;
		}
		n++;
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), cmp_names);
	for (i = 0; i < n; i++) {
		if (rc == 0 && snprintf(path, sizeof(path), "%s/%s", dir, names[i]) <
		    (int)sizeof(path) && stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
		    run_file(path) != 0)
			rc = -1;
		free(names[i]);
	}
	free(names);
	return rc;
}

int main(int argc, char **argv)
{
	struct stat st;
	int i, rc = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
		return 2;
	}
	verbose = getenv("REPLAY_VERBOSE") != NULL;
	for (i = 1; i < argc; i++) {
		if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
			if (run_dir(argv[i]) != 0)
				rc = 1;
		} else if (run_file(argv[i]) != 0) {
			rc = 1;
		}
	}
	printf("replayed %lu inputs\n", nrun);
	return rc;
}
