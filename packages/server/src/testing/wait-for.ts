import { setTimeout as sleep } from "node:timers/promises";

/**
 * Polls `condition` until it holds. This is a wait for a state change on the other side of a
 * socket (a subscriber registering, a stream ending), not a timing assertion: the limit only
 * turns a hang into a readable failure.
 */
export async function waitFor(condition: () => boolean, what: string, limitMs = 10_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!condition()) {
    if (Date.now() > deadline) {
      throw new Error(`gave up waiting for ${what}`);
    }
    await sleep(2);
  }
}
