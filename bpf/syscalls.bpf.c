// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Syscall hooks of TracingPolicies (kprobes with `syscall: true`). One program, attached once to
 * tp_btf/sys_enter while any policy hooks a syscall, serves every hook and both syscall ABIs: it
 * looks the syscall number up in nsguard_syscall_hooks (an array, so the lookup is inlined and a
 * syscall nobody hooks costs two loads), then for each hook reads its compiled selectors from
 * nsguard_hooks and either drops the call (no selector matched: it never reaches user space),
 * posts it, or kills the caller.
 *
 * Why not syscalls/sys_enter_<name> tracepoints: they never fire for the 32-bit entry (int 0x80,
 * kernel-findings §3c), so the ia32 ABI needed a tp_btf/sys_enter program anyway — and any
 * sys_enter program runs on every syscall of the node. One dispatcher pays that once and skips the
 * tracepoint's perf record (measured side by side, thread CPU time, issue 5: monitored setns 1.49x
 * bare vs 1.58x with tracepoint + compat program; getppid 1.15x for every design that has a
 * sys_enter program, checking a bitmap of hooked ia32 numbers first included — the cost is the
 * program's invocation, not its body). It also needs no tracefs and no object instance per policy
 * hooking one syscall (a program sits at most once on a tracepoint).
 *
 * Enforcement note: bpf_send_signal(SIGKILL) at syscall entry kills the caller before it returns
 * to user space, but the syscall itself still completes (no override on this kernel class).
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "nsguard_events.h"
#include "maps.bpf.h"
#include "task.bpf.h"
#include "throttle.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define SIGKILL 9
#define NSFS_MAGIC 0x6e736673
#define PIDFS_MAGIC 0x50494446

/* Hook id (attach cookie) -> compiled selectors. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct nsguard_hook);
} nsguard_hooks SEC(".maps");

static __always_inline bool pid_in(const struct nsguard_pid_filter *f, __u32 pid)
{
	for (int i = 0; i < NSGUARD_MAX_PID_VALUES; i++)
		if (i < f->count && f->values[i] == pid)
			return true;
	return false;
}

static __always_inline bool pid_matches(const struct nsguard_pid_filter *f, __u32 pid)
{
	bool in = pid_in(f, pid);

	return f->op == NSGUARD_FILTER_IN ? in : !in;
}

/*
 * matchPIDs. With isNamespacePID the pid is the one in the caller's own pid namespace and host
 * processes (initial pid namespace) never match, as in Tetragon. With followForks the selector
 * also matches when an ancestor matches it (kernel process table, NSGUARD_FOLLOW_DEPTH levels;
 * for namespace pids the walk stops at the pid-namespace boundary), so a rule written for a
 * process covers everything it forks.
 */
static __always_inline bool match_pids(const struct nsguard_pid_filter *f, __u32 tgid, __u32 nspid)
{
	bool isns = f->flags & NSGUARD_PID_FLAG_NSPID;

	if (!f->op)
		return true;
	if (isns && !nspid)
		return false;
	if (pid_matches(f, isns ? nspid : tgid))
		return true;
	if (!(f->flags & NSGUARD_PID_FLAG_FOLLOW))
		return false;

	struct nsguard_proc *proc = bpf_map_lookup_elem(&nsguard_procs, &tgid);
	for (int depth = 0; depth < NSGUARD_FOLLOW_DEPTH && proc; depth++) {
		__u32 parent = proc->parent.pid;

		proc = bpf_map_lookup_elem(&nsguard_procs, &parent);
		if (!proc)
			break;
		if (isns && !proc->nspid)
			break;
		if (pid_matches(f, isns ? proc->nspid : proc->key.pid))
			return true;
	}
	return false;
}

/* What the fd argument refers to: for setns a namespace file (its inode number is the target
 * namespace's inum) or a pidfd. One helper read for the fd table slot; the file behind it is read
 * through bpf_rdonly_cast (lib/task.bpf.h) with direct loads. */
static __always_inline void resolve_fd(struct task_struct *task, __s64 fd, __u32 *kind, __u32 *inum)
{
	struct fdtable *fdt = task->files->fdt;
	struct file *slot;

	*kind = NSGUARD_FD_UNKNOWN;
	if (!fdt || fd < 0 || fd >= fdt->max_fds)
		return;
	if (bpf_probe_read_kernel(&slot, sizeof(slot), &fdt->fd[fd & 0xffffff]) || !slot)
		return;
	struct file *file = bpf_rdonly_cast(slot, bpf_core_type_id_kernel(struct file));
	struct inode *inode = file->f_inode;
	unsigned long magic = inode->i_sb->s_magic;

	if (magic == NSFS_MAGIC) {
		*kind = NSGUARD_FD_NSFS;
		*inum = inode->i_ino;
	} else if (magic == PIDFS_MAGIC) {
		*kind = NSGUARD_FD_PIDFD;
	} else {
		*kind = NSGUARD_FD_OTHER;
	}
}

/*
 * One call of a hooked syscall, for one policy hook: selectors, action, event. A subprogram (not
 * inlined) because the dispatcher runs it once per hook on the syscall.
 */
