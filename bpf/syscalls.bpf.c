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
#include "path.bpf.h"
#include "strings.bpf.h"

#define NS_BIT(slot) (1U << (slot))
#include "scope.bpf.h"

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
 * through bpf_rdonly_cast (lib/task.bpf.h) with direct loads. Returns the file (a read-only BTF
 * pointer) or NULL. */
static __always_inline struct file *resolve_fd(struct task_struct *task, __s64 fd, __u32 *kind,
					       __u32 *inum)
{
	struct fdtable *fdt = task->files->fdt;
	struct file *slot;

	*kind = NSGUARD_FD_UNKNOWN;
	if (!fdt || fd < 0 || fd >= fdt->max_fds)
		return NULL;
	if (bpf_probe_read_kernel(&slot, sizeof(slot), &fdt->fd[fd & 0xffffff]) || !slot)
		return NULL;
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
	return file;
}

/* A call's arguments as one struct, so global functions can take them (a global function's
 * pointer arguments are sized by their BTF type). */
struct call_args {
	__u64 v[NSGUARD_SYSCALL_ARGS];
};

struct ns_change {
	__u32 kinds, created, to_host, from_host;
	__u32 target[NSGUARD_NS_COUNT];
	__u32 fd_kind, fd_ns_inum;
};

/*
 * Everything one call's selectors may compare, gathered once per call: per CPU, as it is far
 * larger than the BPF stack. The task's namespaces and capabilities are filled on the first
 * selector that needs them (have_task), so a hook filtering on PIDs or arguments only never pays
 * for them.
 */
struct call_ctx {
	struct call_args call;
	struct ns_change change;
	__u32 tgid;
	__u32 tid;
	__u32 nspid;
	__u32 have_task;
	__u32 ns[NSGUARD_NS_COUNT];
	__u32 host[NSGUARD_NS_COUNT];
	__u64 caps[3]; /* enum nsguard_cap_set order */
	struct nsguard_arg_string strings[NSGUARD_MAX_STRING_ARGS];
	struct nsguard_string_key key;
	struct nsguard_rate_key rate;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct call_ctx);
} nsguard_call_ctx SEC(".maps");

/* Post rateLimit: hook + selector + scope + arguments -> boot-clock ns of the last post. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, struct nsguard_rate_key);
	__type(value, __u64);
} nsguard_rate_limits SEC(".maps");

/* matchArgs on an integer argument. */
static __always_inline bool int_arg_matches(const struct nsguard_arg_filter *f, const struct call_args *call)
{
	const __u64 *args = call->v;
	bool is_signed = f->flags & NSGUARD_ARG_FLAG_SIGNED;
	__u64 v;

	if (f->index >= NSGUARD_SYSCALL_ARGS)
		return false;
	v = args[f->index];
	if (f->flags & NSGUARD_ARG_FLAG_32BIT)
		v = is_signed ? (__u64)(__s64)(__s32)v : (__u32)v;
	switch (f->op) {
	case NSGUARD_ARG_EQUAL:
	case NSGUARD_ARG_NOT_EQUAL:
	case NSGUARD_ARG_MASK: {
		bool any = false;

		for (int i = 0; i < NSGUARD_MAX_ARG_VALUES; i++) {
			if (i >= f->count)
				break;
			any |= f->op == NSGUARD_ARG_MASK ? (v & f->values[i]) != 0 : v == f->values[i];
		}
		return f->op == NSGUARD_ARG_NOT_EQUAL ? !any : any;
	}
	case NSGUARD_ARG_GT:
		return is_signed ? (__s64)v > (__s64)f->values[0] : v > f->values[0];
	case NSGUARD_ARG_LT:
		return is_signed ? (__s64)v < (__s64)f->values[0] : v < f->values[0];
	}
	return false;
}

static __always_inline void host_namespaces(__u32 *ns);

/* The task's namespaces, the host's and the task's capabilities, once per call. */
static __always_inline void fill_call_task(struct call_ctx *ctx)
{
	struct task_struct *task = bpf_get_current_task_btf();
	const struct cred *cred = task->cred;

	if (ctx->have_task)
		return;
	fill_namespaces(task, ctx->ns);
	host_namespaces(ctx->host);
	ctx->host[NSGUARD_NS_PID_FOR_CHILDREN] = ctx->host[NSGUARD_NS_PID];
	ctx->host[NSGUARD_NS_TIME_FOR_CHILDREN] = ctx->host[NSGUARD_NS_TIME];
	bpf_core_read(&ctx->caps[NSGUARD_CAP_EFFECTIVE], 8, &cred->cap_effective);
	bpf_core_read(&ctx->caps[NSGUARD_CAP_INHERITABLE], 8, &cred->cap_inheritable);
	bpf_core_read(&ctx->caps[NSGUARD_CAP_PERMITTED], 8, &cred->cap_permitted);
	ctx->have_task = 1;
}

/* matchNamespaces: one entry. */
static __always_inline bool ns_matches(const struct nsguard_ns_filter *f, const struct call_ctx *ctx)
{
	__u32 kind = f->kind;
	bool in = false;

	if (kind >= NSGUARD_NS_COUNT)
		return false;
	__u32 v = ctx->ns[kind];

	for (int i = 0; i < NSGUARD_MAX_NS_VALUES; i++) {
		if (i >= f->count)
			break;
		in |= v == f->values[i];
	}
	if (f->flags & NSGUARD_NS_FILTER_HOST)
		in |= v == ctx->host[kind];
	return f->op == NSGUARD_FILTER_NOTIN ? !in : in;
}

