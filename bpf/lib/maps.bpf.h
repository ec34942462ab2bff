/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Maps shared by every nsguard BPF object. Each object declares them (same name, type and size);
 * the loader reuses the first object's maps by name (bpf_map__reuse_fd) so all programs write one
 * ring buffer, one process table and one set of counters.
 */
#ifndef NSGUARD_MAPS_BPF_H
#define NSGUARD_MAPS_BPF_H

/* 8 MiB: ~36k syscall records or ~4.5k exec records of slack while user space is busy. */
#define NSGUARD_RINGBUF_BYTES (8 * 1024 * 1024)

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
 * Never wake the reader: it drains the ring every poll period (10 ms) on its own. A wake-up per
 * record costs the caller ~2.2 us on a 2-vCPU VM (kernel-findings §3g), and waking "when the ring
 * fills up" costs that on every record exactly when the reader is behind and cannot use it. 10 ms
 * of records at any rate we can process fits the 8 MiB ring many times over.
 */
static __always_inline void submit_event(void *ev)
{
	count(NSGUARD_CNT_EVENTS);
	bpf_ringbuf_submit(ev, BPF_RB_NO_WAKEUP);
}

#endif
