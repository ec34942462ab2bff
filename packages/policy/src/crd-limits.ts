// SPDX-License-Identifier: Apache-2.0

import {
  NSGUARD_MAX_ARG_FILTERS,
  NSGUARD_MAX_ARG_VALUES,
  NSGUARD_MAX_CAP_FILTERS,
  NSGUARD_MAX_NS_VALUES,
  NSGUARD_MAX_PID_VALUES,
  NSGUARD_MAX_SELECTORS,
  NSGUARD_MAX_STRING_ARGS,
  NSGUARD_STRING_LEN,
} from "@nsguard/kernel-contract";

// Limits Tetragon enforces on a policy (CRD schema maxItems, pkg/selectors, pkg/sensors/tracing/common).
// The ones the kernel table holds are the sizes of its arrays (bpf/include/nsguard_events.h), which
// were made Tetragon's limits; crd-limits.test.ts checks they still are.

/** Selectors per hook (`MaxSelectors`): struct nsguard_hook.selectors. */
export const MAX_SELECTORS = NSGUARD_MAX_SELECTORS;
/** PID values in one matchPIDs entry ("only the first 4 are matched by the kernel"): nsguard_pid_filter.values. */
export const MAX_PID_VALUES = NSGUARD_MAX_PID_VALUES;
/**
 * Values nsguard compiles into one matchArgs entry (struct nsguard_arg_filter.values); Tetragon takes
 * more for Equal on strings, which nsguard does not compile yet.
 */
export const MAX_ARG_VALUES = NSGUARD_MAX_ARG_VALUES;
/** String, file and buffer arguments one hook reads: struct nsguard_hook.strings. */
export const MAX_STRING_ARGS = NSGUARD_MAX_STRING_ARGS;
/** Bytes of a string value the kernel compares: struct nsguard_string_key.data. */
export const MAX_STRING_BYTES = NSGUARD_STRING_LEN;
/** matchNamespaces inode values per entry (struct nsguard_ns_filter.values); host_ns does not count. */
export const MAX_NAMESPACE_INUM_VALUES = NSGUARD_MAX_NS_VALUES;
/** matchCapabilities / matchCapabilityChanges entries per selector: struct nsguard_selector.caps. */
export const MAX_CAPABILITY_SELECTORS = NSGUARD_MAX_CAP_FILTERS;
/** Entries in matchBinaries / matchParentBinaries. */
export const MAX_BINARY_SELECTORS = 1;
/** matchArgs entries per selector (one per argument index): struct nsguard_selector.args. */
export const MAX_MATCH_ARGS = NSGUARD_MAX_ARG_FILTERS;
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
