// SPDX-License-Identifier: Apache-2.0

// Limits Tetragon enforces on a policy (CRD schema maxItems, pkg/selectors, pkg/sensors/tracing/common).
// The first two are also the sizes of the arrays in struct nsguard_hook / nsguard_pid_filter
// (bpf/include/nsguard_events.h: NSGUARD_MAX_SELECTORS, NSGUARD_MAX_PID_VALUES) and must stay equal.

/** Selectors per hook (`MaxSelectors`). */
export const MAX_SELECTORS = 5;
/** PID values in one matchPIDs entry ("only the first 4 are matched by the kernel"). */
export const MAX_PID_VALUES = 4;
/**
 * Values nsguard compiles into one matchArgs entry (struct nsguard_arg_filter, NSGUARD_MAX_ARG_VALUES);
 * Tetragon takes more for Equal on strings, which nsguard does not compile yet.
 */
export const MAX_ARG_VALUES = 4;
/** String, file and buffer arguments one hook reads (NSGUARD_MAX_STRING_ARGS). */
export const MAX_STRING_ARGS = 2;
/** Bytes of a string value the kernel compares (NSGUARD_STRING_LEN). */
export const MAX_STRING_BYTES = 248;
/** matchNamespaces inode values per entry (NSGUARD_MAX_NS_VALUES); host_ns does not count. */
export const MAX_NAMESPACE_INUM_VALUES = 4;
/** matchCapabilities / matchCapabilityChanges entries per selector (NSGUARD_MAX_CAP_FILTERS). */
export const MAX_CAPABILITY_SELECTORS = 4;
/** matchBinaries followChildren filters loaded at once (NSGUARD_MAX_FOLLOW_FILTERS). */
export const MAX_FOLLOW_FILTERS = 64;
/** Entries in matchBinaries / matchParentBinaries. */
export const MAX_BINARY_SELECTORS = 1;
/** matchArgs entries per selector (one per argument index). */
export const MAX_MATCH_ARGS = 5;
/** matchNamespaces entries per selector (kernels with large programs). */
export const MAX_NAMESPACE_SELECTORS = 10;
/** Values in one matchNamespaces entry. */
export const MAX_NAMESPACE_VALUES = 4;
/** matchNamespaceChanges supports a single entry. */
export const MAX_NAMESPACE_CHANGE_SELECTORS = 1;
/** matchStates entries per selector. */
export const MAX_STATE_SELECTORS = 4;
/** `spec.state` entries. */
export const MAX_STATES = 10;
/** `spec.enforcers` entries. */
export const MAX_ENFORCERS = 1;
/** Tags per hook. */
export const MAX_TAGS = 16;
/** Tag length in bytes. Tetragon refuses shorter tags and truncates longer ones; nsguard refuses both. */
export const MIN_TAG_LENGTH = 2;
export const MAX_TAG_LENGTH = 128;
/** Message length in bytes. Tetragon refuses shorter messages and truncates longer ones; nsguard refuses both. */
export const MIN_MESSAGE_LENGTH = 2;
export const MAX_MESSAGE_LENGTH = 256;
/** matchCmdArgs index range (argv[1..32]). */
export const MAX_CMD_ARG_INDEX = 31;
/** Label values in pod/container/node selectors (Kubernetes label value rules). */
export const MAX_LABEL_VALUE_LENGTH = 63;
/** `metadata.name`: DNS-1123 subdomain. */
export const MAX_NAME_LENGTH = 253;
/** `metadata.namespace`: DNS-1123 label. */
export const MAX_NAMESPACE_LENGTH = 63;
