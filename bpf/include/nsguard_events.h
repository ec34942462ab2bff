/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * THE shared header: every struct that crosses the kernel/user boundary (ring buffer records and
 * map values) is defined here and only here. It is included by the BPF programs (bpf/NAME.bpf.c,
 * after vmlinux.h) and by the native addon (native/src/decode.cc, after <linux/types.h>), which
 * static_asserts sizes and offsets. TypeScript never re-declares these offsets.
 *
 * Rules: fixed-width types only; every struct is naturally aligned with explicit padding (no
 * `packed`), so BPF and C++ agree without compiler-specific attributes.
 */
#ifndef NSGUARD_EVENTS_H
#define NSGUARD_EVENTS_H

#define NSGUARD_COMM_LEN 16
#define NSGUARD_CGROUP_NAME_LEN 128
#define NSGUARD_FILENAME_LEN 256
#define NSGUARD_CWD_LEN 256
#define NSGUARD_ARGS_LEN 1024
#define NSGUARD_SYSCALL_ARGS 6
#define NSGUARD_MAX_SELECTORS 5
#define NSGUARD_MAX_PID_VALUES 4
/* Depth of the in-kernel parent walk for matchPIDs followForks. */
#define NSGUARD_FOLLOW_DEPTH 8
/* Bytes of a string the kernel compares (an argument, a file's path, a binary): the data of a
 * string-map key after its filter id (struct nsguard_string_key). Longer strings are compared on
 * their first NSGUARD_STRING_LEN bytes. */
#define NSGUARD_STRING_LEN 248
/* String arguments a hook reads, reports and compares (struct nsguard_hook.strings). */
#define NSGUARD_MAX_STRING_ARGS 2

/* Record kinds on the ring buffer. 0 is reserved so a zeroed record is never valid. */
enum nsguard_op {
	NSGUARD_OP_EXEC = 1,
	NSGUARD_OP_CLONE = 2,
	NSGUARD_OP_EXIT = 3,
	NSGUARD_OP_SYSCALL = 4,
};

/* Namespace slots, in the field order of tetragon.Namespaces (uts=1 … user=10). */
enum nsguard_ns_index {
	NSGUARD_NS_UTS = 0,
	NSGUARD_NS_IPC = 1,
	NSGUARD_NS_MNT = 2,
	NSGUARD_NS_PID = 3,
	NSGUARD_NS_PID_FOR_CHILDREN = 4,
	NSGUARD_NS_NET = 5,
	NSGUARD_NS_TIME = 6,
	NSGUARD_NS_TIME_FOR_CHILDREN = 7,
	NSGUARD_NS_CGROUP = 8,
	NSGUARD_NS_USER = 9,
	NSGUARD_NS_COUNT = 10,
};

/* Process flags, same bits as Tetragon's exec flags (tetragon-reference §3.2). */
#define NSGUARD_FLAG_EXECVE 0x01
#define NSGUARD_FLAG_PROCFS 0x04
#define NSGUARD_FLAG_TRUNC_ARGS 0x10
#define NSGUARD_FLAG_MISS 0x40
#define NSGUARD_FLAG_ERROR_FILENAME 0x100
#define NSGUARD_FLAG_ERROR_ARGS 0x200
#define NSGUARD_FLAG_NOCWD 0x800
#define NSGUARD_FLAG_ROOTCWD 0x1000
#define NSGUARD_FLAG_ERROR_CWD 0x2000
#define NSGUARD_FLAG_CLONE 0x4000
/* The process descends from the init (pid 1) of its pid namespace: set when its nspid is 1 or its
 * parent has it, inherited on fork (Tetragon's EVENT_IN_INIT_TREE, set_in_init_tree()). */
#define NSGUARD_FLAG_IN_INIT_TREE 0x2000000

/* Kinds of object a syscall's fd argument referred to (for setns: a namespace file or a pidfd). */
enum nsguard_fd_kind {
	NSGUARD_FD_UNKNOWN = 0,
	NSGUARD_FD_NSFS = 1,
	NSGUARD_FD_PIDFD = 2,
	NSGUARD_FD_OTHER = 3,
};

