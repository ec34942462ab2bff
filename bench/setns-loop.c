// SPDX-License-Identifier: Apache-2.0
// Calls setns(2) into the caller's own network namespace COUNT times (a real, harmless setns) and
// prints the mean nanoseconds per call: wall clock, then CPU time of this process (what the caller
// itself pays, without time spent waiting for a core the agent is using). With a second argument
// "getppid" it calls getppid(2) instead: what an unrelated syscall pays while policies are loaded. Used by bench/run.mjs for the with/without-policy ratio
// and as the event source for the end-to-end throughput run.
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long count = argc > 1 ? atol(argv[1]) : 100000;
	int other = argc > 2 && strcmp(argv[2], "getppid") == 0;
	int fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	struct timespec start, end, cpu_start, cpu_end;

	if (fd < 0) {
		perror("open /proc/self/ns/net");
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &start);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu_start);
	for (long i = 0; i < count; i++) {
		if (other) {
			syscall(SYS_getppid); /* not the libc wrapper: it must enter the kernel every time */
			continue;
		}
		if (setns(fd, CLONE_NEWNET) != 0) {
			perror("setns");
			return 1;
		}
	}
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu_end);
	clock_gettime(CLOCK_MONOTONIC, &end);
	double ns = (end.tv_sec - start.tv_sec) * 1e9 + (end.tv_nsec - start.tv_nsec);
	double cpu = (cpu_end.tv_sec - cpu_start.tv_sec) * 1e9 + (cpu_end.tv_nsec - cpu_start.tv_nsec);
	printf("%.1f %.1f\n", ns / count, cpu / count);
	return 0;
}
