/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Maps shared by every nsguard BPF object. Each object declares them (same name, type and size);
 * the loader reuses the first object's maps by name (bpf_map__reuse_fd) so all programs write one
 * ring buffer, one process table and one set of counters.
 */
#ifndef NSGUARD_MAPS_BPF_H
#define NSGUARD_MAPS_BPF_H

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, NSGUARD_RINGBUF_BYTES);
} nsguard_events SEC(".maps");

/* tgid -> struct nsguard_proc. LRU so a missed exit can never fill the table. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, struct nsguard_proc);
} nsguard_procs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NSGUARD_CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} nsguard_counters SEC(".maps");

/* See struct nsguard_reader_state: written by the reader, cleared by the submit that wakes it. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct nsguard_reader_state);
} nsguard_reader_state SEC(".maps");

/* Flood resistance state (lib/throttle.bpf.h): the current window's totals ... */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct nsguard_throttle_window);
} nsguard_throttle SEC(".maps");

/* ... and the sources seen under pressure. LRU: a flood of short-lived pids evicts the oldest
 * entries (their per-source totals; the global NSGUARD_CNT_THROTTLED stays exact). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, struct nsguard_source_key);
	__type(value, struct nsguard_source);
} nsguard_sources SEC(".maps");

static __always_inline void count(__u32 counter)
{
	__u64 *value = bpf_map_lookup_elem(&nsguard_counters, &counter);

	if (value)
		__sync_fetch_and_add(value, 1);
}

/* Reserve a record or count the loss: the kernel never blocks on a full buffer. */
static __always_inline void *reserve_event(__u32 size)
{
	void *ev = bpf_ringbuf_reserve(&nsguard_events, size, 0);

	if (!ev)
		count(NSGUARD_CNT_RINGBUF_FULL);
	return ev;
}

/*
 * Wake the reader only when it asked for it (struct nsguard_reader_state): a busy reader drains
 * the ring every poll period on its own, and a wake-up per record costs the caller ~2.2 us on a
 * 2-vCPU VM (kernel-findings §3g) — waking "when the ring fills up" costs that on every record
 * exactly when the reader is behind and cannot use it. An idle reader sets sleeping = 1 before a
 * long wait; the first record after that clears it and wakes the reader once.
 */
static __always_inline void submit_event(void *ev)
{
	__u32 zero = 0;
	struct nsguard_reader_state *reader = bpf_map_lookup_elem(&nsguard_reader_state, &zero);
	__u64 flags = BPF_RB_NO_WAKEUP;

	/* A plain store, not an exchange (32-bit atomics need -mcpu=v3): two racing submitters may
	 * both wake the reader, which costs one spare wake-up and loses nothing. */
	if (reader && reader->sleeping) {
		reader->sleeping = 0;
		flags = BPF_RB_FORCE_WAKEUP;
	}
	count(NSGUARD_CNT_EVENTS);
	bpf_ringbuf_submit(ev, flags);
}

#endif