/*
 * What a namespace call does, resolved in the kernel at the call (struct nsguard_hook.ns_call,
 * set from the hooked syscall's name). Kinds are reported as bits 1 << enum nsguard_ns_index over
 * UTS, IPC, MNT, PID, NET, TIME, CGROUP and USER (the *_FOR_CHILDREN slots are never set: what
 * setns(CLONE_NEWPID) or unshare(CLONE_NEWPID) changes is reported as PID, and TIME likewise).
 */
enum nsguard_ns_call {
	NSGUARD_NS_CALL_NONE = 0,
	NSGUARD_NS_CALL_SETNS = 1,   /* setns(fd, nstype): enters an nsfs file's namespace, or a pidfd's */
	NSGUARD_NS_CALL_UNSHARE = 2, /* unshare(flags): creates namespaces */
	NSGUARD_NS_CALL_CLONE = 3,   /* clone(flags, ...): the child gets new namespaces */
	NSGUARD_NS_CALL_CLONE3 = 4,  /* clone3(&clone_args, size): as clone, flags in user memory */
};

/* Policy actions compiled into hook tables; values equal tetragon.KprobeAction. */
enum nsguard_action {
	NSGUARD_ACTION_POST = 1,
	NSGUARD_ACTION_SIGKILL = 3,
	NSGUARD_ACTION_NOPOST = 9,
	NSGUARD_ACTION_SIGNAL = 10, /* bpf_send_signal(selector.signal) and post */
};

enum nsguard_op_filter {
	NSGUARD_FILTER_IN = 1,
	NSGUARD_FILTER_NOTIN = 2,
};

#define NSGUARD_PID_FLAG_NSPID 0x1
#define NSGUARD_PID_FLAG_FOLLOW 0x2

/* Identity of a process: host tgid + boot-clock ns of its clone/exec (the exec_id's ktime). */
struct nsguard_process_key {
	__u32 pid;
	__u32 pad;
	__u64 ktime;
};

/* The calling task, filled the same way for every record. */
struct nsguard_task {
	struct nsguard_process_key key; /* from the kernel process table; ktime 0 = not tracked */
	__u32 pid;			/* tgid */
	__u32 tid;
	__u32 ppid;			/* real_parent's tgid */
	__u32 nspid;			/* tgid in its own pid namespace; 0 in the initial pid namespace */
	__u32 uid;
	__u32 euid;
	__u32 gid;
	__u32 auid;			/* loginuid; 4294967295 = unset */
	__u64 cgroup_id;		/* container cgroup: v2 kn id, or v1 memory id | NSGUARD_SOURCE_CGROUP_V1 */
	__u32 ns[NSGUARD_NS_COUNT];	/* namespace inums, enum nsguard_ns_index order */
	char comm[NSGUARD_COMM_LEN];
};

struct nsguard_header {
	__u32 op;   /* enum nsguard_op */
	__u32 size; /* bytes of the whole record */
	__u64 ktime; /* bpf_ktime_get_boot_ns() when the record was made */
};

/* A task's credentials (struct cred), for Tetragon's --enable-process-cred: ProcessCredentials
 * and Process.cap. Capability sets are kernel_cap_t bit masks (bit n = capability n). */
struct nsguard_creds {
	__u32 uid;
	__u32 gid;
	__u32 euid;
	__u32 egid;
	__u32 suid;
	__u32 sgid;
	__u32 fsuid;
	__u32 fsgid;
	__u32 securebits; /* SECBIT_* */
	__u32 pad;
	__u64 cap_permitted;
	__u64 cap_effective;
	__u64 cap_inheritable;
};

struct nsguard_exec_event {
	struct nsguard_header hdr;
	struct nsguard_task task;
	struct nsguard_process_key parent;
	__u32 flags; /* NSGUARD_FLAG_* */
	__u16 filename_len;
	__u16 args_len; /* NUL-separated argv, argv[0] included (the decoder drops it) */
	__u16 cwd_len; /* components innermost first, NUL-separated (lib/path.bpf.h); 0 = "/" */
	__u16 cgroup_name_len;
	__u32 pad;
	struct nsguard_creds creds; /* after the exec: the new image's credentials */
	char filename[NSGUARD_FILENAME_LEN];
	char args[NSGUARD_ARGS_LEN];
	char cwd[NSGUARD_CWD_LEN];
	char cgroup_name[NSGUARD_CGROUP_NAME_LEN]; /* last component of the task's container cgroup */
};

