/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fuse-ops.c - inode numbers, permissions and sysfs I/O rules over FUSE.
 *
 * Every file is opened FOPEN_DIRECT_IO, so each read() and write() reaches
 * us (no page cache): a sysfs attribute is regenerated on every read and
 * every write() is one ->store(), exactly like kernfs. Entry and attribute
 * timeouts are 0 so links such as "driver" appear and vanish at once. */
#include "fuse-ops.h"

#include "tree.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* sysfs attributes take at most one page per write (kernfs
 * atomic_write_len) and report this size to stat(). */
#define SYSFS_PAGE 4096

struct FakesysFs {
    FakesysMachine *machine;
    GMutex lock;
    GHashTable *inodes;      /* ino -> Inode* */
    GHashTable *ino_by_path; /* path -> ino, for the stable ones */
    fuse_ino_t next_ino;
    struct timespec start;
};

/* Most nodes keep one inode number per path forever (the tree is
 * finite). Write-only attributes (bind, unbind, drivers_probe, reset...)
 * get a fresh inode on every lookup instead, hence a fresh kernel inode
 * per opener. FUSE holds the inode lock across a write, and an O_TRUNC
 * open (shell `>`, libvirt's virFileWriteStr) takes it exclusively, so
 * with one shared inode parallel unbinds through drivers/X/unbind would
 * queue behind each other; kernfs takes no inode lock and runs them
 * concurrently. Fresh inodes are freed on FORGET. */
typedef struct {
    char *path;
    guint64 nlookup;
    gboolean fresh;
} Inode;

typedef struct {
    char *name;
    mode_t mode;
    fuse_ino_t ino;
} DirEntry;

static void
inode_free(Inode *inode)
{
    g_free(inode->path);
    g_free(inode);
}

FakesysFs *
fakesys_fs_new(FakesysMachine *machine)
{
    FakesysFs *fs = g_new0(FakesysFs, 1);
    Inode *root = g_new0(Inode, 1);

    fs->machine = machine;
    g_mutex_init(&fs->lock);
    fs->inodes =
        g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, (GDestroyNotify)inode_free);
    fs->ino_by_path = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    root->path = g_strdup("");
    g_hash_table_insert(fs->inodes, g_memdup2(&(gint64){FUSE_ROOT_ID}, sizeof(gint64)), root);
    g_hash_table_insert(fs->ino_by_path, g_strdup(""),
                        g_memdup2(&(gint64){FUSE_ROOT_ID}, sizeof(gint64)));
    fs->next_ino = FUSE_ROOT_ID + 1;
    clock_gettime(CLOCK_REALTIME, &fs->start);
    return fs;
}

void
fakesys_fs_free(FakesysFs *fs)
{
    if (!fs)
        return;
    g_hash_table_unref(fs->ino_by_path);
    g_hash_table_unref(fs->inodes);
    g_mutex_clear(&fs->lock);
    g_free(fs);
}

/* fs->lock held. */
static fuse_ino_t
add_inode(FakesysFs *fs, const char *path, gboolean fresh)
{
    gint64 ino = (gint64)fs->next_ino++;
    Inode *inode = g_new0(Inode, 1);

    inode->path = g_strdup(path);
    inode->fresh = fresh;
    g_hash_table_insert(fs->inodes, g_memdup2(&ino, sizeof ino), inode);
    if (!fresh)
        g_hash_table_insert(fs->ino_by_path, g_strdup(path), g_memdup2(&ino, sizeof ino));
    return (fuse_ino_t)ino;
}

static fuse_ino_t
stable_ino(FakesysFs *fs, const char *path)
{
    gint64 *ino;
    fuse_ino_t result;

    g_mutex_lock(&fs->lock);
    ino = g_hash_table_lookup(fs->ino_by_path, path);
    result = ino ? (fuse_ino_t)*ino : add_inode(fs, path, FALSE);
    g_mutex_unlock(&fs->lock);
    return result;
}

/* The inode a LOOKUP reply hands to the kernel (counted for FORGET). */
static fuse_ino_t
lookup_ino(FakesysFs *fs, const char *path, const FakesysNode *n)
{
    fuse_ino_t ino;

    if (n->type != FAKESYS_NODE_FILE || (fakesys_node_mode(n) & 0444))
        return stable_ino(fs, path);
    g_mutex_lock(&fs->lock);
    ino = add_inode(fs, path, TRUE);
    ((Inode *)g_hash_table_lookup(fs->inodes, &(gint64){(gint64)ino}))->nlookup = 1;
    g_mutex_unlock(&fs->lock);
    return ino;
}

