/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * String filters (matchArgs on strings and paths, matchBinaries): the values of every filter of
 * every policy live in two LPM tries under the filter's id (struct nsguard_string_key), so one
 * lookup tells whether any value matches, whatever their number, and a policy load creates no map.
 *   Equal:   nsguard_string_prefix holds "value\0"; looking up "arg\0" finds it only when equal.
 *   Prefix:  nsguard_string_prefix holds "value"; the lookup finds the longest value that is a
 *            prefix of the argument.
 *   Postfix: nsguard_string_postfix holds the values reversed; the argument is reversed too.
 * Shared by the objects (maps.bpf.h's rule): process.bpf.c evaluates followChildren filters at
 * exec, syscalls.bpf.c the selectors.
 */
#ifndef NSGUARD_STRINGS_BPF_H
#define NSGUARD_STRINGS_BPF_H

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct nsguard_string_key);
	__type(value, __u8);
} nsguard_string_prefix SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct nsguard_string_key);
	__type(value, __u8);
} nsguard_string_postfix SEC(".maps");

/* bit -> followChildren filter, evaluated at every exec (struct nsguard_follow_filter). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, NSGUARD_MAX_FOLLOW_FILTERS);
	__type(key, __u32);
	__type(value, struct nsguard_follow_filter);
} nsguard_follow_filters SEC(".maps");

/*
 * Does the string in key->data (len bytes) match filter op/filter_id? key->data is changed (a NUL
 * is added, or the string reversed). A string filter's op is EQUAL, NOT_EQUAL, PREFIX, NOT_PREFIX,
 * POSTFIX or NOT_POSTFIX. A global function: verified once, however many filters call it.
 */
__noinline int nsguard_string_lookup(__u32 op, __u32 filter_id, __u32 len, struct nsguard_string_key *key)
{
	bool found;

	if (!key)
		return 0;
	if (len > NSGUARD_STRING_LEN)
		len = NSGUARD_STRING_LEN;
	/* Keep the compiler from testing the unclamped copy below (the verifier cannot relate them). */
	asm volatile("" : "+r"(len));
	key->filter_id = filter_id;
	switch (op) {
	case NSGUARD_ARG_EQUAL:
	case NSGUARD_ARG_NOT_EQUAL:
		/* Equal compares the NUL too, unless the string filled the buffer. */
		if (len < NSGUARD_STRING_LEN) {
			key->data[len] = 0;
			len++;
		}
		/* fallthrough */
	case NSGUARD_ARG_PREFIX:
	case NSGUARD_ARG_NOT_PREFIX:
		key->prefixlen = 32 + 8 * len;
		found = bpf_map_lookup_elem(&nsguard_string_prefix, key) != NULL;
		break;
	case NSGUARD_ARG_POSTFIX:
	case NSGUARD_ARG_NOT_POSTFIX:
		for (__u32 i = 0; i < NSGUARD_STRING_LEN / 2; i++) {
			__u32 j = len - 1 - i;

			if (i >= j || j >= NSGUARD_STRING_LEN)
				break;
			char c = key->data[i];

			key->data[i] = key->data[j];
			key->data[j] = c;
		}
		key->prefixlen = 32 + 8 * len;
		found = bpf_map_lookup_elem(&nsguard_string_postfix, key) != NULL;
		break;
	default:
		return 0;
	}
	if (op == NSGUARD_ARG_NOT_EQUAL || op == NSGUARD_ARG_NOT_PREFIX || op == NSGUARD_ARG_NOT_POSTFIX)
		return !found;
	return found;
}

#endif