/* A new process (not a thread): task is the child, parent the process it was forked from. */
struct nsguard_clone_event {
	struct nsguard_header hdr;
	struct nsguard_task task;
	struct nsguard_process_key parent;
	__u32 flags; /* NSGUARD_FLAG_CLONE, | NSGUARD_FLAG_IN_INIT_TREE */
	__u32 pad;
	struct nsguard_creds creds;
};

struct nsguard_exit_event {
	struct nsguard_header hdr;
	struct nsguard_task task;
	__u32 exit_code; /* wait status: (code << 8) | signal */
	__u32 pad;
};

struct nsguard_syscall_event {
	struct nsguard_header hdr;
	struct nsguard_task task;
	__u32 hook_id;	   /* attach cookie: which policy hook fired */
	__u32 syscall_nr;
	__u32 action;	   /* enum nsguard_action taken */
	__u32 selector;	   /* 1-based index of the matching selector; 0 = hook has no selectors */
	__u64 args[NSGUARD_SYSCALL_ARGS];
	__u32 fd_kind;	   /* enum nsguard_fd_kind of the hook's fd argument, if it has one */
	__u32 fd_ns_inum;  /* namespace inum the fd refers to (nsfs), else 0 */
	__s32 signal_err;  /* bpf_send_signal result when action is SIGKILL */
	__u32 flags;	   /* NSGUARD_SYSCALL_* */
	/* Namespace calls (hook ns_call != NONE); kind bits as in enum nsguard_ns_call's comment.
	 * The caller's namespace of each kind before the call is task.ns. */
	__u32 ns_kinds;	    /* kinds the call changes */
	__u32 ns_created;   /* of ns_kinds: created (unshare, clone); the others are entered (setns) */
	__u32 ns_to_host;   /* of ns_kinds entered: the target is the host's (the kernel's initial) namespace */
	__u32 ns_from_host; /* of ns_kinds: the caller's namespace of that kind is the host's */
	__u32 ns_target[NSGUARD_NS_COUNT]; /* inums of the namespaces entered, by enum nsguard_ns_index */
};

/* A string argument as read at the call (struct nsguard_hook.strings). */
#define NSGUARD_STRING_FLAG_TRUNCATED 0x1 /* longer than NSGUARD_STRING_LEN (char_buf: than asked) */
#define NSGUARD_STRING_FLAG_ERROR 0x2	  /* could not be read (bad pointer, closed descriptor) */
struct nsguard_arg_string {
	__u32 len;   /* bytes of data, without a NUL */
	__u32 flags; /* NSGUARD_STRING_FLAG_* */
	char data[NSGUARD_STRING_LEN];
};

/* A syscall record of a hook with string arguments: the record, then one string per
 * struct nsguard_hook.strings entry (hdr.size says which form a record has). */
struct nsguard_syscall_strings_event {
	struct nsguard_syscall_event call;
	struct nsguard_arg_string strings[NSGUARD_MAX_STRING_ARGS];
};

/* The call came through the 32-bit entry (int 0x80 / ia32 ABI); syscall_nr is the ia32 number. */
#define NSGUARD_SYSCALL_COMPAT 0x1
/* clone3: args[0] holds clone_args.flags, read from user memory, not the pointer to it — so
 * matchArgs and the reported argument see clone3's flags exactly as clone's. */
#define NSGUARD_SYSCALL_CLONE3_FLAGS 0x2
/* The record was made at the call's return (a hook with NSGUARD_HOOK_FLAG_RETURN): it ends with
 * struct nsguard_syscall_return (struct nsguard_syscall_return_event or
 * nsguard_syscall_strings_return_event; hdr.size says which). */
#define NSGUARD_SYSCALL_RETURN 0x4

