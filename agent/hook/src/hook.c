/*
 * libbaihook: the LD_PRELOAD library the agent puts into every kernel
 * container (mounted at /opt/bai/lib/libbaihook.so).
 *
 * Why it exists: a container limited to one core by a CFS quota still shows
 * every host core to sysconf(), get_nprocs() and sched_getaffinity(), so
 * thread pools (numpy/BLAS, make -j, JVM, Node, ...) size themselves for the
 * whole host and thrash.  The hook makes those calls report the session's
 * CPU allotment.  Compiled programs in the kernels also get their stdout
 * line-buffered on request, so that a `printf("Enter: "); scanf(...)` prompt
 * reaches the user before the program blocks on input.
 *
 * Ground rules, because the library is loaded into every process of the
 * container (shells, compilers, interpreters): it prints nothing, allocates
 * nothing, depends on libc only, does no work at start-up beyond one
 * getenv(), and computes the CPU allotment lazily, once, with plain
 * system calls (open/read/close), which are async-signal-safe.
 *
 * The allotment, in order of precedence:
 *   1. env BAI_CPU_COUNT when it is a positive integer;
 *   2. else the smallest of the cgroup CPU quota (v2 cpu.max, v1
 *      cpu.cfs_quota_us / cpu.cfs_period_us, rounded up) and the cgroup
 *      cpuset size;
 *   3. else nothing: the calls answer as without the hook.
 * The hooked calls never report more than the real value.
 *
 * env BAI_HOOK_UNBUFFER (read once at load):
 *   "1": stdout and stdin become line-buffered.  glibc flushes a
 *        line-buffered stdout whenever it has to read from a line-buffered
 *        stream, so prompts without a newline appear before the read blocks,
 *        and output still goes out a line at a time rather than a byte.
 *   "2": stdout becomes unbuffered (every printf is a write).
 *   anything else: no change.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

/* Cached allotment: 0 not yet computed, -1 no limit, > 0 the limit. */
static int cpu_limit_cache;

/* read_small reads up to cap-1 bytes of path into buf, NUL-terminated.
 * Returns the length, or -1. */
static int read_small(const char *path, char *buf, int cap)
{
	int fd, n, total = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	while (total < cap - 1) {
		n = read(fd, buf + total, cap - 1 - total);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		total += n;
	}
	close(fd);
	buf[total] = '\0';
	return total;
}

/* parse_long parses a decimal integer (optionally negative) at *s and
 * advances *s.  Returns 0 on success. */
static int parse_long(const char **s, long *out)
{
	const char *p = *s;
	long v = 0;
	int neg = 0, digits = 0;

	if (*p == '-') {
		neg = 1;
		p++;
	}
	while (*p >= '0' && *p <= '9') {
		if (v > 100000000000000L)
			return -1;
		v = v * 10 + (*p - '0');
		p++;
		digits++;
	}
	if (!digits)
		return -1;
	*s = p;
	*out = neg ? -v : v;
	return 0;
}

static long ceil_div(long a, long b)
{
	return (a + b - 1) / b;
}

/* quota_v2 reads a cgroup v2 cpu.max ("max 100000" or "200000 100000"). */
static long quota_v2(const char *path)
{
	char buf[64];
	const char *p = buf;
	long quota, period;

	if (read_small(path, buf, sizeof buf) <= 0)
		return -1;
	if (parse_long(&p, &quota) != 0) /* "max" */
		return -1;
	while (*p == ' ')
		p++;
	if (parse_long(&p, &period) != 0 || period <= 0 || quota <= 0)
		return -1;
	return ceil_div(quota, period);
}

/* quota_v1 reads a cgroup v1 cpu controller directory. */
static long quota_v1(const char *quota_path, const char *period_path)
{
	char buf[32];
	const char *p;
	long quota, period;

	if (read_small(quota_path, buf, sizeof buf) <= 0)
		return -1;
	p = buf;
	if (parse_long(&p, &quota) != 0 || quota <= 0)
		return -1;
	if (read_small(period_path, buf, sizeof buf) <= 0)
		return -1;
	p = buf;
	if (parse_long(&p, &period) != 0 || period <= 0)
		return -1;
	return ceil_div(quota, period);
}

/* cpuset_count counts the CPUs of a cpuset list such as "0-3,8,10-11". */
static long cpuset_count(const char *path)
{
	char buf[1024];
	const char *p = buf;
	long count = 0, a, b;

	if (read_small(path, buf, sizeof buf) <= 0)
		return -1;
	while (*p) {
		if (parse_long(&p, &a) != 0)
			break;
		b = a;
		if (*p == '-') {
			p++;
			if (parse_long(&p, &b) != 0)
				break;
		}
		if (b >= a)
			count += b - a + 1;
		if (*p != ',')
			break;
		p++;
	}
	return count > 0 ? count : -1;
}

/* v2_own_path builds "/sys/fs/cgroup<path>/<file>" from the "0::<path>"
 * line of /proc/self/cgroup, for hosts that do not give containers a
 * private cgroup namespace.  Returns 0 on success. */
