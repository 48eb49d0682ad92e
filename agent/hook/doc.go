// Package hook holds the C source of libbaihook.so, the LD_PRELOAD library
// the agent mounts into every kernel container at /opt/bai/lib. It makes
// sysconf, get_nprocs and sched_getaffinity report the session's CPU
// allotment (env BAI_CPU_COUNT, else the cgroup quota or cpuset) instead of
// the host's cores, and, when env BAI_HOOK_UNBUFFER=1, line-buffers stdio so
// that prompts of compiled programs appear before they block on input.
//
// There is no Go code here: build.sh compiles src/hook.c (`make build` runs
// `agent/hook/build.sh bin/kernel-lib`), and the tests in this directory
// build it and check it against real programs.
package hook