static void
forget_ino(FakesysFs *fs, fuse_ino_t ino, uint64_t nlookup)
{
    gint64 key = (gint64)ino;
    Inode *inode;

    g_mutex_lock(&fs->lock);
    inode = g_hash_table_lookup(fs->inodes, &key);
    if (inode && inode->fresh) {
        inode->nlookup -= MIN(nlookup, inode->nlookup);
        if (inode->nlookup == 0)
            g_hash_table_remove(fs->inodes, &key);
    }
    g_mutex_unlock(&fs->lock);
}

static char *
path_of_ino(FakesysFs *fs, fuse_ino_t ino)
{
    Inode *inode;
    char *path = NULL;

    g_mutex_lock(&fs->lock);
    inode = g_hash_table_lookup(fs->inodes, &(gint64){(gint64)ino});
    if (inode)
        path = g_strdup(inode->path);
    g_mutex_unlock(&fs->lock);
    return path;
}

static char *
child_path(const char *parent, const char *name)
{
    return *parent ? g_strconcat(parent, "/", name, NULL) : g_strdup(name);
}

/* What is at ino right now; FALSE if it vanished (e.g. an unbound
 * device's driver link). */
static gboolean
node_of_ino(FakesysFs *fs, fuse_ino_t ino, FakesysNode *out)
{
    g_autofree char *path = path_of_ino(fs, ino);

    return path && fakesys_tree_lookup(fs->machine, path, out);
}

static void
fill_stat(FakesysFs *fs, const FakesysNode *n, fuse_ino_t ino, struct stat *st)
{
    memset(st, 0, sizeof *st);
    st->st_ino = ino;
    st->st_mode = fakesys_node_mode(n);
    st->st_nlink = n->type == FAKESYS_NODE_DIR ? 2 : 1;
    st->st_blksize = SYSFS_PAGE;
    if (n->type == FAKESYS_NODE_LINK)
        st->st_size = (off_t)strlen(n->link_target);
    else if (fakesys_node_is_log(n))
        st->st_size = (off_t)fakesys_event_log_size(fs->machine->log);
    else if (n->type == FAKESYS_NODE_FILE)
        st->st_size = SYSFS_PAGE;
    st->st_atim = st->st_mtim = st->st_ctim = fs->start;
}

static gboolean
req_interrupted(gpointer req)
{
    return fuse_req_interrupted(req) != 0;
}

static FakesysCaller
caller_of(fuse_req_t req)
{
    return (FakesysCaller){req_interrupted, req};
}

/* kernfs_fop_open(): a file opened for writing needs a write bit and a
 * ->store(), for reading a read bit and a ->show(), even for root. Then
 * the DAC check of a root-owned file for everyone else. */
static int
check_file_access(const FakesysNode *n, gboolean want_read, gboolean want_write, uid_t uid)
{
    mode_t mode = fakesys_node_mode(n);

    if (want_write && (!(mode & 0222) || !fakesys_node_has_store(n)))
        return -EACCES;
    if (want_read && (!(mode & 0444) || !fakesys_node_has_show(n)))
        return -EACCES;
    if (uid != 0 && ((want_write && !(mode & S_IWOTH)) || (want_read && !(mode & S_IROTH))))
        return -EACCES;
    return 0;
}

static void
op_init(void *userdata, struct fuse_conn_info *conn)
{
    (void)userdata;
    /* Let O_TRUNC arrive as a SETATTR, the one place that handles
     * truncation (permission check, clearing fakesys.log); with atomic
     * O_TRUNC the kernel would also believe every attribute is now empty. */
    conn->want &= ~FUSE_CAP_ATOMIC_O_TRUNC;
}

static void
op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    FakesysFs *fs = fuse_req_userdata(req);
    g_autofree char *parent_path = path_of_ino(fs, parent);
    g_autofree char *path = NULL;
    struct fuse_entry_param e;
    FakesysNode n;

    if (!parent_path) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    path = child_path(parent_path, name);
    if (!fakesys_tree_lookup(fs->machine, path, &n)) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    memset(&e, 0, sizeof e);
    e.ino = lookup_ino(fs, path, &n);
    fill_stat(fs, &n, e.ino, &e.attr);
    fakesys_node_clear(&n);
    fuse_reply_entry(req, &e);
}

static void
op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
    forget_ino(fuse_req_userdata(req), ino, nlookup);
    fuse_reply_none(req);
}

static void
op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
    for (size_t i = 0; i < count; i++)
        forget_ino(fuse_req_userdata(req), forgets[i].ino, forgets[i].nlookup);
    fuse_reply_none(req);
}

static void
op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    FakesysFs *fs = fuse_req_userdata(req);
    struct stat st;
    FakesysNode n;

    (void)fi;
    if (!node_of_ino(fs, ino, &n)) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    fill_stat(fs, &n, ino, &st);
    fakesys_node_clear(&n);
    fuse_reply_attr(req, &st, 0);
}

/* Truncation is how `echo x > attr` opens a file: accept it on writable
 * attributes and ignore it, as sysfs does; it clears the event log. */