/* The tail of a record made at the call's return (NSGUARD_SYSCALL_RETURN). */
struct nsguard_syscall_return {
	__s64 ret;	     /* what the syscall returned: a result, or -errno */
	__u32 return_action; /* enum nsguard_action taken at the return (matchReturnActions) */
	__u32 pad;
};

struct nsguard_syscall_return_event {
	struct nsguard_syscall_event call;
	struct nsguard_syscall_return ret;
};

struct nsguard_syscall_strings_return_event {
	struct nsguard_syscall_strings_event call;
	struct nsguard_syscall_return ret;
};

/* Syscall numbers covered by the dispatcher table (both ABIs; x86_64 and ia32 stay below 512). */
#define NSGUARD_SYSCALL_NR_MAX 1024
/* Policy hooks on one syscall number, per ABI (struct nsguard_syscall_hooks). */
#define NSGUARD_MAX_SYSCALL_HOOKS 8

/* Dispatcher table value (map nsguard_syscall_hooks, ARRAY, key = syscall number): the policy
 * hooks on the native syscall with that number and on the ia32 (32-bit entry) one. */
struct nsguard_syscall_hooks {
	__u32 count;
	__u32 compat_count;
	__u32 hook_ids[NSGUARD_MAX_SYSCALL_HOOKS];
	__u32 compat_hook_ids[NSGUARD_MAX_SYSCALL_HOOKS];
};

/* Kernel process table value (map nsguard_procs, key = tgid). The exec-time state is what
 * matchBinaries, matchNamespaceChanges and matchCapabilityChanges compare with. */
struct nsguard_proc {
	struct nsguard_process_key key;
	struct nsguard_process_key parent;
	__u32 nspid;
	__u32 flags;
	/* matchBinaries followChildren: bit n set = this process or an ancestor exec'd a binary that
	 * follow filter n (map nsguard_follow_filters) matches. Inherited on fork. */
	__u64 follow_bits;
	__u64 exec_caps[3];	       /* enum nsguard_cap_set order, at the last exec */
	__u32 exec_ns[NSGUARD_NS_COUNT]; /* namespace inums at the last exec */
	__u32 binary_len;	       /* bytes of binary, 0 = unknown */
	char binary[NSGUARD_STRING_LEN]; /* the exec'd binary (the interpreter for scripts) */
};

struct nsguard_pid_filter {
	__u32 op;    /* enum nsguard_op_filter; 0 = no matchPIDs in this selector */
	__u32 flags; /* NSGUARD_PID_FLAG_* */
	__u32 count;
	__u32 values[NSGUARD_MAX_PID_VALUES];
	__u32 pad;
};

/* matchArgs (Tetragon's operators of the same names) and, on strings, matchBinaries. */
enum nsguard_arg_op {
	NSGUARD_ARG_EQUAL = 1,	   /* the argument equals one of the values */
	NSGUARD_ARG_NOT_EQUAL = 2, /* the argument equals none of the values */
	NSGUARD_ARG_MASK = 3,	   /* the argument has a bit of one of the values set */
	NSGUARD_ARG_GT = 4,	   /* the argument is greater than values[0] */
	NSGUARD_ARG_LT = 5,	   /* the argument is less than values[0] */
	NSGUARD_ARG_PREFIX = 6,	   /* strings: one of the values is a prefix of the argument */
	NSGUARD_ARG_NOT_PREFIX = 7,
	NSGUARD_ARG_POSTFIX = 8,   /* strings: one of the values is a suffix of the argument */
	NSGUARD_ARG_NOT_POSTFIX = 9,
};
#define NSGUARD_MAX_ARG_FILTERS 5
/* matchReturnArgs entries per selector. */
#define NSGUARD_MAX_RETURN_ARG_FILTERS 2
#define NSGUARD_MAX_ARG_VALUES 4
/* The argument is 32 bits wide (int, uint): compare its low half only. */
#define NSGUARD_ARG_FLAG_32BIT 0x1
/* The argument is signed (int, long): sign-extend and compare as signed. */
#define NSGUARD_ARG_FLAG_SIGNED 0x2
/* Compare the string the hook read for this argument (struct nsguard_hook.strings[string_slot]:
 * a string from user memory, an fd's path, a buffer) against the values in the string maps under
 * filter_id. */
