/*
 * fuzz_util.h — what several fuzz targets share (each target is a program
 * of its own and includes this once): a temporary folder for targets that
 * need files, and the input as a file without touching the disk.
 */
#ifndef CL_FUZZ_UTIL_H
#define CL_FUZZ_UTIL_H

#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* The target's temporary folder (fuzz_tmpdir), "" before it is made. */
static char fuzz_root[128];

static inline int fuzz_rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return strcmp(p, fuzz_root) ? remove(p) : 0;
}

/* Remove what is in the folder; the folder stays. */
static inline void fuzz_tmpdir_empty(void)
{
	if (fuzz_root[0])
		nftw(fuzz_root, fuzz_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static inline void fuzz_tmpdir_remove(void)
{
	fuzz_tmpdir_empty();
	if (fuzz_root[0])
		rmdir(fuzz_root);
}

/*
 * Make fuzz_root, a fresh folder cl-fuzz-TAG-XXXXXX under TMPDIR (fuzz/run.sh
 * gives each target its own and removes it after the run, even after a
 * crash) or /tmp, removed at exit. An atexit handler the target registers
 * after this call runs before the removal (close stores there). Aborts
 * when the folder cannot be made.
 */
static inline void fuzz_tmpdir(const char *tag)
{
	if (fuzz_root[0])
		return;
	const char *td = getenv("TMPDIR");
	snprintf(fuzz_root, sizeof fuzz_root, "%s/cl-fuzz-%s-XXXXXX",
		 td && *td && strlen(td) < 64 ? td : "/tmp", tag);
	if (!mkdtemp(fuzz_root))
		abort();
	atexit(fuzz_tmpdir_remove);
}

/*
 * data[0..size) as an anonymous memory file; path (at least 32 bytes) gets
 * its name (/proc/self/fd/N). Returns the descriptor (the caller closes
 * it), or -1.
 */
static inline int fuzz_memfile(const char *name, const uint8_t *data, size_t size, char *path,
			       size_t pn)
{
	int fd = memfd_create(name, 0);
	if (fd < 0)
		return -1;
	if (size && write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return -1;
	}
	snprintf(path, pn, "/proc/self/fd/%d", fd);
	return fd;
}

#endif