/* matchCapabilities (changes = false) or matchCapabilityChanges (against the set at exec). */
static __always_inline bool cap_matches(const struct nsguard_cap_filter *f, const struct call_ctx *ctx,
					const struct nsguard_proc *proc, bool changes)
{
	__u32 set = f->set;
	bool in;

	if (set > NSGUARD_CAP_PERMITTED)
		return false;
	if (f->flags & NSGUARD_CAP_FLAG_NAMESPACED && ctx->ns[NSGUARD_NS_USER] == ctx->host[NSGUARD_NS_USER])
		return false;
	if (changes)
		in = proc && ((ctx->caps[set] ^ proc->exec_caps[set]) & f->mask) != 0;
	else
		in = (ctx->caps[set] & f->mask) != 0;
	return f->op == NSGUARD_FILTER_NOTIN ? !in : in;
}

/* matchNamespaceChanges: a namespace of one of the kinds differs from the one at exec. */
static __always_inline bool ns_changes_match(const struct nsguard_selector *sel, const struct call_ctx *ctx,
					     const struct nsguard_proc *proc)
{
	bool changed = false;

	for (int i = 0; i < NSGUARD_NS_COUNT; i++)
		if (sel->ns_change_kinds & NS_BIT(i) && proc && proc->exec_ns[i] && proc->exec_ns[i] != ctx->ns[i])
			changed = true;
	return sel->ns_change_op == NSGUARD_FILTER_NOTIN ? !changed : changed;
}

/* matchBinaries: the process's binary (unknown = ""), or with followChildren an ancestor's. */
static __always_inline bool binary_matches(const struct nsguard_binary_filter *f, struct call_ctx *ctx,
					   const struct nsguard_proc *proc)
{
	__u32 len = proc ? proc->binary_len : 0;

	if (proc)
		__builtin_memcpy(ctx->key.data, proc->binary, NSGUARD_STRING_LEN);
	else
		ctx->key.data[0] = 0;
	if (f->follow_bit) {
		bool followed = proc && f->follow_bit <= NSGUARD_MAX_FOLLOW_FILTERS &&
				(proc->follow_bits >> ((f->follow_bit - 1) & 63)) & 1;
		bool in = followed || nsguard_string_lookup(NSGUARD_ARG_EQUAL, f->filter_id, len, &ctx->key);

		return f->op == NSGUARD_ARG_NOT_EQUAL ? !in : in;
	}
	return nsguard_string_lookup(f->op, f->filter_id, len, &ctx->key);
}

/* matchArgs: one entry against the call's arguments or the strings read from them. */
static __always_inline bool arg_matches(const struct nsguard_arg_filter *f, struct call_ctx *ctx)
{
	if (!(f->flags & NSGUARD_ARG_FLAG_STRING))
		return int_arg_matches(f, &ctx->call);
	if (f->string_slot >= NSGUARD_MAX_STRING_ARGS)
		return false;
	const struct nsguard_arg_string *s = &ctx->strings[f->string_slot];

	/* An argument that could not be read matches no value (so every negative operator). */
	if (s->flags & NSGUARD_STRING_FLAG_ERROR)
		return f->op == NSGUARD_ARG_NOT_EQUAL || f->op == NSGUARD_ARG_NOT_PREFIX ||
		       f->op == NSGUARD_ARG_NOT_POSTFIX;
	__builtin_memcpy(ctx->key.data, s->data, NSGUARD_STRING_LEN);
	return nsguard_string_lookup(f->op, f->filter_id, s->len, &ctx->key);
}

/*
 * One selector against one call. A global function: the verifier checks it once, on its own,
 * instead of once per selector slot and path of the caller — with matchArgs loops inside the
 * selector loop, inlining it made handle_call too large to verify. Filters are ANDed; each kind
 * is skipped when the selector has none.
 */
__noinline int nsguard_selector_matches(const struct nsguard_selector *sel, struct call_ctx *ctx)
{
	struct nsguard_proc *proc = NULL;

	if (!sel || !ctx)
		return 0;
	if (!match_pids(&sel->pids, ctx->tgid, ctx->nspid))
		return 0;
	for (int i = 0; i < NSGUARD_MAX_ARG_FILTERS; i++) {
		if (i >= sel->arg_count)
			break;
		if (!arg_matches(&sel->args[i], ctx))
			return 0;
	}
	if (sel->host_entry_op) {
		bool entered = ctx->change.to_host & ~ctx->change.from_host & sel->host_entry_kinds;

		if (entered != (sel->host_entry_op == NSGUARD_FILTER_IN))
			return 0;
	}
	if (sel->binary.op || sel->ns_change_op || sel->cap_change_count) {
		__u32 tgid = ctx->tgid;

		proc = bpf_map_lookup_elem(&nsguard_procs, &tgid);
	}
	if (sel->binary.op && !binary_matches(&sel->binary, ctx, proc))
		return 0;
	if (sel->ns_count || sel->cap_count || sel->cap_change_count || sel->ns_change_op)
		fill_call_task(ctx);
	for (int i = 0; i < NSGUARD_MAX_NS_FILTERS; i++) {
		if (i >= sel->ns_count)
			break;
		if (!ns_matches(&sel->ns[i], ctx))
			return 0;
	}
	for (int i = 0; i < NSGUARD_MAX_CAP_FILTERS; i++) {
		if (i >= sel->cap_count)
			break;
		if (!cap_matches(&sel->caps[i], ctx, proc, false))
			return 0;
	}
	for (int i = 0; i < NSGUARD_MAX_CAP_FILTERS; i++) {
		if (i >= sel->cap_change_count)
			break;
		if (!cap_matches(&sel->cap_changes[i], ctx, proc, true))
			return 0;
	}
	if (sel->ns_change_op && !ns_changes_match(sel, ctx, proc))
		return 0;
	return 1;
}