#define NSGUARD_ARG_FLAG_STRING 0x4

struct nsguard_arg_filter {
	__u32 op;    /* enum nsguard_arg_op */
	__u32 index; /* syscall argument, 0 .. NSGUARD_SYSCALL_ARGS - 1 */
	__u32 count; /* integer values used */
	__u32 flags; /* NSGUARD_ARG_FLAG_* */
	__u64 values[NSGUARD_MAX_ARG_VALUES];
	__u32 filter_id;   /* NSGUARD_ARG_FLAG_STRING: key of the values in the string maps */
	__u32 string_slot; /* NSGUARD_ARG_FLAG_STRING: index into struct nsguard_hook.strings */
};

/*
 * String values (matchArgs on strings, matchBinaries) live in two LPM tries shared by every
 * policy, under a filter id the agent allocates: nsguard_string_prefix holds Equal values with
 * their NUL (so a match means equality) and Prefix values without, nsguard_string_postfix the
 * Postfix values reversed. One lookup answers "does any value of this filter match", for any
 * number of values, and loading a policy creates no map.
 */
struct nsguard_string_key {
	__u32 prefixlen; /* bits: 32 (filter_id) + 8 * bytes of data that must match */
	__u32 filter_id;
	char data[NSGUARD_STRING_LEN];
};

/* matchBinaries: the process's binary (struct nsguard_proc.binary) against the filter's
 * values; op is an enum nsguard_arg_op on strings (In = EQUAL, NotIn = NOT_EQUAL). */
struct nsguard_binary_filter {
	__u32 op;	  /* 0 = no matchBinaries in this selector */
	__u32 filter_id;
	__u32 follow_bit; /* followChildren: 1 + the bit in nsguard_proc.follow_bits; 0 = no */
	__u32 pad;
};

/* matchBinaries followChildren filters (map nsguard_follow_filters, ARRAY, key = bit): checked
 * at every exec, the bit is set in the new process's follow_bits when its binary matches. */
#define NSGUARD_MAX_FOLLOW_FILTERS 64
struct nsguard_follow_filter {
	__u32 op;	 /* NSGUARD_ARG_EQUAL (In) or 0 = unused slot */
	__u32 filter_id;
};

/* matchNamespaces: the caller's namespace of one kind against inums (and the host's). */
#define NSGUARD_MAX_NS_FILTERS 10
#define NSGUARD_MAX_NS_VALUES 4
/* values include host_ns: the host's (the kernel's initial) namespace of that kind */
#define NSGUARD_NS_FILTER_HOST 0x1
struct nsguard_ns_filter {
	__u32 kind;  /* enum nsguard_ns_index */
	__u32 op;    /* enum nsguard_op_filter */
	__u32 count; /* inums used */
	__u32 flags; /* NSGUARD_NS_FILTER_* */
	__u32 values[NSGUARD_MAX_NS_VALUES];
};

/* Capability sets, as in matchCapabilities type (and struct nsguard_proc.exec_caps order). */
enum nsguard_cap_set {
	NSGUARD_CAP_EFFECTIVE = 0,
	NSGUARD_CAP_INHERITABLE = 1,
	NSGUARD_CAP_PERMITTED = 2,
};
/* isNamespaceCapability: only tasks outside the host's user namespace match (their
 * capabilities are namespaced). */
#define NSGUARD_CAP_FLAG_NAMESPACED 0x1
#define NSGUARD_MAX_CAP_FILTERS 4

/* matchCapabilities (the set holds one of mask's capabilities: In; none: NotIn) and
 * matchCapabilityChanges (one of mask's capabilities differs from the set at exec: In). */
struct nsguard_cap_filter {
	__u32 set;   /* enum nsguard_cap_set */
	__u32 op;    /* enum nsguard_op_filter */
	__u32 flags; /* NSGUARD_CAP_FLAG_* */
	__u32 pad;
	__u64 mask;  /* bit n = capability n */
};