static void
op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set, struct fuse_file_info *fi)
{
    FakesysFs *fs = fuse_req_userdata(req);
    const struct fuse_ctx *ctx = fuse_req_ctx(req);
    struct stat st;
    FakesysNode n;
    int err = 0;

    (void)fi;
    if (!node_of_ino(fs, ino, &n)) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    if (to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID))
        err = EPERM;
    else if (to_set & FUSE_SET_ATTR_SIZE) {
        if (n.type == FAKESYS_NODE_DIR)
            err = EISDIR;
        else if (n.type != FAKESYS_NODE_FILE || check_file_access(&n, FALSE, TRUE, ctx->uid) < 0)
            err = EACCES;
        else if (fakesys_node_is_log(&n) && attr->st_size == 0)
            fakesys_event_log_clear(fs->machine->log);
    }
    if (err)
        fuse_reply_err(req, err);
    else {
        fill_stat(fs, &n, ino, &st);
        fuse_reply_attr(req, &st, 0);
    }
    fakesys_node_clear(&n);
}

static void
op_readlink(fuse_req_t req, fuse_ino_t ino)
{
    FakesysFs *fs = fuse_req_userdata(req);
    FakesysNode n;

    if (!node_of_ino(fs, ino, &n)) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    if (n.type == FAKESYS_NODE_LINK)
        fuse_reply_readlink(req, n.link_target);
    else
        fuse_reply_err(req, EINVAL);
    fakesys_node_clear(&n);
}

static void
op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    FakesysFs *fs = fuse_req_userdata(req);
    const struct fuse_ctx *ctx = fuse_req_ctx(req);
    int acc = fi->flags & O_ACCMODE;
    FakesysNode n;
    int r;

    if (!node_of_ino(fs, ino, &n)) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    if (n.type == FAKESYS_NODE_DIR)
        r = -EISDIR;
    else
        r = check_file_access(&n, acc != O_WRONLY, acc != O_RDONLY, ctx->uid);
    fakesys_node_clear(&n);
    if (r < 0) {
        fuse_reply_err(req, -r);
        return;
    }
    fi->direct_io = 1;
    fuse_reply_open(req, fi);
}

static void
op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
    FakesysFs *fs = fuse_req_userdata(req);
    FakesysCaller caller = caller_of(req);
    g_autoptr(GString) text = NULL;
    FakesysNode n;
    int r;

    (void)fi;
    if (!node_of_ino(fs, ino, &n)) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    if (fakesys_node_is_log(&n)) {
        g_autofree char *buf = g_malloc(size ? size : 1);
        gsize got = fakesys_event_log_read(fs->machine->log, off, size, buf);
        fakesys_node_clear(&n);
        fuse_reply_buf(req, buf, got);
        return;
    }
    text = g_string_new(NULL);
    r = fakesys_node_show(fs->machine, &n, text, &caller);
    fakesys_node_clear(&n);
    if (r < 0)
        fuse_reply_err(req, -r);
    else if (off >= (off_t)text->len)
        fuse_reply_buf(req, NULL, 0);
    else
        fuse_reply_buf(req, text->str + off, MIN(size, text->len - (gsize)off));
}

static void
op_write(fuse_req_t req, fuse_ino_t ino, const char *data, size_t size, off_t off,
         struct fuse_file_info *fi)
{
    FakesysFs *fs = fuse_req_userdata(req);
    FakesysCaller caller = caller_of(req);
    g_autofree char *buf = NULL;
    FakesysNode n;
    gssize r;

    (void)fi, (void)off; /* sysfs ignores the offset of a store */
    if (!node_of_ino(fs, ino, &n)) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    if (size > SYSFS_PAGE)
        r = -E2BIG;
    else {
        /* kernfs hands ->store() a NUL-terminated copy. */
        buf = g_malloc(size + 1);
        memcpy(buf, data, size);
        buf[size] = '\0';
        r = fakesys_node_store(fs->machine, &n, buf, size, &caller);
    }
    fakesys_node_clear(&n);
    if (r < 0)
        fuse_reply_err(req, (int)-r);
    else
        fuse_reply_write(req, (size_t)r);
}

static void
dir_entries_free(GArray *entries)
{
    for (guint i = 0; i < entries->len; i++)
        g_free(g_array_index(entries, DirEntry, i).name);
    g_array_unref(entries);
}

/* The listing is taken once per opendir, so a reader sees one consistent
 * snapshot even while devices are rebound. */
