// SPDX-License-Identifier: Apache-2.0
// Forks COUNT children that sleep (pause), so the agent's process cache holds that many more
// processes; prints "ready <forked>" once all exist, then waits for stdin to close (or a line)
// and kills and reaps them all. Used by bench/run.mjs for the agent's RSS with 10k processes.
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long count = argc > 1 ? atol(argv[1]) : 10000;
	pid_t *pids = calloc(count, sizeof(*pids));
	long forked = 0;
	char line[16];

	if (!pids)
		return 1;
	for (; forked < count; forked++) {
		pid_t pid = fork();
		if (pid < 0) {
			perror("fork");
			break;
		}
		if (pid == 0) {
			for (;;)
				pause();
		}
		pids[forked] = pid;
	}
	printf("ready %ld\n", forked);
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin)) {
		/* stdin closed: same as a line */
	}
	for (long i = 0; i < forked; i++)
		kill(pids[i], SIGKILL);
	for (long i = 0; i < forked; i++)
		waitpid(pids[i], NULL, 0);
	return forked == count ? 0 : 1;
}