/* Tetragon's rateLimitScope. */
enum nsguard_rate_scope {
	NSGUARD_RATE_THREAD = 0,
	NSGUARD_RATE_PROCESS = 1,
	NSGUARD_RATE_GLOBAL = 2,
};

/* Post rateLimit state (map nsguard_rate_limits, LRU hash): when this hook + selector + scope +
 * arguments last posted. Arguments are the declared integer registers (struct nsguard_hook.rate_args;
 * the others zero), strings by their first bytes (zero past the string and for unused slots). */
#define NSGUARD_RATE_ARG_BYTES 40
struct nsguard_rate_key {
	__u32 hook_id;
	__u32 selector;
	__u32 scope_id; /* tid, tgid or 0 by enum nsguard_rate_scope */
	__u32 pad;
	__u64 args[NSGUARD_SYSCALL_ARGS];
	char strings[NSGUARD_MAX_STRING_ARGS * NSGUARD_RATE_ARG_BYTES]; /* each string argument's first bytes */
};

struct nsguard_selector {
	struct nsguard_pid_filter pids;
	__u32 action;	 /* enum nsguard_action */
	__u32 arg_count; /* matchArgs entries, ANDed */
	struct nsguard_arg_filter args[NSGUARD_MAX_ARG_FILTERS];
	struct nsguard_binary_filter binary;
	__u32 ns_count;	 /* matchNamespaces entries, ANDed */
	__u32 cap_count; /* matchCapabilities entries, ANDed */
	struct nsguard_ns_filter ns[NSGUARD_MAX_NS_FILTERS];
	struct nsguard_cap_filter caps[NSGUARD_MAX_CAP_FILTERS];
	__u32 cap_change_count; /* matchCapabilityChanges entries, ANDed */
	/* matchNamespaceChanges: kinds (bits 1 << enum nsguard_ns_index) and op; 0 = none. */
	__u32 ns_change_op;
	__u32 ns_change_kinds;
	/* nsguard extension matchHostNamespaceEntry: the call enters the host's namespace of one of
	 * these kinds from a namespace that is not the host's (In), or of none of them (NotIn). */
	__u32 host_entry_op;
	__u32 host_entry_kinds;
	__u32 signal;	      /* NSGUARD_ACTION_SIGNAL: the signal (argSig) */
	__u64 rate_limit_ns;  /* Post rateLimit; 0 = none */
	__u32 rate_scope;     /* enum nsguard_rate_scope */
	__u32 pad;
	struct nsguard_cap_filter cap_changes[NSGUARD_MAX_CAP_FILTERS];
	/* Hooks with NSGUARD_HOOK_FLAG_RETURN, at the call's return, when this selector matched the
	 * call: matchReturnArgs entries (integer filters on the return value; index unused), ANDed,
	 * then return_action (matchReturnActions: POST, NOPOST or SIGKILL; 0 = POST). */
	__u32 return_arg_count;
	__u32 return_action;
	struct nsguard_arg_filter return_args[NSGUARD_MAX_RETURN_ARG_FILTERS];
};

/* How the kernel reads an argument reported (and matched) as a string. */
enum nsguard_string_kind {
	NSGUARD_STRING_NONE = 0,
	NSGUARD_STRING_USER = 1,     /* string, filename: NUL-terminated, in user memory */
	NSGUARD_STRING_FD_PATH = 2,  /* fd, file: the path of the open file the descriptor refers to */
	NSGUARD_STRING_CHAR_BUF = 3, /* char_buf: size_arg bytes of user memory */
};

struct nsguard_string_arg {
	__u32 kind;	/* enum nsguard_string_kind */
	__u32 index;	/* syscall argument */
	__s32 size_arg; /* NSGUARD_STRING_CHAR_BUF: the argument holding the byte count */
	__u32 pad;
};

/* The hook's selectors compare the namespace change of the call (matchHostNamespaceEntry), so
 * the kernel resolves it before the selectors. */