#define CLONE_NEWTIME 0x00000080
#define CLONE_NEWNS 0x00020000
#define CLONE_NEWCGROUP 0x02000000
#define CLONE_NEWUTS 0x04000000
#define CLONE_NEWIPC 0x08000000
#define CLONE_NEWUSER 0x10000000
#define CLONE_NEWPID 0x20000000
#define CLONE_NEWNET 0x40000000
/* clone(2)'s low byte is the child's exit signal, so CLONE_NEWTIME cannot be asked for there. */
#define CSIGNAL 0x000000ff

/* CLONE_NEW* flags → namespace kind bits. */
static __always_inline __u32 ns_kinds_of(__u64 flags)
{
	return (flags & CLONE_NEWUTS ? NS_BIT(NSGUARD_NS_UTS) : 0) |
	       (flags & CLONE_NEWIPC ? NS_BIT(NSGUARD_NS_IPC) : 0) |
	       (flags & CLONE_NEWNS ? NS_BIT(NSGUARD_NS_MNT) : 0) |
	       (flags & CLONE_NEWPID ? NS_BIT(NSGUARD_NS_PID) : 0) |
	       (flags & CLONE_NEWNET ? NS_BIT(NSGUARD_NS_NET) : 0) |
	       (flags & CLONE_NEWTIME ? NS_BIT(NSGUARD_NS_TIME) : 0) |
	       (flags & CLONE_NEWCGROUP ? NS_BIT(NSGUARD_NS_CGROUP) : 0) |
	       (flags & CLONE_NEWUSER ? NS_BIT(NSGUARD_NS_USER) : 0);
}

extern struct task_struct *bpf_task_from_pid(s32 pid) __ksym;
extern void bpf_task_release(struct task_struct *p) __ksym;

/*
 * The host's namespace inums (enum nsguard_ns_index order): the kernel's initial namespaces,
 * whatever /proc/1 shows (on these machines it is unreadable). Kernels since 6.x give every initial
 * namespace a fixed inode number (enum init_ns_ino, read from kernel BTF with CO-RE); the kernel's
 * init_nsproxy itself is not in BTF (global variables are not encoded). Older kernels allocated
 * the net and mnt ones at boot: there the namespaces of PID 1, which starts in them, stand in.
 */
/*
 * A flavour of the kernel's enum init_ns_ino with its values as signed ints: the values are above
 * INT_MAX, and libbpf (1.1) expects an enum relocation's local value sign-extended while clang
 * emits the unsigned one for vmlinux.h's declaration, so the relocation would be refused. The
 * values here only have to agree with the instruction; the kernel's BTF supplies the real ones.
 */
enum init_ns_ino___nsguard {
	IPC_NS_INIT_INO___nsguard = -1,
	UTS_NS_INIT_INO___nsguard = -2,
	USER_NS_INIT_INO___nsguard = -3,
	PID_NS_INIT_INO___nsguard = -4,
	CGROUP_NS_INIT_INO___nsguard = -5,
	TIME_NS_INIT_INO___nsguard = -6,
	NET_NS_INIT_INO___nsguard = -7,
	MNT_NS_INIT_INO___nsguard = -8,
};
#define INIT_INO(name) ((__u32)bpf_core_enum_value(enum init_ns_ino___nsguard, name##_NS_INIT_INO___nsguard))

static __always_inline void host_namespaces(__u32 *ns)
{
	if (bpf_core_enum_value_exists(enum init_ns_ino___nsguard, MNT_NS_INIT_INO___nsguard)) {
		ns[NSGUARD_NS_UTS] = INIT_INO(UTS);
		ns[NSGUARD_NS_IPC] = INIT_INO(IPC);
		ns[NSGUARD_NS_MNT] = INIT_INO(MNT);
		ns[NSGUARD_NS_PID] = INIT_INO(PID);
		ns[NSGUARD_NS_NET] = INIT_INO(NET);
		ns[NSGUARD_NS_TIME] = INIT_INO(TIME);
		ns[NSGUARD_NS_CGROUP] = INIT_INO(CGROUP);
		ns[NSGUARD_NS_USER] = INIT_INO(USER);
		return;
	}
	struct task_struct *init = bpf_task_from_pid(1);

	if (init) {
		fill_namespaces(init, ns);
		bpf_task_release(init);
	}
}

/* Kernels before 6.18 keep the namespace type in the operations table. */
struct proc_ns_operations___typed {
	int type;
} __attribute__((preserve_access_index));
struct ns_common___typed {
	const struct proc_ns_operations___typed *ops;
} __attribute__((preserve_access_index));

