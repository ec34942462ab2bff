/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Path of a `struct path` without bpf_d_path (which needs trampoline/LSM attach points this
 * kernel class refuses). Components are written innermost first, each NUL-terminated, e.g. the
 * cwd /usr/local/bin becomes "bin\0local\0usr\0"; the decoder reverses them. Writing forwards keeps
 * every write at a masked offset the verifier can bound.
 */
#ifndef NSGUARD_PATH_BPF_H
#define NSGUARD_PATH_BPF_H

#define NSGUARD_PATH_DEPTH 32

struct path_scratch {
	char buf[NSGUARD_CWD_LEN * 2]; /* twice the output so a masked write never runs past it */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct path_scratch);
} nsguard_path_scratch SEC(".maps");

struct path_walk {
	struct dentry *dentry;
	struct vfsmount *vfsmnt;
	struct mount *mnt;
	struct dentry *root_dentry;
	struct vfsmount *root_mnt;
	__u32 off;
	bool done;
	bool truncated;
	bool error;
};

/* What one climb step found (path_climb). */
enum path_climb_result {
	PATH_CLIMB_DONE,    /* at the walk's root or the global root: stop */
	PATH_CLIMB_CROSSED, /* crossed a mount to its mount point: go on, no component written */
	PATH_CLIMB_NAME,    /* *dentry is the next component; the caller then moves to *parent */
};

/*
 * The part of one step up the tree both walks share: at the walk's root or the global root the walk
 * is done; at a mount's root it crosses to the mount point; otherwise the step has a component.
 */
static __always_inline enum path_climb_result path_climb(struct path_walk *w, struct dentry **name,
							   struct dentry **parent)
{
	/* Copy to locals first: CO-RE reads must start from kernel types, not from struct path_walk. */
	struct dentry *dentry = w->dentry;
	struct vfsmount *vfsmnt = w->vfsmnt;
	struct mount *mnt = w->mnt;

	*parent = BPF_CORE_READ(dentry, d_parent);
	*name = dentry;
	if (dentry == w->root_dentry && vfsmnt == w->root_mnt) {
		w->done = true;
		return PATH_CLIMB_DONE;
	}
	if (dentry == BPF_CORE_READ(vfsmnt, mnt_root) || dentry == *parent) {
		struct mount *mnt_parent = BPF_CORE_READ(mnt, mnt_parent);

		if (mnt_parent == mnt) { /* the global root */
			w->done = true;
			return PATH_CLIMB_DONE;
		}
		w->dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
		w->mnt = mnt_parent;
		w->vfsmnt = (void *)mnt_parent + bpf_core_field_offset(struct mount, mnt);
		return PATH_CLIMB_CROSSED;
	}
	return PATH_CLIMB_NAME;
}

/* One step up the tree; bpf_loop callback so the verifier checks the body once instead of once
 * per unrolled iteration (an open-coded loop here exceeds the 1M-instruction budget). */
static long path_step(__u32 index, struct path_walk *w)
{
	__u32 zero = 0;
	struct path_scratch *scratch = bpf_map_lookup_elem(&nsguard_path_scratch, &zero);
	struct dentry *parent;
	struct dentry *dentry;

	if (!scratch) {
		w->error = true;
		return 1;
	}
	switch (path_climb(w, &dentry, &parent)) {
	case PATH_CLIMB_DONE:
		return 1;
	case PATH_CLIMB_CROSSED:
		return 0;
	case PATH_CLIMB_NAME:
		break;
	}
	const unsigned char *name = BPF_CORE_READ(dentry, d_name.name);
	long n = bpf_probe_read_kernel_str(&scratch->buf[w->off & (NSGUARD_CWD_LEN - 1)], NSGUARD_CWD_LEN,
					   name);
	if (n <= 0) {
		w->error = true;
		return 1;
	}
	w->off += n;
	if (w->off >= NSGUARD_CWD_LEN) {
		w->off = NSGUARD_CWD_LEN;
		w->truncated = true;
		return 1;
	}
	w->dentry = parent;
	return 0;
}

/* Returns the bytes written to out (0 = the path is the root); sets *truncated past
 * NSGUARD_CWD_LEN bytes or NSGUARD_PATH_DEPTH components. Negative on read errors. */