#define NSGUARD_HOOK_FLAG_CHANGE_FIRST 0x1
/* `return: true`: the hook reports at the call's return, with the return value. A call its
 * selectors match is kept per thread (map nsguard_pending_returns) instead of posted; the
 * tp_btf/sys_exit program (attached only while such a hook exists) applies the matched selector's
 * matchReturnArgs and return_action and posts it with struct nsguard_syscall_return. Signals of
 * matchActions are still sent at the call. */
#define NSGUARD_HOOK_FLAG_RETURN 0x2
/* The hook's selectors compare its string arguments (matchArgs on a string, file or buffer), so
 * the kernel reads them before the selectors; otherwise only once a selector matched and the call
 * is posted (a path walk per call the selectors drop would be wasted). */
#define NSGUARD_HOOK_FLAG_STRINGS_FIRST 0x4

/* Hook table value (map nsguard_hooks, key = hook id = attach cookie). */
struct nsguard_hook {
	__u32 enabled;
	__u32 selector_count; /* 0 = no selectors: every call is posted */
	__s32 fd_arg;	      /* index of an fd argument to resolve (setns: 0), -1 = none */
	__u32 ns_call;	      /* enum nsguard_ns_call */
	__u32 flags;	      /* NSGUARD_HOOK_FLAG_* */
	__u32 string_count;   /* strings used */
	struct nsguard_string_arg strings[NSGUARD_MAX_STRING_ARGS];
	struct nsguard_selector selectors[NSGUARD_MAX_SELECTORS];
	__u32 scope_id; /* 0 = every workload; else the policy's entries in nsguard_policy_cgroups */
	/* Post rateLimit: bit n = register argument n is part of the call as the policy declares it
	 * (an integer argument). The other registers hold what the caller left there, and string/fd
	 * arguments are compared by what was read (their first NSGUARD_RATE_ARG_BYTES), so neither
	 * is in the rate key. */
	__u32 rate_args;
};

/*
 * Workload scope of a policy (TracingPolicyNamespaced's namespace, spec.podSelector,
 * spec.containerSelector, spec.hostSelector), checked in the kernel before any selector
 * (bpf/lib/scope.bpf.h). Map nsguard_policy_cgroups (HASH, value u8, ignored) holds, per scope id,
 * the container cgroup ids (struct nsguard_task.cgroup_id) of the containers the policy selects;
 * user space keeps it equal to the containers whose pod matches.
 * A host process — one whose cgroup is not a known pod container's, i.e. has no entry under
 * NSGUARD_SCOPE_ALL_CONTAINERS — is in a scope only when the scope has the entry
 * NSGUARD_SCOPE_HOST_CGROUP (hostSelector: {}), as Tetragon's policy filter decides it.
 */
#define NSGUARD_SCOPE_ALL_CONTAINERS 0xffffffffU
#define NSGUARD_SCOPE_HOST_CGROUP 0xffffffffffffffffULL
#define NSGUARD_MAX_SCOPE_CGROUPS 65536

struct nsguard_scope_key {
	__u32 scope_id; /* struct nsguard_hook.scope_id, or NSGUARD_SCOPE_ALL_CONTAINERS */
	__u32 pad;
	__u64 cgroup_id; /* cgroup v2 kn id, or v1 memory cgroup id | NSGUARD_SOURCE_CGROUP_V1 */
};

/*
 * Reader wake-up handshake (map nsguard_reader_state, ARRAY of 1 entry). BPF submits records
 * without waking the reader (a wake-up costs the caller ~2 us); a reader about to block for long on
 * the ring buffer's epoll fd first sets sleeping = 1, and the next submit clears it and forces a
 * wake-up (BPF_RB_FORCE_WAKEUP), so an idle reader sleeps without polling yet wakes on the first
 * record.
 */
struct nsguard_reader_state {
	__u32 sleeping;
	__u32 pad;
};

/* Ring buffer nsguard_events, bytes. 8 MiB: ~38k syscall records or ~4.5k exec records of slack
 * while user space is busy. */
#define NSGUARD_RINGBUF_BYTES (8 * 1024 * 1024)