static __noinline int handle_call(__u32 hook_id, struct task_struct *task, __u32 nr, const __u64 *args,
				  __u32 flags)
{
	struct nsguard_hook *hook = bpf_map_lookup_elem(&nsguard_hooks, &hook_id);
	__u32 tgid = task->tgid;
	__u32 action = NSGUARD_ACTION_POST, selector = 0;
	struct nsguard_syscall_event *ev;

	if (!hook || !hook->enabled)
		return 0;
	if (hook->selector_count) {
		__u32 nspid = task_nspid(task);

		for (int i = 0; i < NSGUARD_MAX_SELECTORS; i++) {
			if (i >= hook->selector_count)
				break;
			if (match_pids(&hook->selectors[i].pids, tgid, nspid)) {
				action = hook->selectors[i].action;
				selector = i + 1;
				break;
			}
		}
		if (!selector) {
			count(NSGUARD_CNT_FILTERED);
			return 0;
		}
	}

	__s32 signal_err = 0;
	if (action == NSGUARD_ACTION_SIGKILL) {
		signal_err = bpf_send_signal(SIGKILL);
		count(signal_err ? NSGUARD_CNT_SIGKILL_ERR : NSGUARD_CNT_SIGKILL);
	}
	if (action == NSGUARD_ACTION_NOPOST)
		return 0;

	/* Priority records are never throttled and may use the ring's headroom: enforcement (the
	 * caller was just killed; the report must not be lost to someone else's flood). Entries into
	 * host namespaces join them once their verdict exists (issue 5 item 2). */
	bool priority = action == NSGUARD_ACTION_SIGKILL;
	struct throttle_sources src = {};

	if (!priority && throttle_suppress(task, &src))
		return 0;
	ev = reserve_event(sizeof(*ev));
	throttle_admitted(&src, ev != NULL);
	if (!ev)
		return 0;
	ev->hdr.op = NSGUARD_OP_SYSCALL;
	ev->hdr.size = sizeof(*ev);
	ev->hdr.ktime = bpf_ktime_get_boot_ns();
	fill_task(&ev->task, task);
	ev->hook_id = hook_id;
	ev->syscall_nr = nr;
	ev->action = action;
	ev->selector = selector;
	ev->signal_err = signal_err;
	ev->flags = flags;
	__builtin_memcpy(ev->args, args, sizeof(ev->args));
	ev->fd_kind = NSGUARD_FD_UNKNOWN;
	ev->fd_ns_inum = 0;
	if (hook->fd_arg >= 0 && hook->fd_arg < NSGUARD_SYSCALL_ARGS)
		resolve_fd(task, (__s32)args[hook->fd_arg & 7], &ev->fd_kind, &ev->fd_ns_inum);
	submit_event(ev);
	return 0;
}

#define TS_COMPAT 0x0002 /* arch/x86/include/asm/thread_info.h */

/* Syscall number -> the policy hooks on it, per ABI (struct nsguard_syscall_hooks). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, NSGUARD_SYSCALL_NR_MAX);
	__type(key, __u32);
	__type(value, struct nsguard_syscall_hooks);
} nsguard_syscall_hooks SEC(".maps");

/*
 * Every syscall of the node enters here while some policy hooks a syscall. The 32-bit entry
 * (int 0x80, sysenter from ia32 code, even from a 64-bit process) reports the ia32 number with
 * TS_COMPAT set for the duration of the call, so the task is only touched for a hooked number.
 */
SEC("tp_btf/sys_enter")
int BPF_PROG(nsguard_dispatch, struct pt_regs *regs, long id)
{
	__u32 nr = id;
	struct nsguard_syscall_hooks *hooks = bpf_map_lookup_elem(&nsguard_syscall_hooks, &nr);

	if (!hooks || !(hooks->count | hooks->compat_count))
		return 0;

	struct task_struct *task = bpf_get_current_task_btf();
	__u64 args[NSGUARD_SYSCALL_ARGS];
	__u32 count, flags = 0;
	__u32 *ids;

#if defined(__TARGET_ARCH_x86)
	if (task->thread_info.status & TS_COMPAT) {
		/* The ia32 calling convention: ebx, ecx, edx, esi, edi, ebp. */
		args[0] = regs->bx;
		args[1] = regs->cx;
		args[2] = regs->dx;
		args[3] = regs->si;
		args[4] = regs->di;
		args[5] = regs->bp;
		count = hooks->compat_count;
		ids = hooks->compat_hook_ids;
		flags = NSGUARD_SYSCALL_COMPAT;
	} else
#endif
	{
#if defined(__TARGET_ARCH_x86)
		/* The x86_64 syscall convention: rdi, rsi, rdx, r10, r8, r9. */
		args[0] = regs->di;
		args[1] = regs->si;
		args[2] = regs->dx;
		args[3] = regs->r10;
		args[4] = regs->r8;
		args[5] = regs->r9;
#elif defined(__TARGET_ARCH_arm64)
		/* x0 is overwritten by the return value later; at entry it is still the first argument. */
		for (int i = 0; i < NSGUARD_SYSCALL_ARGS; i++)
			args[i] = regs->regs[i];
#else
#error "syscall argument registers: add this architecture"
#endif
		count = hooks->count;
		ids = hooks->hook_ids;
	}
	for (int i = 0; i < NSGUARD_MAX_SYSCALL_HOOKS; i++) {
		if (i >= count)
			break;
		handle_call(ids[i], task, nr, args, flags);
	}
	return 0;
}
