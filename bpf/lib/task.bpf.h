/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Reading a task's identity, credentials, cgroup and namespaces with CO-RE. */
#ifndef NSGUARD_TASK_BPF_H
#define NSGUARD_TASK_BPF_H

/*
 * bpf_rdonly_cast (kfunc, kernel 6.2+) turns an address into a read-only BTF pointer, so the
 * fields behind it are read with direct guarded loads — several times cheaper than one
 * bpf_probe_read_kernel call per field, which matters on the monitored-syscall path. Used where a
 * plain BTF pointer cannot go: a variable array index (pid->numbers[level]) or a pointer read from
 * memory the verifier does not type (an fd table slot).
 */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;

/* &pid->numbers[level] as a BTF pointer; pid: a non-NULL BTF pointer. */
static __always_inline struct upid *upid_at(struct pid *pid, unsigned int level)
{
	return bpf_rdonly_cast((void *)pid + bpf_core_field_offset(struct pid, numbers) +
				       (level & 31) * bpf_core_type_size(struct upid),
			       bpf_core_type_id_kernel(struct upid));
}

/* task: a BTF pointer (see fill_namespaces).
 *
 * tgid as seen in the task's own pid namespace; 0 for tasks in the initial pid namespace, which
 * is how isNamespacePID selectors tell host processes apart (Tetragon does the same). */
static __always_inline __u32 task_nspid(struct task_struct *task)
{
	struct pid *pid = task->group_leader->thread_pid;
	unsigned int level;

	if (!pid)
		return 0;
	level = pid->level;
	if (level == 0)
		return 0;
	return upid_at(pid, level)->nr;
}

static __always_inline __u32 task_pid_ns_inum(struct task_struct *task)
{
	struct pid *pid = task->thread_pid;

	if (!pid)
		return 0;
	return upid_at(pid, pid->level)->ns->ns.inum;
}

static __always_inline void fill_namespaces(struct task_struct *task, __u32 *ns)
{
	/* Direct loads through BTF pointers (task comes from tp_btf arguments or
	 * bpf_get_current_task_btf): the verifier turns them into guarded loads, several times cheaper
	 * than one bpf_probe_read_kernel call per pointer hop. A NULL hop reads as 0. */
	struct nsproxy *nsp = task->nsproxy;

	ns[NSGUARD_NS_PID] = task_pid_ns_inum(task);
	ns[NSGUARD_NS_USER] = task->cred->user_ns->ns.inum;
	if (!nsp) /* exiting task */
		return;
	ns[NSGUARD_NS_UTS] = nsp->uts_ns->ns.inum;
	ns[NSGUARD_NS_IPC] = nsp->ipc_ns->ns.inum;
	ns[NSGUARD_NS_MNT] = nsp->mnt_ns->ns.inum;
	ns[NSGUARD_NS_PID_FOR_CHILDREN] = nsp->pid_ns_for_children->ns.inum;
	ns[NSGUARD_NS_NET] = nsp->net_ns->ns.inum;
	if (bpf_core_field_exists(nsp->time_ns)) {
		ns[NSGUARD_NS_TIME] = nsp->time_ns->ns.inum;
		ns[NSGUARD_NS_TIME_FOR_CHILDREN] = nsp->time_ns_for_children->ns.inum;
	}
	ns[NSGUARD_NS_CGROUP] = nsp->cgroup_ns->ns.inum;
}

/*
 * The container cgroup of a task: its unified (v2) cgroup, or on hybrid hosts where the task sits
 * in the unified root, its v1 memory cgroup (flagged NSGUARD_SOURCE_CGROUP_V1) — the cgroup
 * read_cgroup_name() names. Every record carries it (nsguard_task.cgroup_id) and flood resistance
 * keys its sources by it, so user space sees the kernel's notion of "one container".
 */