/*
 * Flood resistance (bpf/lib/throttle.bpf.h). Pressure is the ring's unread bytes; the bands:
 *   < LOW:        everything is admitted, nothing is accounted (the fast path).
 *   LOW..HIGH:    an event is suppressed when its cgroup AND its process are heavy.
 *   HIGH..MAX:    suppressed when its cgroup OR its process is heavy.
 *   >= MAX:       every ordinary event is suppressed: the rest is headroom for priority records
 *                 (enforcement, process lifecycle).
 * Heavy = more events in the current window than the fair share of that level (see throttle.bpf.h)
 * and more than NSGUARD_THROTTLE_MIN_BURST.
 */
#define NSGUARD_THROTTLE_LOW_BYTES (NSGUARD_RINGBUF_BYTES / 4)
#define NSGUARD_THROTTLE_HIGH_BYTES (NSGUARD_RINGBUF_BYTES / 2)
#define NSGUARD_THROTTLE_MAX_BYTES (NSGUARD_RINGBUF_BYTES / 8 * 7)
#define NSGUARD_THROTTLE_WINDOW_NS 100000000ULL /* 100 ms */
#define NSGUARD_THROTTLE_MIN_BURST 32
/* Set in nsguard_source_key.cgroup_id when the id is a cgroup v1 (memory controller) one, on
 * hybrid hosts where the task sits in the unified root: kernfs ids are per hierarchy, so v1 and v2
 * ids could collide. Bit 63 is otherwise the top of the kernfs generation, never set. */
#define NSGUARD_SOURCE_CGROUP_V1 (1ULL << 63)

/* Throttle window (map nsguard_throttle, ARRAY of 1 entry): totals of the current window, over
 * the events accounted under pressure. Reset lazily by the first event of a new window. */
struct nsguard_throttle_window {
	__u64 epoch;	 /* ktime / NSGUARD_THROTTLE_WINDOW_NS */
	__u64 events;	 /* events accounted in this window (admitted + suppressed) */
	__u32 cgroups;	 /* cgroup-level sources active in this window */
	__u32 processes; /* process-level sources active in this window */
};

/* Source of events (map nsguard_sources, LRU hash): a cgroup (pid 0) or a process in it. */
struct nsguard_source_key {
	__u64 cgroup_id; /* cgroup v2 kn id, or v1 memory cgroup id | NSGUARD_SOURCE_CGROUP_V1 */
	__u32 pid;	 /* tgid; 0 = the cgroup level */
	__u32 pad;
};

struct nsguard_source {
	__u64 epoch;		/* window the count below belongs to */
	__u64 count;		/* events accounted in that window */
	__u64 suppressed;	/* events suppressed, total since the entry was made */
	__u64 posted;		/* events admitted under pressure and submitted, since made */
	__u64 lost;		/* events admitted under pressure but the ring buffer was full */
	__u64 created_ktime;	/* boot-clock ns the entry was made */
	__u64 last_suppressed_ktime; /* boot-clock ns of the last suppression; 0 = never */
	__u32 cgroup_name_len;	/* cgroup-level entries: the container cgroup's name; else 0 */
	__u32 pad;
	char cgroup_name[NSGUARD_CGROUP_NAME_LEN];
};

/* Per-CPU counters (map nsguard_counters, array index). Reported through GetHealth/metrics. */
enum nsguard_counter {
	NSGUARD_CNT_EVENTS = 0,
	NSGUARD_CNT_RINGBUF_FULL = 1, /* event lost in the kernel: bpf_ringbuf_reserve failed, or (return
				       * hooks) the table of calls waiting for their return was full */
	NSGUARD_CNT_PROC_TABLE_FULL = 2,
	NSGUARD_CNT_SIGKILL = 3,
	NSGUARD_CNT_SIGKILL_ERR = 4,
	NSGUARD_CNT_FILTERED = 5, /* calls rejected by selectors in the kernel */
	NSGUARD_CNT_THROTTLED = 6, /* events suppressed by flood resistance (throttle.bpf.h) */
	NSGUARD_CNT_RATE_LIMITED = 7, /* posts suppressed by a selector's rateLimit */
	NSGUARD_CNT_MAX = 8,
};

#endif /* NSGUARD_EVENTS_H */
