// SPDX-License-Identifier: Apache-2.0
// Paced setns(2) generator for bench/run.mjs: RATE calls per second for SECONDS seconds, each call
// a real, harmless setns into the caller's own network namespace. Busy-paced in batches of at
// most BATCH calls (default 50): it never sleeps, so the pace holds at rates where a timer could
// not keep up, and a caller that falls behind catches up in small batches rather than one burst.
// Prints the exact calls made and the elapsed nanoseconds: "<calls> <ns>" (the offered load is
// what was made, not what was asked for, should the core be too busy to keep the pace).
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s RATE SECONDS [BATCH]\n", argv[0]);
		return 2;
	}
	double rate = atof(argv[1]);
	double seconds = atof(argv[2]);
	long batch = argc > 3 ? atol(argv[3]) : 50;
	int fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		perror("open /proc/self/ns/net");
		return 1;
	}
	long total = (long)(rate * seconds);
	long made = 0;
	double start = now_ns();
	double elapsed = 0;
	while (made < total) {
		elapsed = now_ns() - start;
		long due = (long)(rate * elapsed / 1e9) + 1;
		if (due > total)
			due = total;
		if (due - made > batch)
			due = made + batch;
		for (; made < due; made++) {
			if (setns(fd, CLONE_NEWNET) != 0) {
				perror("setns");
				return 1;
			}
		}
	}
	printf("%ld %.0f\n", made, now_ns() - start);
	return 0;
}