/* CLONE_NEW* type of the namespace an nsfs inode stands for. */
static __always_inline __u32 nsfs_type(struct inode *inode)
{
	struct ns_common *ns = bpf_rdonly_cast(inode->i_private, bpf_core_type_id_kernel(struct ns_common));

	if (bpf_core_field_exists(ns->ns_type))
		return ns->ns_type;
	return BPF_CORE_READ((struct ns_common___typed *)ns, ops, type);
}

/*
 * What a namespace call of the current task changes (struct nsguard_syscall_event ns_*): for setns
 * the fd's namespace (nsfs) or, for a pidfd, the target task's namespace of each requested kind;
 * for unshare and clone the kinds created. Compared with the caller's current namespaces and the
 * host's.
 *
 * A global function, verified once on its own: inlined, every per-kind comparison forked the
 * caller's verification paths (the verdict bits are known constants on each path, so the states
 * never merged) and handle_call exceeded the verifier's instruction budget.
 */
__noinline int nsguard_resolve_ns_change(__u32 ns_call, const struct call_args *call, struct ns_change *c)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u32 host[NSGUARD_NS_COUNT] = {}, current[NSGUARD_NS_COUNT] = {};
	const __u64 *args;

	if (!call || !c)
		return 0;
	args = call->v;
	switch (ns_call) {
	case NSGUARD_NS_CALL_SETNS: {
		__u32 fd_kind = NSGUARD_FD_UNKNOWN, fd_ns_inum = 0;
		struct file *file = resolve_fd(task, (__s32)args[0], &fd_kind, &fd_ns_inum);

		c->fd_kind = fd_kind;
		c->fd_ns_inum = fd_ns_inum;
		if (!file)
			break;
		if (fd_kind == NSGUARD_FD_NSFS) {
			__u32 kinds = ns_kinds_of(nsfs_type(file->f_inode));

			c->kinds = kinds;
			for (int i = 0; i < NSGUARD_NS_COUNT; i++)
				if (kinds & NS_BIT(i))
					c->target[i] = fd_ns_inum;
		} else if (fd_kind == NSGUARD_FD_PIDFD) {
			/* pidfs keeps the struct pid in the inode (6.14+: pidfd_pid() reads i_private); the
			 * first pidfs kernels kept it in the file. */
			void *pid_ptr = file->f_inode->i_private ?: file->private_data;
			struct pid *pid = bpf_rdonly_cast(pid_ptr, bpf_core_type_id_kernel(struct pid));
			struct task_struct *target = bpf_task_from_pid(upid_at(pid, 0)->nr);

			c->kinds = ns_kinds_of(args[1]);
			if (target) {
				fill_namespaces(target, c->target);
				bpf_task_release(target);
			}
			c->target[NSGUARD_NS_PID_FOR_CHILDREN] = 0;
			c->target[NSGUARD_NS_TIME_FOR_CHILDREN] = 0;
			for (int i = 0; i < NSGUARD_NS_COUNT; i++)
				if (!(c->kinds & NS_BIT(i)))
					c->target[i] = 0;
		}
		break;
	}
	case NSGUARD_NS_CALL_UNSHARE:
		c->kinds = c->created = ns_kinds_of(args[0]);
		break;
	case NSGUARD_NS_CALL_CLONE:
		c->kinds = c->created = ns_kinds_of(args[0] & ~(__u64)CSIGNAL);
		break;
	case NSGUARD_NS_CALL_CLONE3:
		c->kinds = c->created = ns_kinds_of(args[0]); /* args[0]: the flags (NSGUARD_SYSCALL_CLONE3_FLAGS) */
		break;
	default:
		return 0;
	}
	if (!c->kinds)
		return 0;
	host_namespaces(host);
	fill_namespaces(task, current);
	for (int i = 0; i < NSGUARD_NS_COUNT; i++) {
		if (!(c->kinds & NS_BIT(i)))
			continue;
		if (current[i] && current[i] == host[i])
			c->from_host |= NS_BIT(i);
		if (c->target[i] && c->target[i] == host[i])
			c->to_host |= NS_BIT(i);
	}
	return 0;
}

static const char nsfs_format[] = "%s:[%u]";

/* The nsfs name a namespace descriptor shows in /proc/PID/fd ("net:[4026531840]"): nsfs dentries
 * have no path of their own (the kernel's d_path makes this name up the same way). */
static __always_inline long nsfs_name(struct file *file, char *out)
{
	static const char names[8][8] = { "uts", "ipc", "mnt", "pid", "net", "time", "cgroup", "user" };
	__u32 kinds = ns_kinds_of(nsfs_type(file->f_inode));
	__u64 data[2] = { 0, file->f_inode->i_ino };
	int slot = -1;

	if (kinds & NS_BIT(NSGUARD_NS_UTS))
		slot = 0;
	else if (kinds & NS_BIT(NSGUARD_NS_IPC))
		slot = 1;
	else if (kinds & NS_BIT(NSGUARD_NS_MNT))
		slot = 2;
	else if (kinds & NS_BIT(NSGUARD_NS_PID))
		slot = 3;
	else if (kinds & NS_BIT(NSGUARD_NS_NET))
		slot = 4;
	else if (kinds & NS_BIT(NSGUARD_NS_TIME))
		slot = 5;
	else if (kinds & NS_BIT(NSGUARD_NS_CGROUP))
		slot = 6;
	else if (kinds & NS_BIT(NSGUARD_NS_USER))
		slot = 7;
	if (slot < 0)
		return -1;
	data[0] = (__u64)(long)names[slot & 7];
	long n = bpf_snprintf(out, NSGUARD_STRING_LEN, nsfs_format, data, sizeof(data));
	return n > 0 ? n - 1 : -1;
}