static int v2_own_path(char *out, int cap, const char *file)
{
	char buf[1024];
	const char *line, *end;
	const char prefix[] = "/sys/fs/cgroup";
	int n, plen = sizeof prefix - 1, flen = strlen(file);

	if (read_small("/proc/self/cgroup", buf, sizeof buf) <= 0)
		return -1;
	for (line = buf; *line; line = end + 1) {
		end = strchr(line, '\n');
		if (!end)
			end = line + strlen(line);
		if (strncmp(line, "0::", 3) == 0) {
			line += 3;
			n = end - line;
			if (n <= 1) /* "/": the root, already tried */
				return -1;
			if (plen + n + 1 + flen + 1 > cap)
				return -1;
			memcpy(out, prefix, plen);
			memcpy(out + plen, line, n);
			out[plen + n] = '/';
			memcpy(out + plen + n + 1, file, flen + 1);
			return 0;
		}
		if (!*end)
			break;
	}
	return -1;
}

static long min_limit(long cur, long v)
{
	if (v <= 0)
		return cur;
	if (cur <= 0 || v < cur)
		return v;
	return cur;
}

static long compute_limit(void)
{
	const char *env = getenv("BAI_CPU_COUNT");
	char path[1200];
	long n = -1, v;

	if (env && *env) {
		const char *p = env;
		if (parse_long(&p, &v) == 0 && *p == '\0' && v > 0)
			return v > 1 << 20 ? 1 << 20 : v;
	}
	/* cgroup v2 */
	v = quota_v2("/sys/fs/cgroup/cpu.max");
	if (v <= 0 && v2_own_path(path, sizeof path, "cpu.max") == 0)
		v = quota_v2(path);
	n = min_limit(n, v);
	/* cgroup v1 */
	if (n <= 0) {
		v = quota_v1("/sys/fs/cgroup/cpu/cpu.cfs_quota_us",
			     "/sys/fs/cgroup/cpu/cpu.cfs_period_us");
		if (v <= 0)
			v = quota_v1("/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us",
				     "/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us");
		n = min_limit(n, v);
	}
	/* cpusets (v2, then v1) */
	v = cpuset_count("/sys/fs/cgroup/cpuset.cpus.effective");
	if (v <= 0)
		v = cpuset_count("/sys/fs/cgroup/cpuset/cpuset.effective_cpus");
	n = min_limit(n, v);
	if (n > 1 << 20)
		n = 1 << 20;
	return n;
}

/* cpu_limit returns the allotment, or -1 when there is none. */
static int cpu_limit(void)
{
	int v = __atomic_load_n(&cpu_limit_cache, __ATOMIC_ACQUIRE);

	if (v == 0) {
		long n = compute_limit();
		v = n > 0 ? (int)n : -1;
		__atomic_store_n(&cpu_limit_cache, v, __ATOMIC_RELEASE);
	}
	return v;
}

/* real resolves the next definition of a symbol once. */
#define REAL(type, name)                                                       \
	static type real_ptr;                                                  \
	type real = __atomic_load_n(&real_ptr, __ATOMIC_ACQUIRE);              \
	if (!real) {                                                           \
		real = (type)dlsym(RTLD_NEXT, name);                           \
		__atomic_store_n(&real_ptr, real, __ATOMIC_RELEASE);           \
	}

typedef long (*sysconf_fn)(int);
typedef int (*nprocs_fn)(void);
typedef int (*getaffinity_fn)(pid_t, size_t, cpu_set_t *);

static long clamp(long real)
{
	int lim;

	if (real <= 0)
		return real;
	lim = cpu_limit();
	return (lim > 0 && lim < real) ? lim : real;
}

EXPORT long sysconf(int name)
{
	REAL(sysconf_fn, "sysconf");
	long r;

	if (!real) {
		errno = ENOSYS;
		return -1;
	}
	r = real(name);
	if (name == _SC_NPROCESSORS_ONLN || name == _SC_NPROCESSORS_CONF)
		r = clamp(r);
	return r;
}

EXPORT int get_nprocs(void)
{
	REAL(nprocs_fn, "get_nprocs");
	if (!real)
		return 1;
	return (int)clamp(real());
}

EXPORT int get_nprocs_conf(void)
{
	REAL(nprocs_fn, "get_nprocs_conf");
	if (!real)
		return 1;
	return (int)clamp(real());
}

EXPORT int sched_getaffinity(pid_t pid, size_t size, cpu_set_t *mask)
{
	REAL(getaffinity_fn, "sched_getaffinity");
	int r, lim, seen = 0;
	size_t i, bits;

	if (!real) {
		errno = ENOSYS;
		return -1;
	}
	r = real(pid, size, mask);
	if (r != 0 || !mask || (pid != 0 && pid != getpid()))
		return r;
	lim = cpu_limit();
	if (lim <= 0)
		return r;
	bits = size * 8;
	if ((size_t)CPU_COUNT_S(size, mask) <= (size_t)lim)
		return r;
	for (i = 0; i < bits; i++) {
		if (!CPU_ISSET_S(i, size, mask))
			continue;
		if (seen < lim)
			seen++;
		else
			CPU_CLR_S(i, size, mask);
	}
	return r;
}

__attribute__((constructor)) static void baihook_init(void)
{
	const char *mode = getenv("BAI_HOOK_UNBUFFER");

	if (!mode || mode[1] != '\0')
		return;
	if (mode[0] == '1') {
		setvbuf(stdout, NULL, _IOLBF, 0);
		setvbuf(stdin, NULL, _IOLBF, 0);
	} else if (mode[0] == '2') {
		setvbuf(stdout, NULL, _IONBF, 0);
	}
}
