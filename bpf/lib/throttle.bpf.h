/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Flood resistance: fair sharing of the ring buffer under saturation, decided before the ring.
 *
 * Nothing is suppressed while the pipeline keeps up: below NSGUARD_THROTTLE_LOW_BYTES of unread
 * data (a reader that keeps up stays far below: 10 ms of 100k events/s is ~220 KiB) an event costs
 * one bpf_ringbuf_query and nothing else — no map update on the fast path.
 *
 * Under pressure each ordinary event is accounted to its source at two levels, the container
 * cgroup and the process, per 100 ms window. A source is heavy when its count in the window
 * exceeds NSGUARD_THROTTLE_MIN_BURST and its fair share: the window's total divided by the sources
 * active at that level. Between LOW and HIGH an event is suppressed only when both its cgroup and
 * its process are heavy (a flooding process does not silence its container's other processes, and
 * a lone flooder may use the ring up to HIGH to absorb a burst). Between HIGH and MAX either one
 * being heavy suppresses it, and the fair share keeps one share in reserve for a source that has
 * not spoken yet (total / (sources + 1)): a lone flooder is held to its minimum burst per window,
 * so the ring never fills up from one source and a light source arriving later still gets in. At
 * MAX every ordinary event is suppressed; the last 1/8 is headroom for priority records (the
 * callers never pass those here: enforcement actions and process lifecycle records).
 *
 * Counts are exact where they are totals (NSGUARD_CNT_THROTTLED, per-source suppressed / posted /
 * lost, with atomic adds) and approximate where they are only heuristics (window counts, active
 * sources: racing CPUs may reset a window twice, which only shifts a share for one window).
 */
#ifndef NSGUARD_THROTTLE_BPF_H
#define NSGUARD_THROTTLE_BPF_H

/* The sources an accounted event was charged to; NULL members when it was not accounted. */
struct throttle_sources {
	struct nsguard_source *cgroup;
	struct nsguard_source *process;
};

/* Template for new entries (bpf_map_update_elem needs a value; keeps it off the stack). */
static const struct nsguard_source empty_source;

/* Finds or makes the source entry and counts one event of it in window `epoch`. */
static __always_inline struct nsguard_source *account_source(struct nsguard_source_key *key, __u64 epoch,
							     __u32 *active, struct task_struct *task,
							     __u64 now)
{
	struct nsguard_source *s = bpf_map_lookup_elem(&nsguard_sources, key);

	if (!s) {
		bpf_map_update_elem(&nsguard_sources, key, &empty_source, BPF_NOEXIST);
		s = bpf_map_lookup_elem(&nsguard_sources, key);
		if (!s)
			return NULL;
		if (!s->created_ktime) {
			s->created_ktime = now;
			if (!key->pid) {
				long n = read_cgroup_name(task, s->cgroup_name);

				s->cgroup_name_len = n > 0 ? n - 1 : 0;
			}
		}
	}
	if (s->epoch != epoch) {
		s->epoch = epoch;
		s->count = 0;
		__sync_fetch_and_add(active, 1);
	}
	__sync_fetch_and_add(&s->count, 1);
	return s;
}

/* count > total / (sources + spare), without a division. */
static __always_inline bool source_heavy(const struct nsguard_source *s, __u64 total, __u32 sources, __u32 spare)
{
	return s && s->count > NSGUARD_THROTTLE_MIN_BURST && s->count * (sources + spare) > total;
}

/*
 * Whether an ordinary (non-priority) event of `task` must be suppressed. Suppressions are counted
 * here; the caller reports the fate of an admitted event with throttle_admitted().
 */
static __always_inline bool throttle_suppress(struct task_struct *task, struct throttle_sources *src)
{
	__u64 unread = bpf_ringbuf_query(&nsguard_events, BPF_RB_AVAIL_DATA);

	if (unread < NSGUARD_THROTTLE_LOW_BYTES)
		return false;

	__u32 zero = 0;
	struct nsguard_throttle_window *w = bpf_map_lookup_elem(&nsguard_throttle, &zero);
	__u64 now = bpf_ktime_get_boot_ns();
	__u64 epoch = now / NSGUARD_THROTTLE_WINDOW_NS;

	if (!w)
		return false;
	if (w->epoch != epoch) {
		w->epoch = epoch;
		w->events = 0;
		w->cgroups = 0;
		w->processes = 0;
	}
	__sync_fetch_and_add(&w->events, 1);

	struct nsguard_source_key key = { .cgroup_id = container_cgroup_id(task) };
	src->cgroup = account_source(&key, epoch, &w->cgroups, task, now);
	key.pid = task->tgid;
	src->process = account_source(&key, epoch, &w->processes, task, now);

	bool suppress;
	if (unread >= NSGUARD_THROTTLE_MAX_BYTES) {
		suppress = true;
	} else if (unread >= NSGUARD_THROTTLE_HIGH_BYTES) {
		suppress = source_heavy(src->cgroup, w->events, w->cgroups, 1) ||
			   source_heavy(src->process, w->events, w->processes, 1);
	} else {
		suppress = source_heavy(src->cgroup, w->events, w->cgroups, 0) &&
			   source_heavy(src->process, w->events, w->processes, 0);
	}
	if (!suppress)
		return false;
	count(NSGUARD_CNT_THROTTLED);
	if (src->cgroup) {
		__sync_fetch_and_add(&src->cgroup->suppressed, 1);
		src->cgroup->last_suppressed_ktime = now;
	}
	if (src->process) {
		__sync_fetch_and_add(&src->process->suppressed, 1);
		src->process->last_suppressed_ktime = now;
	}
	return true;
}

/* An event throttle_suppress() let through was submitted (reserved) or lost to a full ring. */
static __always_inline void throttle_admitted(struct throttle_sources *src, bool reserved)
{
	if (src->cgroup)
		__sync_fetch_and_add(reserved ? &src->cgroup->posted : &src->cgroup->lost, 1);
	if (src->process)
		__sync_fetch_and_add(reserved ? &src->process->posted : &src->process->lost, 1);
}

#endif