/*
 * The strings a hook reports and compares (struct nsguard_hook.strings), read once per call
 * before the selectors. A global function, verified once.
 */
__noinline int nsguard_read_strings(const struct nsguard_hook *hook, struct call_ctx *ctx)
{
	struct task_struct *task = bpf_get_current_task_btf();

	if (!hook || !ctx)
		return 0;
	for (int i = 0; i < NSGUARD_MAX_STRING_ARGS; i++) {
		if (i >= hook->string_count)
			break;
		const struct nsguard_string_arg *sa = &hook->strings[i];
		struct nsguard_arg_string *out = &ctx->strings[i];
		__u32 index = sa->index < NSGUARD_SYSCALL_ARGS ? sa->index : 0;
		__u64 arg = ctx->call.v[index];
		long n = -1;

		out->len = 0;
		out->flags = 0;
		/* The rate-limit key takes these first bytes: past a shorter string they must not be a
		 * previous call's. */
		__builtin_memset(out->data, 0, NSGUARD_RATE_ARG_BYTES);
		switch (sa->kind) {
		case NSGUARD_STRING_USER:
			n = bpf_probe_read_user_str(out->data, NSGUARD_STRING_LEN, (void *)arg);
			if (n > 0) {
				if (n == NSGUARD_STRING_LEN)
					out->flags |= NSGUARD_STRING_FLAG_TRUNCATED;
				n--;
			}
			break;
		case NSGUARD_STRING_FD_PATH: {
			__u32 fd_kind = NSGUARD_FD_UNKNOWN, inum = 0;
			struct file *file = resolve_fd(task, (__s32)arg, &fd_kind, &inum);
			bool truncated = false;

			if (!file)
				break;
			if (fd_kind == NSGUARD_FD_NSFS) {
				n = nsfs_name(file, out->data);
				break;
			}
			n = read_path_forward(&file->f_path, &task->fs->root, out->data, &truncated);
			if (truncated)
				out->flags |= NSGUARD_STRING_FLAG_TRUNCATED;
			break;
		}
		case NSGUARD_STRING_CHAR_BUF: {
			__u64 size = sa->size_arg >= 0 && sa->size_arg < NSGUARD_SYSCALL_ARGS ? ctx->call.v[sa->size_arg & 7] : 0;
			__u32 want = size > NSGUARD_STRING_LEN ? NSGUARD_STRING_LEN : size;

			if (size > NSGUARD_STRING_LEN)
				out->flags |= NSGUARD_STRING_FLAG_TRUNCATED;
			n = want && bpf_probe_read_user(out->data, want, (void *)arg) ? -1 : want;
			break;
		}
		}
		if (n < 0) {
			out->flags |= NSGUARD_STRING_FLAG_ERROR;
			n = 0;
		}
		out->len = n > NSGUARD_STRING_LEN ? NSGUARD_STRING_LEN : n;
	}
	return 0;
}

/* Post rateLimit: whether this call may post now (and if so, remember it). Same hook, selector,
 * scope and arguments (strings by their first NSGUARD_RATE_ARG_BYTES) within the interval are
 * suppressed, as Tetragon's rateLimit, which keys on the declared arguments' values only. */
static __always_inline bool rate_limit_allows(const struct nsguard_hook *hook, const struct nsguard_selector *sel,
					      __u32 hook_id, __u32 selector, struct call_ctx *ctx, __u64 now)
{
	struct nsguard_rate_key *key = &ctx->rate;
	__u64 *last;

	__builtin_memset(key, 0, sizeof(*key));
	key->hook_id = hook_id;
	key->selector = selector;
	key->scope_id = sel->rate_scope == NSGUARD_RATE_GLOBAL	? 0
			: sel->rate_scope == NSGUARD_RATE_PROCESS ? ctx->tgid
								  : ctx->tid;
	/* Only the declared integer arguments: undeclared registers are leftovers of the caller
	 * (setns reads two of six), and copying them made identical calls look different. */
	for (int i = 0; i < NSGUARD_SYSCALL_ARGS; i++)
		if (hook->rate_args & (1U << i))
			key->args[i] = ctx->call.v[i];
	/* Only the strings this hook read, and only their bytes: the per-CPU scratch keeps the slots
	 * of another hook's last call, and the bytes after a shorter string's end, which made the
	 * key differ between identical calls. */
	for (int s = 0; s < NSGUARD_MAX_STRING_ARGS; s++) {
		if (s >= hook->string_count)
			break;
		__u32 len = ctx->strings[s].len;

		for (int j = 0; j < NSGUARD_RATE_ARG_BYTES; j++)
			if (j < len)
				key->strings[s * NSGUARD_RATE_ARG_BYTES + j] = ctx->strings[s].data[j];
	}
	last = bpf_map_lookup_elem(&nsguard_rate_limits, key);
	if (last && now - *last < sel->rate_limit_ns)
		return false;
	bpf_map_update_elem(&nsguard_rate_limits, key, &now, BPF_ANY);
	return true;
}