static __always_inline long read_path_components(struct path *path, struct path *root, char *out,
						 bool *truncated)
{
	__u32 zero = 0;
	struct path_scratch *scratch;
	struct path_walk w = {
		.dentry = BPF_CORE_READ(path, dentry),
		.vfsmnt = BPF_CORE_READ(path, mnt),
		.root_dentry = BPF_CORE_READ(root, dentry),
		.root_mnt = BPF_CORE_READ(root, mnt),
	};

	w.mnt = (void *)w.vfsmnt - bpf_core_field_offset(struct mount, mnt);
	bpf_loop(NSGUARD_PATH_DEPTH, path_step, &w, 0);
	*truncated = w.truncated || !w.done;
	scratch = bpf_map_lookup_elem(&nsguard_path_scratch, &zero);
	if (w.error || !scratch)
		return -1;
	bpf_probe_read_kernel(out, NSGUARD_CWD_LEN, scratch->buf);
	return w.off;
}

/*
 * The same walk writing the path forwards ("/usr/local/bin"), for string filters and file
 * arguments: each component is put in front of the ones already written, from the end of the
 * buffer backwards (as the kernel's d_path does), so no reversal pass is needed.
 */
#define PATH_FWD_MASK 255 /* offsets stay below NSGUARD_STRING_LEN (248) < 256 */
struct path_fwd_scratch {
	char buf[512]; /* a write starts below 256 and is at most 256 long */
	char name[NSGUARD_STRING_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct path_fwd_scratch);
} nsguard_path_fwd_scratch SEC(".maps");

static long path_fwd_step(__u32 index, struct path_walk *w)
{
	__u32 zero = 0;
	struct path_fwd_scratch *scratch = bpf_map_lookup_elem(&nsguard_path_fwd_scratch, &zero);
	struct dentry *parent;
	struct dentry *dentry;

	if (!scratch) {
		w->error = true;
		return 1;
	}
	switch (path_climb(w, &dentry, &parent)) {
	case PATH_CLIMB_DONE:
		return 1;
	case PATH_CLIMB_CROSSED:
		return 0;
	case PATH_CLIMB_NAME:
		break;
	}
	const unsigned char *name = BPF_CORE_READ(dentry, d_name.name);
	long n = bpf_probe_read_kernel_str(scratch->name, sizeof(scratch->name), name);
	if (n <= 0) {
		w->error = true;
		return 1;
	}
	__u32 len = n - 1;
	/* w->off: where the part written so far starts; a component takes "/" + its name. */
	if (len + 1 > w->off) {
		w->truncated = true;
		return 1;
	}
	w->off -= len + 1;
	__u32 at = w->off & PATH_FWD_MASK;
	scratch->buf[at] = '/';
	bpf_probe_read_kernel(&scratch->buf[(at + 1) & PATH_FWD_MASK], len & PATH_FWD_MASK, scratch->name);
	w->dentry = parent;
	return 0;
}

/* Writes the path of `path` as seen from `root` to out (NSGUARD_STRING_LEN bytes, not
 * NUL-terminated); returns its length, or -1 on read errors. *truncated: the leading components
 * did not fit (or were deeper than NSGUARD_PATH_DEPTH), so out holds the innermost ones. */
static __always_inline long read_path_forward(const struct path *path, const struct path *root, char *out,
					      bool *truncated)
{
	__u32 zero = 0;
	struct path_fwd_scratch *scratch;
	struct path_walk w = {
		.dentry = BPF_CORE_READ(path, dentry),
		.vfsmnt = BPF_CORE_READ(path, mnt),
		.root_dentry = BPF_CORE_READ(root, dentry),
		.root_mnt = BPF_CORE_READ(root, mnt),
		.off = NSGUARD_STRING_LEN,
	};

	w.mnt = (void *)w.vfsmnt - bpf_core_field_offset(struct mount, mnt);
	bpf_loop(NSGUARD_PATH_DEPTH, path_fwd_step, &w, 0);
	*truncated = w.truncated || !w.done;
	scratch = bpf_map_lookup_elem(&nsguard_path_fwd_scratch, &zero);
	if (w.error || !scratch)
		return -1;
	if (w.off >= NSGUARD_STRING_LEN) { /* the root itself */
		out[0] = '/';
		return 1;
	}
	__u32 len = NSGUARD_STRING_LEN - w.off;
	if (len > NSGUARD_STRING_LEN)
		return -1;
	bpf_probe_read_kernel(out, len, &scratch->buf[w.off & PATH_FWD_MASK]);
	return len;
}

#endif
