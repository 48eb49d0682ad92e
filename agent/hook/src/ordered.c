/*
 * Ordered output.  A program's stdout and stderr are two pipes, and a reader
 * that finds both readable cannot tell which write came first.  When the
 * runner passes env BAI_ORDERED_FD (the number of an inherited pipe), the
 * hook sends what the program writes to its original stdout and stderr as
 * records on that one pipe instead, so the runner sees them in the order
 * they were made:
 *
 *   record = tag (1 byte: '1' stdout, '2' stderr) + length (4 bytes,
 *            little endian) + data
 *
 * Each record is written with one write() of at most PIPE_BUF bytes, which
 * the kernel keeps whole even when several processes or threads write.
 *
 * What it catches: write() and writev() called through the PLT (Rust, the
 * JVM, GHC programs, interpreters using libc), and C stdio: glibc's own
 * stdio writes with an internal call that cannot be interposed, so stdout
 * and stderr are replaced by fopencookie() streams that send records.
 * Statically linked programs (Go) write with raw system calls: their output
 * still takes the plain pipes, and its order across the two is best effort.
 *
 * A descriptor counts as stdout (stderr) only while it still is the file
 * the process started with, so a program that redirects fd 1 elsewhere is
 * left alone; any failure to send a record falls back to a plain write.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))
#define HEADER 5

static int ordered_fd = -1;
static dev_t std_dev[3];
static ino_t std_ino[3];

static ssize_t raw_write(int fd, const void *buf, size_t n)
{
	return syscall(SYS_write, fd, buf, n);
}

/* is_std reports whether fd (1 or 2) is still the process's original
 * stdout or stderr. */
static int is_std(int fd)
{
	struct stat st;

	if (ordered_fd < 0 || (fd != 1 && fd != 2))
		return 0;
	if (syscall(SYS_fstat, fd, &st) != 0)
		return 0;
	return st.st_dev == std_dev[fd] && st.st_ino == std_ino[fd];
}

/* send_records writes buf as records of stream tag; 0 on success. */
static int send_records(int tag, const char *buf, size_t n)
{
	char rec[PIPE_BUF];

	while (n > 0) {
		size_t chunk = n < sizeof(rec) - HEADER ? n : sizeof(rec) - HEADER;
		uint32_t len = (uint32_t)chunk;
		ssize_t w;

		rec[0] = (char)('0' + tag);
		rec[1] = (char)(len & 0xff);
		rec[2] = (char)((len >> 8) & 0xff);
		rec[3] = (char)((len >> 16) & 0xff);
		rec[4] = (char)((len >> 24) & 0xff);
		memcpy(rec + HEADER, buf, chunk);
		do {
			w = raw_write(ordered_fd, rec, chunk + HEADER);
		} while (w < 0 && errno == EINTR);
		if (w != (ssize_t)(chunk + HEADER))
			return -1;
		buf += chunk;
		n -= chunk;
	}
	return 0;
}

EXPORT ssize_t write(int fd, const void *buf, size_t n)
{
	if (n > 0 && is_std(fd)) {
		int saved = errno;

		if (send_records(fd, buf, n) == 0) {
			errno = saved;
			return (ssize_t)n;
		}
	}
	return raw_write(fd, buf, n);
}

EXPORT ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
	if (cnt > 0 && is_std(fd)) {
		ssize_t total = 0;
		int i;

		for (i = 0; i < cnt; i++) {
			if (iov[i].iov_len == 0)
				continue;
			if (send_records(fd, iov[i].iov_base, iov[i].iov_len) != 0)
				break;
			total += (ssize_t)iov[i].iov_len;
		}
		if (i == cnt)
			return total;
		if (total > 0) /* a short write: the caller writes the rest */
			return total;
	}
	return syscall(SYS_writev, fd, iov, cnt);
}

static ssize_t cookie_write(void *cookie, const char *buf, size_t n)
{
	int fd = (int)(intptr_t)cookie;

	if (n == 0)
		return 0;
	if (is_std(fd) && send_records(fd, buf, n) == 0)
		return (ssize_t)n;
	return raw_write(fd, buf, n);
}

/* baihook_ordered_init runs first in the library's constructor. */
__attribute__((visibility("hidden"))) void baihook_ordered_init(void)
{
	const char *v = getenv("BAI_ORDERED_FD");
	cookie_io_functions_t fns = { .write = cookie_write };
	struct stat st;
	char *end;
	long fd;
	int i;
	FILE *f;

	if (!v || !*v)
		return;
	fd = strtol(v, &end, 10);
	if (*end || fd < 3 || fd > 1024 || syscall(SYS_fstat, (int)fd, &st) != 0 || !S_ISFIFO(st.st_mode))
		return;
	for (i = 1; i <= 2; i++) {
		if (syscall(SYS_fstat, i, &st) != 0)
			return;
		std_dev[i] = st.st_dev;
		std_ino[i] = st.st_ino;
	}
	ordered_fd = (int)fd;
	f = fopencookie((void *)(intptr_t)1, "w", fns);
	if (f) {
		setvbuf(f, NULL, _IOFBF, BUFSIZ); /* like stdout on a pipe */
		stdout = f;
	}
	f = fopencookie((void *)(intptr_t)2, "w", fns);
	if (f) {
		setvbuf(f, NULL, _IONBF, 0); /* stderr stays unbuffered */
		stderr = f;
	}
}