/* The record of one call, all but its strings (struct nsguard_syscall_event). */
static __always_inline void fill_call_record(struct nsguard_syscall_event *ev, __u32 size, struct task_struct *task,
					     __u32 hook_id, __u32 nr, __u32 action, __u32 selector,
					     __s32 signal_err, __u32 flags, const struct call_ctx *ctx)
{
	const struct ns_change *change = &ctx->change;

	ev->hdr.op = NSGUARD_OP_SYSCALL;
	ev->hdr.size = size;
	ev->hdr.ktime = bpf_ktime_get_boot_ns();
	fill_task(&ev->task, task);
	ev->hook_id = hook_id;
	ev->syscall_nr = nr;
	ev->action = action;
	ev->selector = selector;
	ev->signal_err = signal_err;
	ev->flags = flags;
	__builtin_memcpy(ev->args, ctx->call.v, sizeof(ev->args));
	ev->fd_kind = change->fd_kind;
	ev->fd_ns_inum = change->fd_ns_inum;
	ev->ns_kinds = change->kinds;
	ev->ns_created = change->created;
	ev->ns_to_host = change->to_host;
	ev->ns_from_host = change->from_host;
	__builtin_memcpy(ev->ns_target, change->target, sizeof(ev->ns_target));
}

/*
 * Return probes (hooks with NSGUARD_HOOK_FLAG_RETURN, `return: true`). At the call, a call the
 * selectors match is not posted: its record, complete but for the return value, waits here keyed
 * by thread and hook, and the tp_btf/sys_exit program (nsguard_return, attached only while such a
 * hook is loaded: it runs on every syscall of the node) posts it when the same thread returns
 * from the same syscall. A thread is in one syscall at a time, so thread + hook names one call.
 * Not preallocated: memory is used only by calls in flight, and an update into a full table fails
 * (counted as a lost event) instead of silently evicting another thread's call as an LRU would.
 */
struct pending_key {
	__u32 tid;
	__u32 hook_id;
};

struct pending_call {
	__u64 start_time; /* the thread's task->start_time: a tid reused by a new thread is not this call */
	__u32 size;	  /* bytes of call used: sizeof(struct nsguard_syscall_event) or the strings form */
	__u32 pad;
	struct nsguard_syscall_strings_event call;
};

#define NSGUARD_MAX_PENDING_RETURNS 4096

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NSGUARD_MAX_PENDING_RETURNS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct pending_key);
	__type(value, struct pending_call);
} nsguard_pending_returns SEC(".maps");

/* Where a pending call is built before it is copied into nsguard_pending_returns (too big for the stack). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pending_call);
} nsguard_pending_scratch SEC(".maps");

/* A matched call of a return hook: keep its record until the thread returns from the syscall. */
static __always_inline void stash_call(struct task_struct *task, __u32 hook_id, __u32 nr, __u32 action,
				       __u32 selector, __s32 signal_err, __u32 flags, const struct call_ctx *ctx,
				       bool strings)
{
	struct pending_key key = { .tid = task->pid, .hook_id = hook_id };
	__u32 zero = 0;
	struct pending_call *p = bpf_map_lookup_elem(&nsguard_pending_scratch, &zero);

	if (!p)
		return;
	p->start_time = task->start_time;
	p->size = strings ? sizeof(struct nsguard_syscall_strings_event) : sizeof(struct nsguard_syscall_event);
	p->pad = 0;
	fill_call_record(&p->call.call, p->size, task, hook_id, nr, action, selector, signal_err,
			 flags | NSGUARD_SYSCALL_RETURN, ctx);
	if (strings)
		__builtin_memcpy(p->call.strings, ctx->strings, sizeof(ctx->strings));
	if (bpf_map_update_elem(&nsguard_pending_returns, &key, p, BPF_ANY))
		count(NSGUARD_CNT_RINGBUF_FULL);
}

/*
 * One call of a hooked syscall, for one policy hook: selectors, action, event. A global function:
 * the dispatcher runs it once per hook on the syscall, and verified in the caller's context its
 * branches (strings, namespace change, signals, rate limit, record size) multiplied by the hook
 * loop's iterations took ~200k verifier steps; on its own it is verified once.
 */