static void
op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    FakesysFs *fs = fuse_req_userdata(req);
    g_autofree char *path = path_of_ino(fs, ino);
    g_autoptr(GArray) children = NULL;
    GArray *entries;
    FakesysNode n;
    DirEntry dot = {g_strdup("."), S_IFDIR, ino};
    DirEntry dotdot = {g_strdup(".."), S_IFDIR, FUSE_ROOT_ID};

    if (!path || !fakesys_tree_lookup(fs->machine, path, &n)) {
        g_free(dot.name);
        g_free(dotdot.name);
        fuse_reply_err(req, ENOENT);
        return;
    }
    if (n.type != FAKESYS_NODE_DIR) {
        fakesys_node_clear(&n);
        g_free(dot.name);
        g_free(dotdot.name);
        fuse_reply_err(req, ENOTDIR);
        return;
    }
    entries = g_array_new(FALSE, FALSE, sizeof(DirEntry));
    g_array_append_val(entries, dot);
    g_array_append_val(entries, dotdot);
    children = fakesys_tree_list(fs->machine, &n);
    for (guint i = 0; i < children->len; i++) {
        FakesysNode *child = &g_array_index(children, FakesysNode, i);
        g_autofree char *cpath = child_path(path, child->name);
        DirEntry e = {g_strdup(child->name), fakesys_node_mode(child), stable_ino(fs, cpath)};
        g_array_append_val(entries, e);
    }
    fakesys_node_clear(&n);
    fi->fh = (uint64_t)(uintptr_t)entries;
    fuse_reply_open(req, fi);
}

static void
op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
    GArray *entries = (GArray *)(uintptr_t)fi->fh;
    g_autofree char *buf = g_malloc(size);
    size_t used = 0;

    (void)ino;
    for (guint i = (guint)MAX(off, 0); i < entries->len; i++) {
        DirEntry *e = &g_array_index(entries, DirEntry, i);
        struct stat st = {.st_ino = e->ino, .st_mode = e->mode};
        size_t len = fuse_add_direntry(req, buf + used, size - used, e->name, &st, i + 1);

        if (len > size - used)
            break;
        used += len;
    }
    fuse_reply_buf(req, buf, used);
}

static void
op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    (void)ino;
    dir_entries_free((GArray *)(uintptr_t)fi->fh);
    fuse_reply_err(req, 0);
}

/* access(2): root passes read/write like generic_permission() grants it
 * (open() then applies kernfs' own rule); nobody may execute a file. */
static void
op_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
    FakesysFs *fs = fuse_req_userdata(req);
    const struct fuse_ctx *ctx = fuse_req_ctx(req);
    FakesysNode n;
    mode_t mode;
    int err = 0;

    if (!node_of_ino(fs, ino, &n)) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    mode = fakesys_node_mode(&n);
    if ((mask & X_OK) && !(mode & 0111))
        err = EACCES;
    else if (ctx->uid != 0 &&
             (((mask & R_OK) && !(mode & S_IROTH)) || ((mask & W_OK) && !(mode & S_IWOTH)) ||
              ((mask & X_OK) && !(mode & S_IXOTH))))
        err = EACCES;
    fakesys_node_clear(&n);
    fuse_reply_err(req, err);
}

/* sysfs refuses to create anything: vfs_create() without ->create is
 * EACCES, and mkdir/unlink/rename/link/symlink without ops are EPERM. */
static void
op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
    (void)parent, (void)name, (void)mode, (void)rdev;
    fuse_reply_err(req, EACCES);
}

static void
op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
          struct fuse_file_info *fi)
{
    (void)parent, (void)name, (void)mode, (void)fi;
    fuse_reply_err(req, EACCES);
}

static void
op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
    (void)parent, (void)name, (void)mode;
    fuse_reply_err(req, EPERM);
}

static void
op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    (void)parent, (void)name;
    fuse_reply_err(req, EPERM);
}

static void
op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
    (void)link, (void)parent, (void)name;
    fuse_reply_err(req, EPERM);
}

static void
op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
          const char *newname, unsigned int flags)
{
    (void)parent, (void)name, (void)newparent, (void)newname, (void)flags;
    fuse_reply_err(req, EPERM);
}

static void
op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
    (void)ino, (void)newparent, (void)newname;
    fuse_reply_err(req, EPERM);
}

static const struct fuse_lowlevel_ops ops = {
    .init = op_init,
    .lookup = op_lookup,
    .forget = op_forget,
    .forget_multi = op_forget_multi,
    .getattr = op_getattr,
    .setattr = op_setattr,
    .readlink = op_readlink,
    .open = op_open,
    .read = op_read,
    .write = op_write,
    .opendir = op_opendir,
    .readdir = op_readdir,
    .releasedir = op_releasedir,
    .access = op_access,
    .mknod = op_mknod,
    .create = op_create,
    .mkdir = op_mkdir,
    .unlink = op_unlink,
    .rmdir = op_unlink,
    .symlink = op_symlink,
    .rename = op_rename,
    .link = op_link,
};

const struct fuse_lowlevel_ops *
fakesys_fs_ops(void)
{
    return &ops;
}