static __always_inline __u64 container_cgroup_id(struct task_struct *task)
{
	struct cgroup *dfl = task->cgroups->dfl_cgrp;
	int memory = bpf_core_enum_value(enum cgroup_subsys_id, memory_cgrp_id);
	struct cgroup_subsys_state *css;

	if (BPF_CORE_READ(dfl, level) > 0)
		return BPF_CORE_READ(dfl, kn, id);
	if (bpf_core_read(&css, sizeof(css), &task->cgroups->subsys[memory & 15]) || !css ||
	    BPF_CORE_READ(css, cgroup, level) == 0)
		return BPF_CORE_READ(dfl, kn, id);
	return BPF_CORE_READ(css, cgroup, kn, id) | NSGUARD_SOURCE_CGROUP_V1;
}

/* task must be a BTF pointer (see fill_namespaces). The subjective credentials (task->cred), as
 * Tetragon reads them for exec and clone. kernel_cap_t is a u64 since 6.3 and two u32 words
 * (low first) before: 8 bytes either way, so one read fills the mask on both. */
static __always_inline void fill_creds(struct nsguard_creds *c, struct task_struct *task)
{
	const struct cred *cred = task->cred;

	c->uid = cred->uid.val;
	c->gid = cred->gid.val;
	c->euid = cred->euid.val;
	c->egid = cred->egid.val;
	c->suid = cred->suid.val;
	c->sgid = cred->sgid.val;
	c->fsuid = cred->fsuid.val;
	c->fsgid = cred->fsgid.val;
	c->securebits = cred->securebits;
	c->pad = 0;
	bpf_core_read(&c->cap_permitted, sizeof(c->cap_permitted), &cred->cap_permitted);
	bpf_core_read(&c->cap_effective, sizeof(c->cap_effective), &cred->cap_effective);
	bpf_core_read(&c->cap_inheritable, sizeof(c->cap_inheritable), &cred->cap_inheritable);
}

/* task must be a BTF pointer (see fill_namespaces). */
static __always_inline void fill_task(struct nsguard_task *t, struct task_struct *task)
{
	__u32 tgid = task->tgid;
	struct nsguard_proc *proc = bpf_map_lookup_elem(&nsguard_procs, &tgid);
	const struct cred *cred = task->cred;

	if (proc)
		t->key = proc->key;
	else
		t->key.pid = tgid;
	t->pid = tgid;
	t->tid = task->pid;
	t->ppid = task->real_parent->tgid;
	t->nspid = task_nspid(task);
	t->uid = cred->uid.val;
	t->euid = cred->euid.val;
	t->gid = cred->gid.val;
	t->auid = bpf_core_field_exists(task->loginuid) ? task->loginuid.val : (__u32)-1;
	t->cgroup_id = container_cgroup_id(task);
	fill_namespaces(task, t->ns);
	/* Two direct loads instead of a helper call: the kernel keeps comm NUL-terminated and padded. */
	*(__u64 *)&t->comm[0] = *(__u64 *)&task->comm[0];
	*(__u64 *)&t->comm[8] = *(__u64 *)&task->comm[8];
}

/*
 * Name of the cgroup that identifies the task's container: the cgroup v2 directory name, or on
 * hybrid hosts (v1 controllers + an empty unified tree, as on our CI VMs) the memory controller's,
 * which is where runc/containerd/podman place containers.
 */
static __always_inline long read_cgroup_name(struct task_struct *task, char *buf)
{
	const char *name = BPF_CORE_READ(task, cgroups, dfl_cgrp, kn, name);
	long n = name ? bpf_probe_read_kernel_str(buf, NSGUARD_CGROUP_NAME_LEN, name) : 0;

	if (n > 1)
		return n;
	int memory = bpf_core_enum_value(enum cgroup_subsys_id, memory_cgrp_id);
	struct css_set *cgroups = BPF_CORE_READ(task, cgroups);
	struct cgroup_subsys_state *css;

	if (!cgroups || bpf_core_read(&css, sizeof(css), &cgroups->subsys[memory & 15]) || !css)
		return n;
	name = BPF_CORE_READ(css, cgroup, kn, name);
	return name ? bpf_probe_read_kernel_str(buf, NSGUARD_CGROUP_NAME_LEN, name) : n;
}

#endif