__noinline int nsguard_handle_call(__u32 hook_id, __u32 nr, const struct call_args *regs, __u32 flags)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct nsguard_hook *hook = bpf_map_lookup_elem(&nsguard_hooks, &hook_id);
	__u32 action = NSGUARD_ACTION_POST, selector = 0, signal = 0, zero = 0;
	struct nsguard_selector *matched = NULL;
	struct call_ctx *ctx;
	bool resolved = false;
	__u64 *args;

	if (!regs || !hook || !hook->enabled)
		return 0;
	/* Workload scope (TracingPolicyNamespaced, podSelector, containerSelector) before anything else. */
	if (hook->scope_id && !in_scope(hook->scope_id, task)) {
		count(NSGUARD_CNT_FILTERED);
		return 0;
	}
	ctx = bpf_map_lookup_elem(&nsguard_call_ctx, &zero);
	if (!ctx)
		return 0;
	args = ctx->call.v;
	__builtin_memcpy(args, regs->v, sizeof(ctx->call));
	ctx->tgid = task->tgid;
	ctx->tid = task->pid;
	ctx->nspid = 0;
	ctx->have_task = 0;
	__builtin_memset(&ctx->change, 0, sizeof(ctx->change));
	if (hook->ns_call == NSGUARD_NS_CALL_CLONE3) {
		__u64 clone_flags = 0;

		/* 32-bit callers pass a 32-bit pointer, zero-extended in the register. */
		bpf_probe_read_user(&clone_flags, sizeof(clone_flags), (void *)args[0]);
		args[0] = clone_flags;
		flags |= NSGUARD_SYSCALL_CLONE3_FLAGS;
	}
	if (hook->string_count && hook->flags & NSGUARD_HOOK_FLAG_STRINGS_FIRST)
		nsguard_read_strings(hook, ctx);
	if (hook->ns_call && hook->flags & NSGUARD_HOOK_FLAG_CHANGE_FIRST) {
		nsguard_resolve_ns_change(hook->ns_call, &ctx->call, &ctx->change);
		resolved = true;
	}
	if (hook->selector_count) {
		ctx->nspid = task_nspid(task);
		for (int i = 0; i < NSGUARD_MAX_SELECTORS; i++) {
			if (i >= hook->selector_count)
				break;
			if (nsguard_selector_matches(&hook->selectors[i], ctx)) {
				matched = &hook->selectors[i];
				action = matched->action;
				signal = matched->signal;
				selector = i + 1;
				break;
			}
		}
		if (!matched) {
			count(NSGUARD_CNT_FILTERED);
			return 0;
		}
	}

	__s32 signal_err = 0;
	if (action == NSGUARD_ACTION_SIGKILL || action == NSGUARD_ACTION_SIGNAL) {
		signal_err = bpf_send_signal(action == NSGUARD_ACTION_SIGKILL ? SIGKILL : signal);
		count(signal_err ? NSGUARD_CNT_SIGKILL_ERR : NSGUARD_CNT_SIGKILL);
	}
	if (action == NSGUARD_ACTION_NOPOST)
		return 0;
	/* The call is reported: its strings now, unless the selectors needed them already. */
	if (hook->string_count && !(hook->flags & NSGUARD_HOOK_FLAG_STRINGS_FIRST))
		nsguard_read_strings(hook, ctx);
	/* Return hooks rate-limit at the return, after matchReturnArgs: a call filtered there must
	 * not use up the interval. */
	bool at_return = hook->flags & NSGUARD_HOOK_FLAG_RETURN;

	if (!at_return && matched && matched->rate_limit_ns &&
	    !rate_limit_allows(hook, matched, hook_id, selector, ctx, bpf_ktime_get_boot_ns())) {
		count(NSGUARD_CNT_RATE_LIMITED);
		return 0;
	}

	struct ns_change *change = &ctx->change;

	if (hook->ns_call && !resolved)
		nsguard_resolve_ns_change(hook->ns_call, &ctx->call, change);
	else if (!hook->ns_call && hook->fd_arg >= 0 && hook->fd_arg < NSGUARD_SYSCALL_ARGS)
		resolve_fd(task, (__s32)args[hook->fd_arg & 7], &change->fd_kind, &change->fd_ns_inum);

	if (at_return) {
		/* Throttling, like posting, happens at the return. */
		stash_call(task, hook_id, nr, action, selector, signal_err, flags, ctx, hook->string_count != 0);
		return 0;
	}

	/* Priority records are never throttled and may use the ring's headroom: enforcement (the
	 * caller was just signalled; the report must not be lost to someone else's flood) and entries
	 * from a container's namespace into the host's — the escape a flood must not hide. */
	bool priority = action == NSGUARD_ACTION_SIGKILL || action == NSGUARD_ACTION_SIGNAL ||
			(change->to_host & ~change->from_host);
	struct throttle_sources src = {};

	if (!priority && throttle_suppress(task, &src))
		return 0;

	struct nsguard_syscall_event *ev;
	__u32 size = hook->string_count ? sizeof(struct nsguard_syscall_strings_event) : sizeof(*ev);

	if (hook->string_count)
		ev = reserve_event(sizeof(struct nsguard_syscall_strings_event));
	else
		ev = reserve_event(sizeof(*ev));
	throttle_admitted(&src, ev != NULL);
	if (!ev)
		return 0;
	fill_call_record(ev, size, task, hook_id, nr, action, selector, signal_err, flags, ctx);
	if (size == sizeof(struct nsguard_syscall_strings_event))
		__builtin_memcpy(((struct nsguard_syscall_strings_event *)ev)->strings, ctx->strings,
				 sizeof(ctx->strings));
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
	struct call_args call;
	__u64 *args = call.v;
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
		nsguard_handle_call(ids[i], nr, &call, flags);
	}
	return 0;
}

/*
 * A return hook's pending call, at the thread's return from syscall nr (see stash_call): the
 * matched selector's matchReturnArgs on the return value, its return action and rateLimit, then
 * the record with struct nsguard_syscall_return. A global function, verified once.
 */
