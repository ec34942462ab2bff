/** Deadline for one-shot RPCs, tetra's --timeout default: an agent stuck loading a policy must not hang the CLI. */
export const UNARY_TIMEOUT_MS = 30_000;
