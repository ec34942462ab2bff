// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Process lifecycle: exec, fork (new processes only, not threads) and exit. Keeps the kernel's
 * own process table (nsguard_procs) that syscall hooks use for process keys and the matchPIDs
 * followForks walk, and reports each change on the ring buffer for the user-space process cache.
 *
 * tp_btf programs: they need no tracefs and, unlike fentry, work on kernels that refuse BPF
 * trampolines (kernel-findings §3b).
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "nsguard_events.h"
#include "maps.bpf.h"
#include "task.bpf.h"
#include "path.bpf.h"
#include "strings.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

static __always_inline struct nsguard_process_key key_of(__u32 tgid)
{
	struct nsguard_proc *proc = bpf_map_lookup_elem(&nsguard_procs, &tgid);
	struct nsguard_process_key key = { .pid = tgid };

	if (proc)
		key = proc->key;
	return key;
}

static __always_inline void remember(__u32 tgid, struct nsguard_proc *proc)
{
	if (bpf_map_update_elem(&nsguard_procs, &tgid, proc, BPF_ANY))
		count(NSGUARD_CNT_PROC_TABLE_FULL);
}

/* A process table entry under construction and a string key: too large for the BPF stack. */
struct proc_scratch {
	struct nsguard_proc proc;
	struct nsguard_string_key key;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct proc_scratch);
} nsguard_proc_scratch SEC(".maps");

/* followChildren: the follow filters the new binary matches (struct nsguard_follow_filter). */
struct follow_walk {
	struct proc_scratch *s; /* bpf_loop's context must be on the stack */
};

static long follow_step(__u32 bit, struct follow_walk *w)
{
	struct proc_scratch *s = w->s;
	struct nsguard_follow_filter *f = bpf_map_lookup_elem(&nsguard_follow_filters, &bit);

	if (!f || !f->op)
		return 0;
	__builtin_memcpy(s->key.data, s->proc.binary, NSGUARD_STRING_LEN);
	if (nsguard_string_lookup(NSGUARD_ARG_EQUAL, f->filter_id, s->proc.binary_len, &s->key))
		s->proc.follow_bits |= 1ULL << (bit & 63);
	return 0;
}

/* What matchBinaries and the *Changes selectors compare with: the state right after an exec. */
static __always_inline void remember_exec_state(struct proc_scratch *s, struct task_struct *task,
						struct linux_binprm *bprm)
{
	struct nsguard_proc *proc = &s->proc;
	long n = bpf_probe_read_kernel_str(proc->binary, sizeof(proc->binary), BPF_CORE_READ(bprm, interp));

	proc->binary_len = n > 0 ? n - 1 : 0;
	fill_namespaces(task, proc->exec_ns);
	const struct cred *cred = task->cred;

	bpf_core_read(&proc->exec_caps[NSGUARD_CAP_EFFECTIVE], 8, &cred->cap_effective);
	bpf_core_read(&proc->exec_caps[NSGUARD_CAP_INHERITABLE], 8, &cred->cap_inheritable);
	bpf_core_read(&proc->exec_caps[NSGUARD_CAP_PERMITTED], 8, &cred->cap_permitted);
	struct follow_walk walk = { .s = s };

