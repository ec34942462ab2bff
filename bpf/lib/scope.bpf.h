/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Workload scope of a policy: is the calling task one of the containers it selects? */
#ifndef NSGUARD_SCOPE_BPF_H
#define NSGUARD_SCOPE_BPF_H

/* See struct nsguard_scope_key in nsguard_events.h. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NSGUARD_MAX_SCOPE_CGROUPS);
	__type(key, struct nsguard_scope_key);
	__type(value, __u8);
} nsguard_policy_cgroups SEC(".maps");

/*
 * True when the task is in scope `scope_id` (non-zero): its container cgroup is one the scope
 * selects, or it is a host process and the scope admits host processes. A container the agent has
 * not resolved yet counts as a host process until it has (the window is described in the agent's
 * scope maintainer, packages/agent/src/scope/).
 */
static __always_inline bool in_scope(__u32 scope_id, struct task_struct *task)
{
	__u64 cgroup_id = container_cgroup_id(task);
	struct nsguard_scope_key key = { .scope_id = scope_id, .cgroup_id = cgroup_id };

	if (bpf_map_lookup_elem(&nsguard_policy_cgroups, &key))
		return true;
	key.cgroup_id = NSGUARD_SCOPE_HOST_CGROUP;
	if (!bpf_map_lookup_elem(&nsguard_policy_cgroups, &key))
		return false;
	key.scope_id = NSGUARD_SCOPE_ALL_CONTAINERS;
	key.cgroup_id = cgroup_id;
	return !bpf_map_lookup_elem(&nsguard_policy_cgroups, &key);
}

#endif
