// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Syscall hooks of TracingPolicies (kprobes with `syscall: true`). One program serves every hook:
 * it is attached to `syscalls/sys_enter_<name>` once per policy hook with the hook id as BPF
 * cookie, reads that hook's compiled selectors from nsguard_hooks, and either drops the call (no
 * selector matched: it never reaches user space), posts it, or kills the caller.
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

/* Layout shared by every syscalls/sys_enter_* tracepoint: 8 bytes of common fields, the syscall
 * number, then one 8-byte slot per argument (only as many as the syscall has). */
struct sys_enter_record {
	__u64 common;
	__s32 nr;
	__u32 pad;
	__u64 args[NSGUARD_SYSCALL_ARGS];
};

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
 * namespace's inum) or a pidfd. */
static __always_inline void resolve_fd(struct task_struct *task, __s64 fd, __u32 *kind, __u32 *inum)
{
	struct fdtable *fdt = task->files->fdt;
	struct file **fds;
	struct file *file;

	*kind = NSGUARD_FD_UNKNOWN;
	if (!fdt || fd < 0 || fd >= fdt->max_fds)
		return;
	fds = fdt->fd;
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd & 0xffffff]) || !file)
		return;
	struct inode *inode = BPF_CORE_READ(file, f_inode);
	unsigned long magic = BPF_CORE_READ(inode, i_sb, s_magic);

	if (magic == NSFS_MAGIC) {
		*kind = NSGUARD_FD_NSFS;
		*inum = BPF_CORE_READ(inode, i_ino);
	} else if (magic == PIDFS_MAGIC) {
		*kind = NSGUARD_FD_PIDFD;
	} else {
		*kind = NSGUARD_FD_OTHER;
	}
}

/*
 * One call of a hooked syscall, for one policy hook: selectors, action, event. A subprogram (not
 * inlined) because the compat entry runs it once per hook on the syscall.
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

	ev = reserve_event(sizeof(*ev));
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

SEC("tracepoint")
int nsguard_sys_enter(void *ctx)
{
	struct sys_enter_record *rec = ctx;
	__u64 args[NSGUARD_SYSCALL_ARGS];
	__s32 nr;

	/* Read the record through a helper rather than ctx loads: a direct load of args[5] would
	 * make the kernel refuse to attach to syscalls with fewer arguments (max_ctx_offset). */
	if (bpf_probe_read_kernel(&nr, sizeof(nr), &rec->nr) ||
	    bpf_probe_read_kernel(args, sizeof(args), &rec->args))
		return 0;
	return handle_call(bpf_get_attach_cookie(ctx), bpf_get_current_task_btf(), nr, args, 0);
}

/* ia32 syscall number -> the policy hooks on that syscall. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 512);
	__type(key, __u32);
	__type(value, struct nsguard_compat_hooks);
} nsguard_compat_hooks SEC(".maps");

#define TS_COMPAT 0x0002 /* arch/x86/include/asm/thread_info.h */

/*
 * The 32-bit entry (int 0x80, sysenter from ia32 code): syscalls/sys_enter_<name> does not fire
 * for it (kernel-findings §3c: a compat setns into the host netns produced no event), so a process
 * could slip past every syscall hook by switching ABI. tp_btf/sys_enter sees every syscall; it is
 * attached only while some policy hooks a syscall, and returns at once for 64-bit callers.
 */
SEC("tp_btf/sys_enter")
int BPF_PROG(nsguard_compat_enter, struct pt_regs *regs, long id)
{
#if defined(__TARGET_ARCH_x86)
	struct task_struct *task = bpf_get_current_task_btf();
	struct nsguard_compat_hooks *hooks;
	__u32 nr = id;

	if (!(task->thread_info.status & TS_COMPAT))
		return 0;
	hooks = bpf_map_lookup_elem(&nsguard_compat_hooks, &nr);
	if (!hooks)
		return 0;
	/* The ia32 calling convention: ebx, ecx, edx, esi, edi, ebp. */
	__u64 args[NSGUARD_SYSCALL_ARGS] = { regs->bx, regs->cx, regs->dx, regs->si, regs->di, regs->bp };

	for (int i = 0; i < NSGUARD_MAX_COMPAT_HOOKS; i++) {
		if (i >= hooks->count)
			break;
		handle_call(hooks->hook_ids[i], task, nr, args, NSGUARD_SYSCALL_COMPAT);
	}
#endif
	return 0;
}