__noinline int nsguard_handle_return(__u32 hook_id, __u32 nr, __s64 ret)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct pending_key key = { .tid = task->pid, .hook_id = hook_id };
	struct pending_call *p = bpf_map_lookup_elem(&nsguard_pending_returns, &key);
	__u32 return_action = NSGUARD_ACTION_POST, zero = 0;
	struct nsguard_syscall_event *call;
	struct nsguard_syscall_return *tail;

	if (!p)
		return 0;
	call = &p->call.call;
	/* A thread that left its call without returning (it exited in it) and whose tid is now
	 * another thread's leaves a stale entry: never report it as this call. */
	if (p->start_time != task->start_time || call->syscall_nr != nr)
		goto done;
	struct nsguard_hook *hook = bpf_map_lookup_elem(&nsguard_hooks, &hook_id);

	if (!hook || !hook->enabled)
		goto done;
	__u32 selector = call->selector;

	if (selector) {
		__u32 index = selector - 1;

		if (index >= NSGUARD_MAX_SELECTORS)
			goto done;
		const struct nsguard_selector *sel = &hook->selectors[index];
		struct call_args value = { .v = { (__u64)ret } };

		for (int i = 0; i < NSGUARD_MAX_RETURN_ARG_FILTERS; i++) {
			if (i >= sel->return_arg_count)
				break;
			if (!int_arg_matches(&sel->return_args[i], &value)) {
				count(NSGUARD_CNT_FILTERED);
				goto done;
			}
		}
		if (sel->return_action)
			return_action = sel->return_action;
		if (return_action == NSGUARD_ACTION_SIGKILL) {
			long err = bpf_send_signal(SIGKILL);

			count(err ? NSGUARD_CNT_SIGKILL_ERR : NSGUARD_CNT_SIGKILL);
		}
		if (return_action == NSGUARD_ACTION_NOPOST)
			goto done;
		if (sel->rate_limit_ns) {
			struct call_ctx *ctx = bpf_map_lookup_elem(&nsguard_call_ctx, &zero);

			if (!ctx)
				goto done;
			/* rate_limit_allows keys on the call's arguments and strings, as at the call. */
			__builtin_memcpy(ctx->call.v, call->args, sizeof(ctx->call.v));
			__builtin_memcpy(ctx->strings, p->call.strings, sizeof(ctx->strings));
			ctx->tgid = call->task.pid;
			ctx->tid = call->task.tid;
			if (!rate_limit_allows(hook, sel, hook_id, selector, ctx, bpf_ktime_get_boot_ns())) {
				count(NSGUARD_CNT_RATE_LIMITED);
				goto done;
			}
		}
	}

	/* Priority as at the call (handle_call), and a kill at the return is enforcement too. */
	bool priority = call->action == NSGUARD_ACTION_SIGKILL || call->action == NSGUARD_ACTION_SIGNAL ||
			return_action == NSGUARD_ACTION_SIGKILL || (call->ns_to_host & ~call->ns_from_host);
	struct throttle_sources src = {};

	if (!priority && throttle_suppress(task, &src))
		goto done;
	if (p->size == sizeof(struct nsguard_syscall_strings_event)) {
		struct nsguard_syscall_strings_return_event *ev = reserve_event(sizeof(*ev));

		throttle_admitted(&src, ev != NULL);
		if (!ev)
			goto done;
		__builtin_memcpy(&ev->call, &p->call, sizeof(ev->call));
		ev->call.call.hdr.size = sizeof(*ev);
		tail = &ev->ret;
		tail->ret = ret;
		tail->return_action = return_action;
		tail->pad = 0;
		submit_event(ev);
	} else {
		struct nsguard_syscall_return_event *ev = reserve_event(sizeof(*ev));

		throttle_admitted(&src, ev != NULL);
		if (!ev)
			goto done;
		__builtin_memcpy(&ev->call, call, sizeof(ev->call));
		ev->call.hdr.size = sizeof(*ev);
		tail = &ev->ret;
		tail->ret = ret;
		tail->return_action = return_action;
		tail->pad = 0;
		submit_event(ev);
	}
done:
	/* Last: the record was copied out of the entry above, which the delete frees. */
	bpf_map_delete_elem(&nsguard_pending_returns, &key);
	return 0;
}

/*
 * Every syscall of the node returns through here while a return hook is loaded (the sensor
 * attaches it only then). As the dispatcher, a number nobody hooks costs one array lookup; the
 * 32-bit entry's TS_COMPAT is still set here (it is cleared on the way to user space).
 */
SEC("tp_btf/sys_exit")
int BPF_PROG(nsguard_return, struct pt_regs *regs, long ret)
{
#if defined(__TARGET_ARCH_x86)
	__u32 nr = regs->orig_ax;
#elif defined(__TARGET_ARCH_arm64)
	__u32 nr = regs->syscallno;
#else
#error "syscall number register: add this architecture"
#endif
	struct nsguard_syscall_hooks *hooks = bpf_map_lookup_elem(&nsguard_syscall_hooks, &nr);

	if (!hooks || !(hooks->count | hooks->compat_count))
		return 0;

	__u32 n = hooks->count;
	__u32 *ids = hooks->hook_ids;

#if defined(__TARGET_ARCH_x86)
	struct task_struct *task = bpf_get_current_task_btf();

	if (task->thread_info.status & TS_COMPAT) {
		n = hooks->compat_count;
		ids = hooks->compat_hook_ids;
	}
#endif
	for (int i = 0; i < NSGUARD_MAX_SYSCALL_HOOKS; i++) {
		if (i >= n)
			break;
		nsguard_handle_return(ids[i], nr, ret);
	}
	return 0;
}