	bpf_loop(NSGUARD_MAX_FOLLOW_FILTERS, follow_step, &walk, 0);
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(nsguard_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	__u64 now = bpf_ktime_get_boot_ns();
	__u32 tgid = BPF_CORE_READ(task, tgid), zero = 0;
	struct nsguard_proc *prev = bpf_map_lookup_elem(&nsguard_procs, &tgid);
	struct proc_scratch *scratch = bpf_map_lookup_elem(&nsguard_proc_scratch, &zero);
	struct nsguard_exec_event *ev;
	__u32 flags = NSGUARD_FLAG_EXECVE;

	if (!scratch)
		return 0;
	struct nsguard_proc *procp = &scratch->proc;

	__builtin_memset(procp, 0, sizeof(*procp));

	/* An exec replaces the process under the same pid: it keeps the parent of the process it
	 * replaces and its place in (or out of) the init tree, and its first exec after a fork is
	 * flagged "clone" like Tetragon's. */
	procp->nspid = task_nspid(task);
	if (prev) {
		procp->parent = prev->parent;
		if (prev->flags & NSGUARD_FLAG_CLONE && !(prev->flags & NSGUARD_FLAG_EXECVE))
			flags |= NSGUARD_FLAG_CLONE;
		flags |= prev->flags & NSGUARD_FLAG_IN_INIT_TREE;
		procp->follow_bits = prev->follow_bits;
	} else {
		procp->parent = key_of(BPF_CORE_READ(task, real_parent, tgid));
	}
	/* Tetragon's set_in_init_tree(curr, NULL) at exec: a namespace's pid 1 is its own tree. */
	if (procp->nspid == 1)
		flags |= NSGUARD_FLAG_IN_INIT_TREE;
	procp->key.pid = tgid;
	procp->key.ktime = now;
	procp->flags = flags;
	remember_exec_state(scratch, task, bprm);
	remember(tgid, procp);

	ev = reserve_event(sizeof(*ev));
	if (!ev)
		return 0;
	ev->hdr.op = NSGUARD_OP_EXEC;
	ev->hdr.size = sizeof(*ev);
	ev->hdr.ktime = now;
	fill_task(&ev->task, task);
	fill_creds(&ev->creds, task);
	ev->parent = procp->parent;

	long n = bpf_probe_read_kernel_str(ev->filename, sizeof(ev->filename), BPF_CORE_READ(bprm, filename));
	if (n < 0) {
		flags |= NSGUARD_FLAG_ERROR_FILENAME;
		n = 0;
	}
	ev->filename_len = n > 0 ? n - 1 : 0;

	/* argv as laid out on the new stack: argv[0]\0argv[1]\0…; the decoder drops argv[0]. */
	unsigned long arg_start = BPF_CORE_READ(task, mm, arg_start);
	unsigned long arg_end = BPF_CORE_READ(task, mm, arg_end);
	__u64 args_len = arg_end > arg_start ? arg_end - arg_start : 0;
	if (args_len > NSGUARD_ARGS_LEN) {
		args_len = NSGUARD_ARGS_LEN;
		flags |= NSGUARD_FLAG_TRUNC_ARGS;
	}
	if (bpf_probe_read_user(ev->args, args_len, (void *)arg_start)) {
		flags |= NSGUARD_FLAG_ERROR_ARGS;
		args_len = 0;
	}
	ev->args_len = args_len;

	struct fs_struct *fs = BPF_CORE_READ(task, fs);
	bool truncated = false;
	long cwd_len = fs ? read_path_components(&fs->pwd, &fs->root, ev->cwd, &truncated) : -1;
	if (cwd_len < 0) {
		flags |= NSGUARD_FLAG_ERROR_CWD;
		cwd_len = 0;
	} else if (cwd_len == 0) {
		flags |= NSGUARD_FLAG_ROOTCWD;
	}
	ev->cwd_len = cwd_len;

	n = read_cgroup_name(task, ev->cgroup_name);
	ev->cgroup_name_len = n > 0 ? n - 1 : 0;
	ev->flags = flags;
	submit_event(ev);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(nsguard_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 tgid = BPF_CORE_READ(child, tgid);
	__u32 parent_tgid = BPF_CORE_READ(parent, tgid);
	struct nsguard_proc *pproc = bpf_map_lookup_elem(&nsguard_procs, &parent_tgid);
	struct nsguard_clone_event *ev;
	__u32 zero = 0;
	struct proc_scratch *scratch = bpf_map_lookup_elem(&nsguard_proc_scratch, &zero);

	if (BPF_CORE_READ(child, pid) != tgid) /* a new thread, not a new process */
		return 0;
	if (!scratch)
		return 0;
	struct nsguard_proc *procp = &scratch->proc;

	/* The child runs its parent's image: it inherits the exec-time state (Tetragon copies the
	 * parent's execve_map entry). */
	if (pproc)
		__builtin_memcpy(procp, pproc, sizeof(*procp));
	else
		__builtin_memset(procp, 0, sizeof(*procp));
	procp->key.pid = tgid;
	procp->key.ktime = bpf_ktime_get_boot_ns();
	procp->parent.pid = parent_tgid;
	if (pproc)
		procp->parent = pproc->key;
	procp->nspid = task_nspid(child);
	procp->flags = NSGUARD_FLAG_CLONE;
	/* Tetragon's set_in_init_tree(curr, parent) at fork: inherited, or the child is a pid 1. */
	if ((pproc && pproc->flags & NSGUARD_FLAG_IN_INIT_TREE) || procp->nspid == 1)
		procp->flags |= NSGUARD_FLAG_IN_INIT_TREE;
	remember(tgid, procp);

	ev = reserve_event(sizeof(*ev));
	if (!ev)
		return 0;
	ev->hdr.op = NSGUARD_OP_CLONE;
	ev->hdr.size = sizeof(*ev);
	ev->hdr.ktime = procp->key.ktime;
	fill_task(&ev->task, child);
	fill_creds(&ev->creds, child);
	ev->parent = procp->parent;
	ev->flags = procp->flags;
	ev->pad = 0;
	submit_event(ev);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(nsguard_exit, struct task_struct *task)
{
	__u32 tgid = BPF_CORE_READ(task, tgid);
	struct nsguard_exit_event *ev;

	/* Fires per thread; the process is gone when the last one leaves (signal->live is
	 * decremented before this tracepoint in do_exit). */
	if (BPF_CORE_READ(task, signal, live.counter) != 0)
		return 0;
	ev = reserve_event(sizeof(*ev));
	if (ev) {
		ev->hdr.op = NSGUARD_OP_EXIT;
		ev->hdr.size = sizeof(*ev);
		ev->hdr.ktime = bpf_ktime_get_boot_ns();
		fill_task(&ev->task, task);
		ev->exit_code = BPF_CORE_READ(task, exit_code);
		submit_event(ev);
	}
	bpf_map_delete_elem(&nsguard_procs, &tgid);
	return 0;
}
