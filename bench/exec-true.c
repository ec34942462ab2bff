// SPDX-License-Identifier: Apache-2.0
// Runs COUNT short-lived processes: fork, exec /bin/true, wait, in PARALLEL loops (default 2, one
// per core here). Prints "done <ran> <ns>" once all have exited. Used by bench/run.mjs for the
// agent's RSS after 100k short-lived processes (process cache churn).
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* One loop: COUNT fork+exec+wait in a row; exits 0 when all ran. */
static int loop(long count)
{
	for (long i = 0; i < count; i++) {
		pid_t pid = fork();
		if (pid < 0) {
			perror("fork");
			return 1;
		}
		if (pid == 0) {
			execl("/bin/true", "true", (char *)NULL);
			_exit(127);
		}
		if (waitpid(pid, NULL, 0) < 0)
			return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	long count = argc > 1 ? atol(argv[1]) : 100000;
	long parallel = argc > 2 ? atol(argv[2]) : 2;
	struct timespec t0, t1;
	long failed = 0;

	if (parallel < 1)
		parallel = 1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 0; i < parallel; i++) {
		/* Loop i runs its share; the first ones take the remainder. */
		long share = count / parallel + (i < count % parallel);
		if (fork() == 0)
			_exit(loop(share));
	}
	for (long i = 0; i < parallel; i++) {
		int status;
		if (wait(&status) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
			failed++;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("done %ld %lld\n", failed ? 0 : count,
	       (long long)(t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec));
	return failed ? 1 : 0;
}
