/* Prints what the hooked CPU-count calls answer, one per line. */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <sys/sysinfo.h>
#include <unistd.h>

int main(void)
{
	cpu_set_t set;
	int aff = -1;

	if (sched_getaffinity(0, sizeof set, &set) == 0)
		aff = CPU_COUNT(&set);
	printf("sysconf_onln=%ld\n", sysconf(_SC_NPROCESSORS_ONLN));
	printf("sysconf_conf=%ld\n", sysconf(_SC_NPROCESSORS_CONF));
	printf("get_nprocs=%d\n", get_nprocs());
	printf("get_nprocs_conf=%d\n", get_nprocs_conf());
	printf("affinity=%d\n", aff);
	return 0;
}
