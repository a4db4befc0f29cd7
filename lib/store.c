/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/error.h"
#include "base/addr.h"
#include "base/names.h"
#include "lib/store.h"
#include "secgroups/rule.h"

#define SCHEMA_VERSION 8
#define STR_(x) #x
#define STR(x) STR_(x)
#define BUSY_TIMEOUT_MS 30000

struct store {
	sqlite3 *db;
	char path[VPCNET_PATH_MAX + 16];  /* DIR/state.db: every message names it */
};

/* Security groups (added by version 2; some builds of version 1 had them already). */
#define SG_TABLES \
	"CREATE TABLE IF NOT EXISTS sgs (" \
	" id INTEGER PRIMARY KEY AUTOINCREMENT," \
	" vpc_id INTEGER NOT NULL REFERENCES vpcs(id) ON DELETE CASCADE," \
	" name TEXT NOT NULL, description TEXT NOT NULL DEFAULT ''," \
	" UNIQUE(vpc_id, name));" \
	"CREATE TABLE IF NOT EXISTS sg_rules (" \
	" id INTEGER PRIMARY KEY AUTOINCREMENT," \
	" sg_id INTEGER NOT NULL REFERENCES sgs(id) ON DELETE CASCADE," \
	" dir INTEGER NOT NULL, proto INTEGER NOT NULL," \
	" port_lo INTEGER NOT NULL, port_hi INTEGER NOT NULL," \
	" to_sg INTEGER NOT NULL, net INTEGER NOT NULL, len INTEGER NOT NULL," \
	" UNIQUE(sg_id, dir, proto, port_lo, port_hi, to_sg, net, len));" \
	"CREATE TABLE IF NOT EXISTS member_sgs (" \
	" member_id INTEGER NOT NULL REFERENCES members(id) ON DELETE CASCADE," \
	" sg_id INTEGER NOT NULL REFERENCES sgs(id)," \
	" slot INTEGER NOT NULL, PRIMARY KEY(member_id, sg_id));" \
	"CREATE TABLE IF NOT EXISTS sg_refs (" \
	" sg_id INTEGER NOT NULL REFERENCES sgs(id) ON DELETE CASCADE," \
	" dir INTEGER NOT NULL, ref_id INTEGER NOT NULL," \
	" PRIMARY KEY(sg_id, dir, ref_id));"

/* Version 5: deleted members wait, revoked, for their flows and elements to be reaped
 * (their addresses stay leased meanwhile): found by VPC without reading the others. */
#define REVOKED_INDEX \
	"CREATE INDEX IF NOT EXISTS members_revoked ON members(vpc_id) WHERE state = '" \
	ST_REVOKED "';"

/* Version 7: how many elements each group's CIDR cover holds (per direction; no row: not
 * known), and the rules by protocol and address, so that a rule change reads the rules near
 * it instead of all of them. */
#define COVER_TABLES \
	"CREATE TABLE IF NOT EXISTS sg_covers (" \
	" sg_id INTEGER NOT NULL REFERENCES sgs(id) ON DELETE CASCADE," \
	" dir INTEGER NOT NULL, elems INTEGER NOT NULL, PRIMARY KEY(sg_id, dir));" \
	"CREATE INDEX IF NOT EXISTS sg_rules_by_net ON sg_rules(sg_id, dir, proto, net);"

/* Version 8: membership profiles.  A member's router port carries its profile's id as its
 * device group, and the router's maps and member sets are keyed by profile, so members
 * with the same groups share elements and set-sg changes one attribute of a port.  A
 * profile row is committed before its id reaches the kernel and deleted only after its
 * elements are gone from it, so an id is never reused while elements of it may remain. */
#define PROFILE_TABLES \
	"CREATE TABLE IF NOT EXISTS profiles (" \
	" id INTEGER PRIMARY KEY AUTOINCREMENT," \
	" vpc_id INTEGER NOT NULL REFERENCES vpcs(id) ON DELETE CASCADE," \
	" ingress INTEGER NOT NULL, sgs TEXT NOT NULL," \
	" UNIQUE(vpc_id, ingress, sgs));" \
	"CREATE INDEX IF NOT EXISTS members_by_profile ON members(profile);"

/* The schema of a new store (version 8).  vpcs.layout is the shape of the router's
 * nftables table that the VPC was made with (VPC_LAYOUT in store.h). */
static const char schema[] =
	"CREATE TABLE vpcs ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" name TEXT NOT NULL UNIQUE,"
	" net INTEGER NOT NULL, prefix INTEGER NOT NULL,"
	" nat INTEGER NOT NULL, uplink TEXT NOT NULL,"
	" transit INTEGER NOT NULL UNIQUE,"
	" state TEXT NOT NULL, owner_pid INTEGER NOT NULL, owner_start INTEGER NOT NULL,"
	" owner_nonce INTEGER NOT NULL, created INTEGER NOT NULL,"
	" layout INTEGER NOT NULL DEFAULT 1);"
	"CREATE TABLE members ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" kind TEXT NOT NULL DEFAULT 'sandbox',"
	" name TEXT NOT NULL,"
	" vpc_id INTEGER NOT NULL REFERENCES vpcs(id),"
	" ip INTEGER NOT NULL,"
	" netns TEXT NOT NULL, netns_owned INTEGER NOT NULL, ifname TEXT NOT NULL,"
	" state TEXT NOT NULL, owner_pid INTEGER NOT NULL, owner_start INTEGER NOT NULL,"
	" owner_nonce INTEGER NOT NULL, created INTEGER NOT NULL,"
	" max_conns INTEGER NOT NULL DEFAULT 0,"
	" tap TEXT NOT NULL DEFAULT '', control_port INTEGER NOT NULL DEFAULT 0,"
	" origin TEXT NOT NULL DEFAULT '',"
	" netns_dev INTEGER NOT NULL DEFAULT 0, netns_ino INTEGER NOT NULL DEFAULT 0,"
	" profile INTEGER NOT NULL DEFAULT 0,"
	" UNIQUE(kind, name), UNIQUE(vpc_id, ip));"
	SG_TABLES
	REVOKED_INDEX
	COVER_TABLES
	PROFILE_TABLES;

/* Version 1 was shipped in two shapes: the first without owner nonces, both without
 * security groups in some builds.  Whatever it has, version 2 is reached by adding what is
 * missing; VPCs whose router has no security groups (no 'default' group) keep layout 1 and
 * are refused by everything but delete, list and show. */
static const char migrate_v1[] =
	SG_TABLES
	"ALTER TABLE vpcs ADD COLUMN layout INTEGER NOT NULL DEFAULT 1;"
	"UPDATE vpcs SET layout = 2 WHERE id IN (SELECT vpc_id FROM sgs WHERE name = 'default');";


/* A full disk stays EIO: -ENOSPC from an insert means a subnet without a free address.
 * SQLite's "disk I/O error" gains the system's reason ("No space left on device"). */
static int db_err(struct store *st, struct vpcnet_error *err, int rc, const char *what)
{
	int e = (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) ? EBUSY : EIO;
	if ((rc & 0xff) == SQLITE_CONSTRAINT)
		e = rc == SQLITE_CONSTRAINT_FOREIGNKEY ? EBUSY : EEXIST;
	if ((rc & 0xff) == SQLITE_READONLY)
		e = EROFS;
	int sys = st->db && ((rc & 0xff) == SQLITE_IOERR || (rc & 0xff) == SQLITE_CANTOPEN) ?
		  sqlite3_system_errno(st->db) : 0;
	return vinput(err, e == EEXIST ? VPCNET_EXISTS : VPCNET_FAILED, e,
		      "state store %s: %s: %s%s%s%s", st->path, what,
		      st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc), sys ? " (" : "",
		      sys ? strerror(sys) : "", sys ? ")" : "");
}

static void stmt_free(sqlite3_stmt **s)
{
	if (*s)
		sqlite3_finalize(*s);
}
#define STMT cleanup(stmt_free) sqlite3_stmt *

static int prep(struct store *st, sqlite3_stmt **s, const char *sql, struct vpcnet_error *err)
{
	int rc = sqlite3_prepare_v2(st->db, sql, -1, s, NULL);
	return rc == SQLITE_OK ? 0 : db_err(st, err, rc, "prepare");
}

/* @what names the step in a message (a schema's SQL would crowd out SQLite's reason). */
static int exec_as(struct store *st, const char *sql, const char *what, struct vpcnet_error *err)
{
	int rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);
	return rc == SQLITE_OK ? 0 : db_err(st, err, rc, what);
}

static int exec(struct store *st, const char *sql, struct vpcnet_error *err)
{
	return exec_as(st, sql, sql, err);
}

/* Steps a statement that returns no rows. */
static int step_done(struct store *st, sqlite3_stmt *s, const char *what, struct vpcnet_error *err)
{
	int rc = sqlite3_step(s);
	return rc == SQLITE_DONE ? 0 : db_err(st, err, rc, what);
}

static bool has_column(struct store *st, const char *table, const char *col)
{
	char sql[160];
	snprintf(sql, sizeof(sql), "SELECT 1 FROM pragma_table_info('%s') WHERE name = '%s'",
		 table, col);
	sqlite3_stmt *s = NULL;
	bool has = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) == SQLITE_OK &&
		   sqlite3_step(s) == SQLITE_ROW;
	sqlite3_finalize(s);
	return has;
}

/* Brings a version 1 store to version 2, inside the caller's transaction. */
/* Version 3: members' connection limits (0 in older rows; their VPCs have an older router
 * layout and can only be deleted). */
static const char migrate_v2[] =
	"ALTER TABLE members ADD COLUMN max_conns INTEGER NOT NULL DEFAULT 0;";

/* Version 4: a member's microVM tap device and control port, and its origin (what attached
 * it: '' for the CLI and the library, else e.g. a CNI network). */
static const char migrate_v3[] =
	"ALTER TABLE members ADD COLUMN tap TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE members ADD COLUMN control_port INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE members ADD COLUMN origin TEXT NOT NULL DEFAULT '';";

static const char migrate_v4[] = REVOKED_INDEX;

/* Version 6: which namespace an adopted one was (device and inode of its nsfs file), so that
 * a path that names another one later (/proc/PID/ns/net of a reused pid) is told apart. */
static const char migrate_v5[] =
	"ALTER TABLE members ADD COLUMN netns_dev INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE members ADD COLUMN netns_ino INTEGER NOT NULL DEFAULT 0;";

static const char migrate_v6[] = COVER_TABLES;

/* Version 8: members of VPCs made before (router layout 5) keep profile 0: those VPCs can
 * only be deleted. */
static const char migrate_v7[] =
	"ALTER TABLE members ADD COLUMN profile INTEGER NOT NULL DEFAULT 0;"
	PROFILE_TABLES;

static int migrate_from_v1(struct store *st, const char *what, struct vpcnet_error *err)
{
	int ret = 0;
	if (!has_column(st, "vpcs", "owner_nonce"))
		ret = exec_as(st, "ALTER TABLE vpcs ADD COLUMN owner_nonce INTEGER NOT NULL DEFAULT 0",
			      what, err);
	if (!ret && !has_column(st, "members", "owner_nonce"))
		ret = exec_as(st,
			      "ALTER TABLE members ADD COLUMN owner_nonce INTEGER NOT NULL DEFAULT 0",
			      what, err);
	return ret ? ret : exec_as(st, migrate_v1, what, err);
}

static int schema_version(struct store *st)
{
	sqlite3_stmt *s = NULL;
	int version = -1;
	if (sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &s, NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW)
		version = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return version;
}

static int newer_schema(struct store *st, int version, struct vpcnet_error *err)
{
	return vinput(err, VPCNET_FAILED, EPROTO,
		      "state store %s: schema version %d is newer than this vpcnet (%d)",
		      st->path, version, SCHEMA_VERSION);
}

int store_check_stat(const struct stat *sb, const char *path, bool dir,
		     struct vpcnet_error *err)
{
	if (dir && !S_ISDIR(sb->st_mode))
		return verr(err, VPCNET_FAILED, ENOTDIR, "state directory %s", path);
	if (dir && sb->st_uid != geteuid())
		return vinput(err, VPCNET_FAILED, EPERM,
			      "state directory %s belongs to uid %u, not to us (uid %u)", path,
			      sb->st_uid, geteuid());
	if (!dir && (!S_ISREG(sb->st_mode) || sb->st_uid != geteuid()))
		return vinput(err, VPCNET_FAILED, EPERM,
			      "state store %s is not a file of ours (uid %u)", path, sb->st_uid);
	if (sb->st_mode & (S_IWGRP | S_IWOTH))
		return vinput(err, VPCNET_FAILED, EPERM,
			      "%s %s is writable by others (mode %04o): chmod %s it",
			      dir ? "state directory" : "state store", path, sb->st_mode & 07777,
			      dir ? "0700" : "0600");
	return 0;
}

static int ensure_dir(const char *dir, struct vpcnet_error *err)
{
	if (mkdir(dir, 0700) && errno != EEXIST)
		return verr(err, VPCNET_FAILED, errno, "state directory %s", dir);
	struct stat sb;
	if (stat(dir, &sb))
		return verr(err, VPCNET_FAILED, errno, "state directory %s", dir);
	return store_check_stat(&sb, dir, true, err);
}

/* The database, as opened: ours, and writable by nobody else. */
static int check_db(int fd, const char *path, struct vpcnet_error *err)
{
	struct stat sb;
	if (fstat(fd, &sb))
		return verr(err, VPCNET_FAILED, errno, "state store %s", path);
	return store_check_stat(&sb, path, false, err);
}

/* WAL frames past which a commit checkpoints and empties the log. */
#define WAL_MAX_FRAMES 128

/* A CLI run opens the store as its only connection, so SQLite rebuilds the log's index by
 * reading the whole log, and that index no longer knows what was checkpointed: after
 * SQLite's automatic (passive) checkpoint, only a second write of the same process would
 * start the log over.  A run of commands that write once each (rule adds) grew it without
 * end — 235 MB after 10,000 rules, every command reading all of it.  So a commit past
 * WAL_MAX_FRAMES checkpoints and truncates the log, without waiting for anyone: if other
 * processes hold it, a later commit does it (while they overlap without a gap, the log
 * grows, as it does under SQLite's own checkpoint).  A wal_autocheckpoint pragma would
 * replace this hook; its busy timeout goes back to BUSY_TIMEOUT_MS, the only one set. */
static int wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
	(void)arg;
	if (frames >= WAL_MAX_FRAMES) {
		sqlite3_busy_timeout(db, 0);
		sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
		sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
	}
	return SQLITE_OK;
}

/* Opens the database at @path with @flags (one connection per handle: no mutex), with the
 * busy timeout and extended result codes every caller wants. */
static int db_open(struct store *st, const char *path, int flags, struct vpcnet_error *err)
{
	int rc = sqlite3_open_v2(path, &st->db, flags | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK)
		return db_err(st, err, rc, "open");
	sqlite3_busy_timeout(st->db, BUSY_TIMEOUT_MS);
	sqlite3_extended_result_codes(st->db, 1);
	return 0;
}

int store_open(struct store **out, const char *dir, struct vpcnet_error *err)
{
	int ret = ensure_dir(dir, err);
	if (ret)
		return ret;
	struct store *st = calloc(1, sizeof(*st));
	if (!st)
		return verr(err, VPCNET_FAILED, ENOMEM, "state store");
	const char *path = st->path;
	snprintf(st->path, sizeof(st->path), "%s/state.db", dir);
	/* Made 0600 before SQLite opens it (its -wal and -shm files take the same mode);
	 * no umask games: that is process-wide. */
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		ret = verr(err, VPCNET_FAILED, errno, "state store %s", path);
		goto fail;
	}
	ret = check_db(fd, path, err);
	close(fd);
	if (ret)
		goto fail;
	if ((ret = db_open(st, path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, err)))
		goto fail;
	/* Every CLI run is the last connection to close: without this each one would
	 * checkpoint the WAL and fsync on its way out.  Checkpoints run as it grows. */
	sqlite3_db_config(st->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
	/* Schema: versioned with user_version; made or migrated under the write lock.  The
	 * common case (current) is one read and no lock: this runs on every command.  A newer
	 * vpcnet's store is refused before the journal mode is set: that may write to it. */
	int version = schema_version(st);
	if (version > SCHEMA_VERSION) {
		ret = newer_schema(st, version, err);
		goto fail;
	}
	if ((ret = exec_as(st, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
			       "PRAGMA foreign_keys=ON;", "open", err)))
		goto fail;
	sqlite3_wal_hook(st->db, wal_hook, NULL);
	if (version == SCHEMA_VERSION) {
		*out = st;
		return 0;
	}
	if ((ret = store_begin(st, err)))
		goto fail;
	version = schema_version(st);  /* again, under the lock: another process may have won */
	if (version < 0) {
		ret = db_err(st, err, sqlite3_errcode(st->db), "read the schema version");
		goto fail_tx;
	}
	if (version > SCHEMA_VERSION) {
		ret = newer_schema(st, version, err);
		goto fail_tx;
	}
	char what[64] = "create the schema";
	if (version)
		snprintf(what, sizeof(what), "migrate schema version %d to %d", version,
			 SCHEMA_VERSION);
	if (version == 0)
		ret = exec_as(st, schema, what, err);
	if (!ret && version == 1)
		ret = migrate_from_v1(st, what, err);
	if (!ret && version >= 1 && version < 3)
		ret = exec_as(st, migrate_v2, what, err);
	if (!ret && version >= 1 && version < 4)
		ret = exec_as(st, migrate_v3, what, err);
	if (!ret && version >= 1 && version < 5)
		ret = exec_as(st, migrate_v4, what, err);
	if (!ret && version >= 1 && version < 6)
		ret = exec_as(st, migrate_v5, what, err);
	if (!ret && version >= 1 && version < 7)
		ret = exec_as(st, migrate_v6, what, err);
	if (!ret && version >= 1 && version < 8)
		ret = exec_as(st, migrate_v7, what, err);
	if (ret || (version < SCHEMA_VERSION &&
		    (ret = exec_as(st, "PRAGMA user_version = " STR(SCHEMA_VERSION), what, err))))
		goto fail_tx;
	if ((ret = store_commit(st, err)))
		goto fail;
	*out = st;
	return 0;
fail_tx:
	store_rollback(st);
fail:
	store_close(st);
	return ret;
}

void store_close(struct store *st)
{
	if (!st)
		return;
	sqlite3_close(st->db);
	free(st);
}

int store_begin(struct store *st, struct vpcnet_error *err)
{
	return exec(st, "BEGIN IMMEDIATE", err);
}

int store_commit(struct store *st, struct vpcnet_error *err)
{
	return exec(st, "COMMIT", err);
}

void store_rollback(struct store *st)
{
	if (!sqlite3_get_autocommit(st->db))
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
}

/* --- reading rows back -------------------------------------------------------------------
 * A row is read only when vpcnet could have written it: a store written by hand, by a
 * hostile process or corrupted has values out of range, text longer than its field (cut,
 * a name names something else), text with a NUL in it.  Such a row is refused with an
 * error that names it, never read on into a fixed-size field or an address computation. */

/* Text column @col into @dst (@n bytes): false when it is not text (a blob, say: no text
 * finds it again) or does not fit whole.  NULL reads "". */
static bool copy_text(char *dst, size_t n, sqlite3_stmt *s, int col)
{
	int type = sqlite3_column_type(s, col);  /* before sqlite3_column_text() converts it */
	dst[0] = '\0';
	if (type != SQLITE_TEXT && type != SQLITE_NULL)
		return false;
	const unsigned char *t = sqlite3_column_text(s, col);
	size_t len = t ? (size_t)sqlite3_column_bytes(s, col) : 0;
	if (len >= n || (t && memchr(t, '\0', len)))
		return false;
	if (t)
		memcpy(dst, t, len + 1);
	return true;
}

/* Integer column @col into *@v: false when it is not within [@lo, @hi]. */
static bool int_in(sqlite3_stmt *s, int col, int64_t lo, int64_t hi, int64_t *v)
{
	*v = sqlite3_column_int64(s, col);
	return *v >= lo && *v <= hi;
}

static bool one_of(const char *s, const char *const *set)
{
	for (; *set; set++)
		if (!strcmp(s, *set))
			return true;
	return false;
}

static const char *const vpc_states[] = { ST_CREATING, ST_READY, ST_DELETING, NULL };
static const char *const member_states[] = { ST_CREATING, ST_READY, ST_DELETING, ST_REVOKED,
					     ST_RESTORING, NULL };
/* members.kind, by enum member_kind (in SQL text: KIND_SANDBOX, KIND_POOL) */
#define KIND_SANDBOX "sandbox"
#define KIND_POOL "pool"
static const char *const member_kinds[] = { "member", KIND_SANDBOX, "instance", KIND_POOL };

const char *member_kind_name(enum member_kind kind)
{
	return (unsigned)kind < sizeof(member_kinds) / sizeof(*member_kinds) ? member_kinds[kind]
									       : "member";
}

/* The kind named by column @col of @s; false when it names none. */
static bool kind_in(sqlite3_stmt *s, int col, enum member_kind *out)
{
	const char *t = (const char *)sqlite3_column_text(s, col);
	for (enum member_kind k = MEMBER_SANDBOX; t && k <= MEMBER_POOL; k++)
		if (!strcmp(t, member_kinds[k])) {
			*out = k;
			return true;
		}
	return false;
}

/* Refuses row #@id of @what: column @col is out of range. */
static int bad_row(struct store *st, struct vpcnet_error *err, const char *what, int64_t id,
		   const char *col)
{
	return vinput(err, VPCNET_FAILED, EUCLEAN, "state store %s: %s #%lld: bad %s (a store"
		      " written by hand, or corrupt: repair or remove the row)", st->path, what,
		      (long long)id, col);
}

/* members is -1 here: store_vpc_members() counts them (a scan, not on the create path) */
#define VPC_COLS "v.id, v.name, v.net, v.prefix, v.nat, v.uplink, v.transit, v.state," \
		 " v.owner_pid, v.owner_start, v.owner_nonce, -1, v.layout"

/* Fills @r from a row of VPC_COLS; returns its first column out of range, or NULL. */
static const char *vpc_from_row(sqlite3_stmt *s, struct vpc_row *r)
{
	int64_t v;
	memset(r, 0, sizeof(*r));
	r->id = sqlite3_column_int64(s, 0);
	if (!copy_text(r->name, sizeof(r->name), s, 1))
		return "name";
	if (!int_in(s, 2, 0, UINT32_MAX, &v))
		return "network";
	r->net = v;
	if (!int_in(s, 3, VPC_PREFIX_MIN, VPC_PREFIX_MAX, &v) || (r->net & ~prefix_mask(v)))
		return "prefix";
	r->prefix = v;
	r->nat = sqlite3_column_int(s, 4);
	if (!copy_text(r->uplink, sizeof(r->uplink), s, 5))
		return "uplink";
	if (!int_in(s, 6, 0, TRANSIT_MAX - 1, &v))
		return "transit";
	r->transit = v;
	if (!copy_text(r->state, sizeof(r->state), s, 7) || !one_of(r->state, vpc_states))
		return "state";
	r->owner.pid = sqlite3_column_int64(s, 8);
	r->owner.start = sqlite3_column_int64(s, 9);
	r->owner.nonce = sqlite3_column_int64(s, 10);
	r->members = sqlite3_column_int64(s, 11);
	if (!int_in(s, 12, 1, VPC_LAYOUT, &v))
		return "layout";
	r->layout = v;
	return NULL;
}

static int vpc_get_by(struct store *st, const char *where, const char *name, int64_t id,
		      struct vpc_row *out, struct vpcnet_error *err)
{
	char sql[512];
	snprintf(sql, sizeof(sql), "SELECT " VPC_COLS " FROM vpcs v WHERE %s", where);
	STMT s = NULL;
	int ret = prep(st, &s, sql, err);
	if (ret)
		return ret;
	if (name)
		sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	else
		sqlite3_bind_int64(s, 1, id);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		if (name)
			return vinput(err, VPCNET_NOT_FOUND, ENOENT, "VPC '%s' not found", name);
		return vinput(err, VPCNET_NOT_FOUND, ENOENT, "VPC #%lld not found", (long long)id);
	}
	if (rc != SQLITE_ROW)
		return db_err(st, err, rc, "read VPC");
	const char *bad = vpc_from_row(s, out);
	return bad ? bad_row(st, err, "VPC", out->id, bad) : 0;
}

int store_vpc_get(struct store *st, const char *name, struct vpc_row *out, struct vpcnet_error *err)
{
	return vpc_get_by(st, "v.name = ?1", name, 0, out, err);
}

int store_vpc_get_id(struct store *st, int64_t id, struct vpc_row *out, struct vpcnet_error *err)
{
	return vpc_get_by(st, "v.id = ?1", NULL, id, out, err);
}

/* The integer that query @sql (its ?1 and ?2 bound to @a and @b) selects. */
static int query_int(struct store *st, const char *sql, int64_t a, int64_t b, int64_t *out,
		     const char *what, struct vpcnet_error *err)
{
	STMT s = NULL;
	int ret = prep(st, &s, sql, err);
	if (ret)
		return ret;
	sqlite3_bind_int64(s, 1, a);
	sqlite3_bind_int64(s, 2, b);
	int rc = sqlite3_step(s);
	if (rc != SQLITE_ROW)
		return db_err(st, err, rc, what);
	*out = sqlite3_column_int64(s, 0);
	return 0;
}

int store_vpc_insert(struct store *st, struct vpc_row *row, struct vpcnet_error *err)
{
	int64_t idx;
	int ret = query_int(st,
		"SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM vpcs WHERE transit = ?2 AND ?1 = ?1)"
		" THEN ?2 ELSE (SELECT v.transit + 1 FROM vpcs v WHERE NOT EXISTS"
		" (SELECT 1 FROM vpcs x WHERE x.transit = v.transit + 1) ORDER BY v.transit LIMIT 1)"
		" END", 0, 0, &idx, "allocate", err);
	if (ret)
		return ret;
	STMT s = NULL;
	if ((ret = prep(st, &s,
			"INSERT INTO vpcs (name, net, prefix, nat, uplink, transit, state,"
			" owner_pid, owner_start, owner_nonce, created, layout)"
			" VALUES (?,?,?,?,?,?,?,?,?,?,?," STR(VPC_LAYOUT) ")",
			err)))
		return ret;
	sqlite3_bind_text(s, 1, row->name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, row->net);
	sqlite3_bind_int(s, 3, row->prefix);
	sqlite3_bind_int(s, 4, row->nat);
	sqlite3_bind_text(s, 5, row->uplink, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 6, idx);
	sqlite3_bind_text(s, 7, row->state, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 8, row->owner.pid);
	sqlite3_bind_int64(s, 9, row->owner.start);
	sqlite3_bind_int64(s, 10, row->owner.nonce);
	sqlite3_bind_int64(s, 11, time(NULL));
	int rc = sqlite3_step(s);
	if ((rc & 0xff) == SQLITE_CONSTRAINT)
		return vinput(err, VPCNET_EXISTS, EEXIST, "VPC '%s' already exists", row->name);
	if (rc != SQLITE_DONE)
		return db_err(st, err, rc, "insert VPC");
	row->id = sqlite3_last_insert_rowid(st->db);
	row->transit = idx;
	return 0;
}

static int set_state(struct store *st, const char *table, int64_t id, const char *state,
		     const struct owner *o, struct vpcnet_error *err)
{
	char sql[160];
	snprintf(sql, sizeof(sql),
		 "UPDATE %s SET state = ?1, owner_pid = ?2, owner_start = ?3, owner_nonce = ?4"
		 " WHERE id = ?5", table);
	STMT s = NULL;
	int ret = prep(st, &s, sql, err);
	if (ret)
		return ret;
	sqlite3_bind_text(s, 1, state, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, o ? o->pid : 0);
	sqlite3_bind_int64(s, 3, o ? o->start : 0);
	sqlite3_bind_int64(s, 4, o ? o->nonce : 0);
	sqlite3_bind_int64(s, 5, id);
	if ((ret = step_done(st, s, "update state", err)))
		return ret;
	if (sqlite3_changes(st->db) == 0)  /* somebody else removed it meanwhile */
		return vinput(err, VPCNET_FAILED, ENOENT, "state store: %s #%lld is gone", table,
			      (long long)id);
	return 0;
}

static int delete_id(struct store *st, const char *sql, int64_t id, struct vpcnet_error *err)
{
	STMT s = NULL;
	int ret = prep(st, &s, sql, err);
	if (ret)
		return ret;
	sqlite3_bind_int64(s, 1, id);
	return step_done(st, s, "delete", err);
}

int store_vpc_set_state(struct store *st, int64_t id, const char *state, const struct owner *o,
			struct vpcnet_error *err)
{
	return set_state(st, "vpcs", id, state, o, err);
}

int store_vpc_delete(struct store *st, int64_t id, struct vpcnet_error *err)
{
	/* its revoked members go with it: their flows and elements go with its router */
	int ret = delete_id(st, "DELETE FROM members WHERE vpc_id = ?1 AND state = '"
			    ST_REVOKED "'", id, err);
	return ret ? ret : delete_id(st, "DELETE FROM vpcs WHERE id = ?1", id, err);
}

int store_vpc_list(struct store *st, int (*fn)(const struct vpc_row *, void *), void *arg,
		   struct vpcnet_error *err)
{
	STMT s = NULL;
	int ret = prep(st, &s, "SELECT " VPC_COLS " FROM vpcs v ORDER BY v.name", err);
	if (ret)
		return ret;
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct vpc_row r;
		const char *bad = vpc_from_row(s, &r);
		if (bad)
			return bad_row(st, err, "VPC", r.id, bad);
		if ((ret = fn(&r, arg)))
			return ret;
	}
	return rc == SQLITE_DONE ? 0 : db_err(st, err, rc, "list VPCs");
}

int store_limit_in_use(struct store *st, int64_t vpc_id, unsigned max_conns, int64_t except,
		       bool *used, struct vpcnet_error *err)
{
	STMT s = NULL;
	int ret = prep(st, &s, "SELECT 1 FROM members WHERE vpc_id = ?1 AND max_conns = ?2"
			       " AND id != ?3 AND state = '" ST_READY "' LIMIT 1", err);
	if (ret)
		return ret;
	sqlite3_bind_int64(s, 1, vpc_id);
	sqlite3_bind_int(s, 2, max_conns);
	sqlite3_bind_int64(s, 3, except);
	int rc = sqlite3_step(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_err(st, err, rc, "read members");
	*used = rc == SQLITE_ROW;
	return 0;
}

int store_pool_take(struct store *st, int64_t vpc_id, const char *name, const struct owner *o,
		    int64_t *id, struct vpcnet_error *err)
{
	STMT s = NULL;
	int ret = prep(st, &s,
		"UPDATE members SET kind = '" KIND_SANDBOX "', name = ?2, state = '" ST_CREATING "',"
		" owner_pid = ?3, owner_start = ?4, owner_nonce = ?5"
		" WHERE id = (SELECT id FROM members WHERE kind = '" KIND_POOL "' AND +vpc_id = ?1"
		" AND state = '" ST_READY "' ORDER BY id LIMIT 1) RETURNING id", err);
	if (ret)
		return ret;
	sqlite3_bind_int64(s, 1, vpc_id);
	sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, o->pid);
	sqlite3_bind_int64(s, 4, o->start);
	sqlite3_bind_int64(s, 5, o->nonce);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_DONE)
		return -ENOENT;
	if (rc != SQLITE_ROW)
		return db_err(st, err, rc, "take from the pool");
	*id = sqlite3_column_int64(s, 0);
	return sqlite3_step(s) == SQLITE_DONE ? 0 : db_err(st, err, sqlite3_errcode(st->db),
							    "take from the pool");
}

int store_pool_ready(struct store *st, int64_t vpc_id, bool *any, struct vpcnet_error *err)
{
	int64_t n = 0;
	int ret = query_int(st, "SELECT EXISTS (SELECT 1 FROM members WHERE kind = '" KIND_POOL "'"
			    " AND +vpc_id = ?1 AND state = '" ST_READY "' AND ?2 = 0)", vpc_id, 0,
			    &n, "read the pool", err);
	*any = n;
	return ret;
}

int store_vpc_members(struct store *st, struct vpc_row *v, struct vpcnet_error *err)
{
	return query_int(st, "SELECT count(*) FROM members WHERE vpc_id = ?1 AND kind != '"
			 KIND_POOL "' AND state != '" ST_REVOKED "' AND ?2 = 0", v->id, 0,
			 &v->members, "count sandboxes", err);
}

int store_vpc_count(struct store *st, int64_t *n, struct vpcnet_error *err)
{
	STMT s = NULL;
	int ret = prep(st, &s, "SELECT count(*) FROM vpcs", err);
	if (ret)
		return ret;
	int rc = sqlite3_step(s);
	if (rc != SQLITE_ROW)
		return db_err(st, err, rc, "count VPCs");
	*n = sqlite3_column_int64(s, 0);
	return 0;
}

#define MEMBER_COLS "id, name, vpc_id, ip, netns, netns_owned, ifname, state, owner_pid," \
		    " owner_start, owner_nonce, kind, max_conns, tap, control_port, origin," \
		    " netns_dev, netns_ino, profile"

/* Fills @r from a row of MEMBER_COLS; returns its first column out of range, or NULL. */
static const char *member_from_row(sqlite3_stmt *s, struct member_row *r)
{
	int64_t v;
	memset(r, 0, sizeof(*r));
	r->id = sqlite3_column_int64(s, 0);
	if (!copy_text(r->name, sizeof(r->name), s, 1))
		return "name";
	r->vpc_id = sqlite3_column_int64(s, 2);
	if (!int_in(s, 3, 0, UINT32_MAX, &v))
		return "address";
	r->ip = v;
	struct vpcnet_error ignored;
	if (!copy_text(r->netns, sizeof(r->netns), s, 4))
		return "netns";
	if (!int_in(s, 5, 0, 1, &v))
		return "netns_owned";
	r->netns_owned = v;
	/* what vpcnet made is its to remove (restore, gc, delete): only ever under its names */
	static const char *const owned[] = { NETNS_RUN_DIR "/vpcnet-sbx-",
					     NETNS_RUN_DIR "/vpcnet-ins-",
					     NETNS_RUN_DIR "/vpcnet-pool-" };
	bool ours = false;
	for (size_t i = 0; i < sizeof(owned) / sizeof(*owned); i++)
		ours |= !strncmp(r->netns, owned[i], strlen(owned[i])) &&
			!strchr(r->netns + strlen(owned[i]), '/');
	if (r->netns_owned && !ours)
		return "netns";
	if (!copy_text(r->ifname, sizeof(r->ifname), s, 6) ||
	    valid_ifname(r->ifname, "ifname", &ignored))
		return "ifname";
	if (!copy_text(r->state, sizeof(r->state), s, 7) || !one_of(r->state, member_states))
		return "state";
	r->owner.pid = sqlite3_column_int64(s, 8);
	r->owner.start = sqlite3_column_int64(s, 9);
	r->owner.nonce = sqlite3_column_int64(s, 10);
	if (!kind_in(s, 11, &r->kind))
		return "kind";
	if (!int_in(s, 12, 0, VPCNET_MAX_CONNECTIONS_MAX, &v))
		return "max_conns";
	r->max_conns = v;
	if (!copy_text(r->tap, sizeof(r->tap), s, 13) ||
	    (r->tap[0] && valid_ifname(r->tap, "tap", &ignored)))
		return "tap";
	if (!int_in(s, 14, 0, 65535, &v))
		return "control_port";
	r->control_port = v;
	if (!copy_text(r->origin, sizeof(r->origin), s, 15))
		return "origin";
	r->netns_dev = (uint64_t)sqlite3_column_int64(s, 16);
	r->netns_ino = (uint64_t)sqlite3_column_int64(s, 17);
	if (!int_in(s, 18, 0, UINT32_MAX, &r->profile))  /* a device group is 32 bits */
		return "profile";
	return NULL;
}

/* Runs @fn over the member rows of statement @s. */
static int member_rows(struct store *st, sqlite3_stmt *s,
		       int (*fn)(const struct member_row *, void *), void *arg, const char *what,
		       struct vpcnet_error *err)
{
	int rc, ret;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct member_row r;
		const char *bad = member_from_row(s, &r);
		if (bad)
			return bad_row(st, err, "member", r.id, bad);
		if ((ret = fn(&r, arg)))
			return ret;
	}
	return rc == SQLITE_DONE ? 0 : db_err(st, err, rc, what);
}

static int member_get_by(struct store *st, enum member_kind kind, const char *where,
			 const char *name, int64_t id, struct member_row *out,
			 struct vpcnet_error *err)
{
	char sql[256];
	snprintf(sql, sizeof(sql),
		 "SELECT " MEMBER_COLS " FROM members WHERE (?2 IS NULL OR kind = ?2) AND %s", where);
	STMT s = NULL;
	int ret = prep(st, &s, sql, err);
	if (ret)
		return ret;
	if (name)
		sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	else
		sqlite3_bind_int64(s, 1, id);
	if (kind != MEMBER_ANY)
		sqlite3_bind_text(s, 2, member_kind_name(kind), -1, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_DONE)
		return name ? vinput(err, VPCNET_NOT_FOUND, ENOENT, "%s '%s' not found",
				     member_kind_name(kind), name)
			    : vinput(err, VPCNET_NOT_FOUND, ENOENT, "member #%lld not found",
				     (long long)id);
	if (rc != SQLITE_ROW)
		return db_err(st, err, rc, "read sandbox");
	const char *bad = member_from_row(s, out);
	return bad ? bad_row(st, err, "member", out->id, bad) : 0;
}

int store_member_get(struct store *st, enum member_kind kind, const char *name,
		     struct member_row *out, struct vpcnet_error *err)
{
	return member_get_by(st, kind, "name = ?1", name, 0, out, err);
}

int store_member_get_id(struct store *st, int64_t id, struct member_row *out,
			struct vpcnet_error *err)
{
	return member_get_by(st, MEMBER_ANY, "id = ?1", NULL, id, out, err);
}

int store_member_insert(struct store *st, struct member_row *row, uint32_t first, uint32_t last,
			struct vpcnet_error *err)
{
	int ret;
	char a[16];
	if (row->ip == 0) {
		/* The address after the highest leased (one index lookup), and the lowest free
		 * one once the top of the subnet is reached (a scan): a freed address is not
		 * handed out again until the subnet has gone round. */
		int64_t ip;
		ret = query_int(st, "SELECT max(coalesce((SELECT max(ip) + 1 FROM members"
				" WHERE vpc_id = ?1), ?2), ?2)", row->vpc_id, first, &ip, "allocate",
				err);
		if (!ret && ip > last)
			ret = query_int(st,
				"SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM members WHERE vpc_id = ?1"
				" AND ip = ?2) THEN ?2 ELSE (SELECT m.ip + 1 FROM members m WHERE"
				" m.vpc_id = ?1 AND m.ip >= ?2 AND NOT EXISTS (SELECT 1 FROM members x"
				" WHERE x.vpc_id = ?1 AND x.ip = m.ip + 1) ORDER BY m.ip LIMIT 1) END",
				row->vpc_id, first, &ip, "allocate", err);
		if (ret)
			return ret;
		if (ip > last)
			return vinput(err, VPCNET_EXISTS, ENOSPC,
				      "subnet exhausted: all %u addresses are leased",
				      last - first + 1);
		row->ip = ip;
	}
	STMT s = NULL;
	if ((ret = prep(st, &s,
			"INSERT INTO members (name, vpc_id, ip, netns, netns_owned, ifname, state,"
			" owner_pid, owner_start, owner_nonce, created, kind, max_conns, tap,"
			" control_port, origin, netns_dev, netns_ino)"
			" VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", err)))
		return ret;
	sqlite3_bind_text(s, 1, row->name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, row->vpc_id);
	sqlite3_bind_int64(s, 3, row->ip);
	sqlite3_bind_text(s, 4, row->netns, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 5, row->netns_owned);
	sqlite3_bind_text(s, 6, row->ifname, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 7, row->state, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 8, row->owner.pid);
	sqlite3_bind_int64(s, 9, row->owner.start);
	sqlite3_bind_int64(s, 10, row->owner.nonce);
	sqlite3_bind_int64(s, 11, time(NULL));
	enum member_kind kind = row->kind == MEMBER_ANY ? MEMBER_SANDBOX : row->kind;
	sqlite3_bind_text(s, 12, member_kind_name(kind), -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 13, row->max_conns);
	sqlite3_bind_text(s, 14, row->tap, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 15, row->control_port);
	sqlite3_bind_text(s, 16, row->origin, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 17, (int64_t)row->netns_dev);
	sqlite3_bind_int64(s, 18, (int64_t)row->netns_ino);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
		return vinput(err, VPCNET_NOT_FOUND, ENOENT, "its VPC is gone");
	if ((rc & 0xff) == SQLITE_CONSTRAINT) {
		if (strstr(sqlite3_errmsg(st->db), "members.ip"))
			return vinput(err, VPCNET_EXISTS, EADDRINUSE, "address %s is already leased",
				      ipv4_str(row->ip, a));
		return vinput(err, VPCNET_EXISTS, EEXIST, "%s '%s' already exists",
			      member_kind_name(kind), row->name);
	}
	if (rc != SQLITE_DONE)
		return db_err(st, err, rc, "insert sandbox");
	row->id = sqlite3_last_insert_rowid(st->db);
	return 0;
}

int store_member_set_state(struct store *st, int64_t id, const char *state,
			   const struct owner *o, struct vpcnet_error *err)
{
	return set_state(st, "members", id, state, o, err);
}

int store_member_delete(struct store *st, int64_t id, struct vpcnet_error *err)
{
	return delete_id(st, "DELETE FROM members WHERE id = ?1", id, err);
}

int store_member_revoke(struct store *st, int64_t id, struct vpcnet_error *err)
{
	return delete_id(st, "UPDATE members SET state = '" ST_REVOKED "', name = '#' || id,"
			 " origin = '', owner_pid = 0, owner_start = 0, owner_nonce = 0"
			 " WHERE id = ?1", id, err);
}

int store_revoked_list(struct store *st, int64_t vpc_id,
		       int (*fn)(const struct member_row *, void *), void *arg,
		       struct vpcnet_error *err)
{
	STMT s = NULL;
	int ret = prep(st, &s, "SELECT " MEMBER_COLS " FROM members WHERE vpc_id = ?1"
			       " AND state = '" ST_REVOKED "' ORDER BY id", err);
	if (ret)
		return ret;
	sqlite3_bind_int64(s, 1, vpc_id);
	return member_rows(st, s, fn, arg, "list revoked members", err);
}

int store_revoked_count(struct store *st, int64_t vpc_id, uint32_t ip, int64_t *n,
			struct vpcnet_error *err)
{
	return query_int(st, "SELECT count(*) FROM members WHERE vpc_id = ?1 AND state = '"
			 ST_REVOKED "' AND (?2 = 0 OR ip = ?2)", vpc_id, ip, n,
			 "count revoked members", err);
}

int store_member_list(struct store *st, enum member_kind kind, int64_t vpc_id,
		      int (*fn)(const struct member_row *, void *), void *arg,
		      struct vpcnet_error *err)
{
	STMT s = NULL;
	int ret = prep(st, &s,
		       "SELECT " MEMBER_COLS " FROM members WHERE (?2 IS NULL OR kind = ?2)"
		       " AND (?1 = 0 OR vpc_id = ?1) AND state != '" ST_REVOKED "' ORDER BY name",
		       err);
	if (ret)
		return ret;
	sqlite3_bind_int64(s, 1, vpc_id);
	if (kind != MEMBER_ANY)
		sqlite3_bind_text(s, 2, member_kind_name(kind), -1, SQLITE_STATIC);
	return member_rows(st, s, fn, arg, "list sandboxes", err);
}

static int64_t proc_start(int64_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%lld/stat", (long long)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* The command name may hold spaces and ')': fields resume after the last ')'. */
	char *p = strrchr(buf, ')');
	if (!p)
		return -1;
	long long start = -1;
	/* field 3 is state; start time is field 22, i.e. the 20th after the ')'. */
	int field = 2;
	char *save = NULL;
	for (char *tok = strtok_r(p + 1, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
		if (++field == 22) {
			start = strtoll(tok, NULL, 10);
			break;
		}
	return start;
}

struct owner owner_self(int64_t nonce)
{
	struct owner o = { .pid = getpid(), .nonce = nonce };
	o.start = proc_start(o.pid);
	return o;
}

bool owner_alive(const struct owner *o)
{
	if (o->pid <= 0)
		return false;
	int64_t start = proc_start(o->pid);
	return start >= 0 && start == o->start;
}

/* --- security groups --------------------------------------------------------------------- */

#define SG_COUNTS \
		" (SELECT count(*) FROM member_sgs x JOIN members m ON m.id = x.member_id" \
		" WHERE x.sg_id = g.id AND m.state != '" ST_REVOKED "')," \
		" (SELECT count(*) FROM sg_rules r WHERE r.sg_id = g.id)," \
		" (SELECT count(*) FROM sg_rules r WHERE r.to_sg = g.id AND r.sg_id != g.id),"
#define SG_COLS "g.id, g.vpc_id, g.name, g.description," SG_COUNTS \
		" (SELECT name FROM vpcs v WHERE v.id = g.vpc_id)"
/* Without the counts (store_sg_counts() adds them): they read every member of the group,
 * which a sandbox create must not. */
#define SG_COLS_LITE "g.id, g.vpc_id, g.name, g.description, -1, -1, -1," \
		" (SELECT name FROM vpcs v WHERE v.id = g.vpc_id)"

/* Fills @r from a row of SG_COLS; returns its first column out of range, or NULL. */
static const char *sg_from_row(sqlite3_stmt *s, struct sg_row *r)
{
	memset(r, 0, sizeof(*r));
	r->id = sqlite3_column_int64(s, 0);
	r->vpc_id = sqlite3_column_int64(s, 1);
	if (!copy_text(r->name, sizeof(r->name), s, 2))
		return "name";
	if (!copy_text(r->description, sizeof(r->description), s, 3))
		return "description";
	r->members = sqlite3_column_int64(s, 4);
	r->rules = sqlite3_column_int64(s, 5);
	r->referenced = sqlite3_column_int64(s, 6);
	if (!copy_text(r->vpc, sizeof(r->vpc), s, 7))
		return "VPC name";
	return NULL;
}

int store_sg_counts(struct store *st, struct sg_row *g, struct vpcnet_error *err)
{
	STMT s = NULL;
	int ret = prep(st, &s, "SELECT " SG_COUNTS " 0 FROM sgs g WHERE g.id = ?1", err);
	if (ret)
		return ret;
	sqlite3_bind_int64(s, 1, g->id);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_DONE)
		return vinput(err, VPCNET_NOT_FOUND, ENOENT, "group '%s' not found", g->name);
	if (rc != SQLITE_ROW)
		return db_err(st, err, rc, "read group");
	g->members = sqlite3_column_int64(s, 0);
	g->rules = sqlite3_column_int64(s, 1);
	g->referenced = sqlite3_column_int64(s, 2);
	return 0;
}

int store_sg_insert(struct store *st, struct sg_row *row, struct vpcnet_error *err)
{
	STMT s = NULL;
	int ret = prep(st, &s, "INSERT INTO sgs (vpc_id, name, description) VALUES (?,?,?)", err);
	if (ret)
		return ret;
	sqlite3_bind_int64(s, 1, row->vpc_id);
	sqlite3_bind_text(s, 2, row->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, row->description, -1, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	if ((rc & 0xff) == SQLITE_CONSTRAINT)
		return vinput(err, VPCNET_EXISTS, EEXIST, "group '%s' already exists in its VPC",
			      row->name);
	if (rc != SQLITE_DONE)
		return db_err(st, err, rc, "insert group");
	row->id = sqlite3_last_insert_rowid(st->db);
	return 0;
}

/* By name in VPC @vpc_id, or (@vpc_id 0) the one group of that name on the host. */
int store_sg_get(struct store *st, int64_t vpc_id, const char *name, struct sg_row *out,
		 struct vpcnet_error *err)
{
	STMT s = NULL;
	int ret = prep(st, &s, "SELECT " SG_COLS_LITE " FROM sgs g WHERE g.name = ?1"
			       " AND (?2 = 0 OR g.vpc_id = ?2) LIMIT 2", err);
	if (ret)
		return ret;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, vpc_id);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_DONE)
		return vinput(err, VPCNET_NOT_FOUND, ENOENT, "group '%s' not found%s", name,
			      vpc_id ? " in its VPC" : "");
	if (rc != SQLITE_ROW)
		return db_err(st, err, rc, "read group");
	const char *bad = sg_from_row(s, out);
	if (bad)
		return bad_row(st, err, "group", out->id, bad);
	if (sqlite3_step(s) == SQLITE_ROW)
		return vinput(err, VPCNET_BAD_INPUT, EINVAL,
			      "group '%s' exists in several VPCs: name one with --vpc", name);
	return 0;
}

int store_sg_get_id(struct store *st, int64_t id, struct sg_row *out, struct vpcnet_error *err)
{
	STMT s = NULL;
	int ret = prep(st, &s, "SELECT " SG_COLS_LITE " FROM sgs g WHERE g.id = ?1", err);
	if (ret)
		return ret;
	sqlite3_bind_int64(s, 1, id);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_DONE)
		return vinput(err, VPCNET_NOT_FOUND, ENOENT, "group #%lld not found", (long long)id);
	if (rc != SQLITE_ROW)
		return db_err(st, err, rc, "read group");
	const char *bad = sg_from_row(s, out);
	return bad ? bad_row(st, err, "group", out->id, bad) : 0;
}

int store_sg_delete(struct store *st, int64_t id, struct vpcnet_error *err)
{
	int ret = delete_id(st, "DELETE FROM sg_refs WHERE ref_id = ?1", id, err);
	return ret ? ret : delete_id(st, "DELETE FROM sgs WHERE id = ?1", id, err);
}

int store_sg_list(struct store *st, int64_t vpc_id, int (*fn)(const struct sg_row *, void *),
		  void *arg, struct vpcnet_error *err)
{
	STMT s = NULL;
	int ret = prep(st, &s, "SELECT " SG_COLS " FROM sgs g WHERE ?1 = 0 OR g.vpc_id = ?1"
			       " ORDER BY g.vpc_id, g.name", err);
	if (ret)
		return ret;
	sqlite3_bind_int64(s, 1, vpc_id);
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct sg_row r;
		const char *bad = sg_from_row(s, &r);
		if (bad)
			return bad_row(st, err, "group", r.id, bad);
		if ((ret = fn(&r, arg)))
			return ret;
	}
	return rc == SQLITE_DONE ? 0 : db_err(st, err, rc, "list groups");
}

static void bind_rule(sqlite3_stmt *s, int64_t sg_id, const struct sg_rule *r, int64_t to_sg)
{
	sqlite3_bind_int64(s, 1, sg_id);
	sqlite3_bind_int(s, 2, r->dir);
	sqlite3_bind_int(s, 3, r->proto);
	sqlite3_bind_int(s, 4, r->port_lo);
	sqlite3_bind_int(s, 5, r->port_hi);
	sqlite3_bind_int64(s, 6, r->to_group ? to_sg : 0);
	sqlite3_bind_int64(s, 7, r->to_group ? 0 : r->net);
	sqlite3_bind_int(s, 8, r->to_group ? 0 : r->len);
}

int store_rule_insert(struct store *st, int64_t sg_id, const struct sg_rule *r, int64_t to_sg,
		      struct vpcnet_error *err)
{
	STMT s = NULL;
	int ret = prep(st, &s, "INSERT INTO sg_rules (sg_id, dir, proto, port_lo, port_hi, to_sg,"
			       " net, len) VALUES (?,?,?,?,?,?,?,?)", err);
	if (ret)
		return ret;
	bind_rule(s, sg_id, r, to_sg);
	int rc = sqlite3_step(s);
	if ((rc & 0xff) == SQLITE_CONSTRAINT)
		return vinput(err, VPCNET_EXISTS, EEXIST, "the group has this rule already");
	return rc == SQLITE_DONE ? 0 : db_err(st, err, rc, "insert rule");
}

int store_rule_delete(struct store *st, int64_t sg_id, const struct sg_rule *r, int64_t to_sg,
		      struct vpcnet_error *err)
{
	STMT s = NULL;
	int ret = prep(st, &s, "DELETE FROM sg_rules WHERE sg_id = ?1 AND dir = ?2 AND proto = ?3"
			       " AND port_lo = ?4 AND port_hi = ?5 AND to_sg = ?6 AND net = ?7"
			       " AND len = ?8", err);
	if (ret)
		return ret;
	bind_rule(s, sg_id, r, to_sg);
	if ((ret = step_done(st, s, "delete rule", err)))
		return ret;
	if (sqlite3_changes(st->db) == 0)
		return vinput(err, VPCNET_NOT_FOUND, ENOENT, "the group has no such rule");
	return 0;
}

/* Rule columns from @col on: proto, port_lo, port_hi, net, len, into @r; returns the
 * first out of range, or NULL.  A group rule's net and len are 0. */
static const char *rule_from_row(sqlite3_stmt *s, int col, struct sg_rule *r)
{
	int64_t proto, lo, hi, net, len;
	if (!int_in(s, col, 0, 255, &proto) || (proto && proto != IPPROTO_ICMP &&
						proto != IPPROTO_TCP && proto != IPPROTO_UDP))
		return "protocol";
	if (!int_in(s, col + 1, 0, 65535, &lo) || !int_in(s, col + 2, lo, 65535, &hi))
		return "ports";
	if (!int_in(s, col + 3, 0, UINT32_MAX, &net) || !int_in(s, col + 4, 0, 32, &len) ||
	    (net & ~prefix_mask(len)))
		return "target";
	r->proto = proto;
	r->port_lo = lo;
	r->port_hi = hi;
	r->net = net;
	r->len = len;
	return NULL;
}

int store_rules(struct store *st, int64_t sg_id, struct sg_rule **rules, int64_t **ref_of,
		size_t *n, struct vpcnet_error *err)
{
	STMT s = NULL;
	*rules = NULL;
	*ref_of = NULL;
	*n = 0;
	int ret = prep(st, &s, "SELECT r.dir, r.proto, r.port_lo, r.port_hi, r.net, r.len, r.to_sg,"
			       " (SELECT name FROM sgs g WHERE g.id = r.to_sg), r.id FROM sg_rules r"
			       " WHERE r.sg_id = ?1 ORDER BY r.id", err);
	if (ret)
		return ret;
	sqlite3_bind_int64(s, 1, sg_id);
	size_t cap = 0;
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (*n == cap) {
			cap = cap ? 2 * cap : 64;
			struct sg_rule *nr = realloc(*rules, cap * sizeof(**rules));
			int64_t *no = nr ? realloc(*ref_of, cap * sizeof(**ref_of)) : NULL;
			if (nr)
				*rules = nr;
			if (no)
				*ref_of = no;
			if (!nr || !no)
				return verr(err, VPCNET_FAILED, ENOMEM, "read rules");
		}
		struct sg_rule *r = &(*rules)[*n];
		int64_t dir;
		memset(r, 0, sizeof(*r));
		const char *bad = !int_in(s, 0, SG_EGRESS, SG_INGRESS, &dir) ? "direction"
				  : rule_from_row(s, 1, r);
		if (!bad && !int_in(s, 6, 0, INT64_MAX, &(*ref_of)[*n]))
			bad = "target group";
		if (!bad && !copy_text(r->group, sizeof(r->group), s, 7))
			bad = "target group name";
		if (bad)
			return bad_row(st, err, "rule", sqlite3_column_int64(s, 8), bad);
		r->dir = dir;
		r->to_group = (*ref_of)[*n] != 0;
		(*n)++;
	}
	return rc == SQLITE_DONE ? 0 : db_err(st, err, rc, "read rules");
}

/* Appends rule row @s (proto, port_lo, port_hi, net, len) to *@rules: -ENOMEM, or -EUCLEAN
 * with *@bad naming a column out of range. */
static int push_cidr_rule(sqlite3_stmt *s, struct sg_rule **rules, size_t *n, size_t *cap,
			  const char **bad)
{
	struct sg_rule r = { 0 };
	if ((*bad = rule_from_row(s, 0, &r)))
		return -EUCLEAN;
	if (*n == *cap) {
		size_t c = *cap ? 2 * *cap : 16;
		struct sg_rule *m = realloc(*rules, c * sizeof(*m));
		if (!m)
			return -ENOMEM;
		*rules = m;
		*cap = c;
	}
	(*rules)[(*n)++] = r;
	return 0;
}

int store_rules_near(struct store *st, int64_t sg_id, int dir, uint8_t proto, uint32_t lo,
		     uint32_t hi, struct sg_rule **rules, size_t *n, struct vpcnet_error *err)
{
	STMT s = NULL;
	*rules = NULL;
	*n = 0;
	/* Prefixes meet [lo, hi] when they start in it or hold lo: those are at most 33,
	 * one per length, each found by the index. */
	int ret = prep(st, &s, "WITH RECURSIVE l(len) AS (SELECT 0 UNION ALL"
			       " SELECT len + 1 FROM l WHERE len < 32)"
			       " SELECT proto, port_lo, port_hi, net, len"
			       " FROM sg_rules INDEXED BY sg_rules_by_net"
			       " WHERE sg_id = ?1 AND dir = ?2 AND proto = ?3 AND net BETWEEN ?4 AND ?5"
			       " AND to_sg = 0"
			       " UNION ALL SELECT proto, port_lo, port_hi, net, len"
			       " FROM sg_rules INDEXED BY sg_rules_by_net"
			       " WHERE sg_id = ?1 AND dir = ?2 AND proto = ?3"
			       " AND net IN (SELECT ?4 & (4294967295 << (32 - len)) & 4294967295 FROM l)"
			       " AND +net = ?4 & (4294967295 << (32 - len)) & 4294967295"
			       " AND +net < ?4 AND to_sg = 0", err);
	if (ret)
		return ret;
	sqlite3_bind_int64(s, 1, sg_id);
	sqlite3_bind_int(s, 2, dir);
	sqlite3_bind_int(s, 3, proto);
	sqlite3_bind_int64(s, 4, lo);
	sqlite3_bind_int64(s, 5, hi);
	size_t cap = 0;
	int rc;
	const char *bad = NULL;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		if (push_cidr_rule(s, rules, n, &cap, &bad)) {
			free(*rules);
			*rules = NULL;
			return bad ? bad_row(st, err, "a rule of group", sg_id, bad)
				   : verr(err, VPCNET_FAILED, ENOMEM, "read rules");
		}
	if (rc != SQLITE_DONE) {
		free(*rules);
		*rules = NULL;
		return db_err(st, err, rc, "read rules");
	}
	return 0;
}

int store_rules_mixed(struct store *st, int64_t sg_id, int dir, uint8_t proto, bool *mixed,
		      struct vpcnet_error *err)
{
	STMT s = NULL;
	int ret = prep(st, &s, "SELECT EXISTS (SELECT 1 FROM sg_rules WHERE sg_id = ?1"
			       " AND dir = ?2 AND proto IN (0, ?3 - 1, ?3 + 1) AND to_sg = 0)", err);
	if (ret)
		return ret;
	sqlite3_bind_int64(s, 1, sg_id);
	sqlite3_bind_int(s, 2, dir);
	sqlite3_bind_int(s, 3, proto);
	int rc = sqlite3_step(s);
	if (rc != SQLITE_ROW)
		return db_err(st, err, rc, "read rules");
	*mixed = sqlite3_column_int(s, 0);
	return 0;
}

int store_cover_get(struct store *st, int64_t sg_id, int dir, int64_t *elems,
		    struct vpcnet_error *err)
{
	return query_int(st, "SELECT coalesce((SELECT elems FROM sg_covers WHERE sg_id = ?1"
			     " AND dir = ?2), -1)", sg_id, dir, elems, "read a cover's size", err);
}

int store_cover_set(struct store *st, int64_t sg_id, int dir, int64_t elems,
		    struct vpcnet_error *err)
{
	STMT s = NULL;
	/* An unchanged size is not written: a repair that rebuilds the router from the store
	 * (after a commit failed on a full disk) must not need room itself. */
	int ret = prep(st, &s, "INSERT INTO sg_covers (sg_id, dir, elems) VALUES (?1, ?2, ?3)"
			       " ON CONFLICT (sg_id, dir) DO UPDATE SET elems = excluded.elems"
			       " WHERE elems != excluded.elems", err);
	if (ret)
		return ret;
	sqlite3_bind_int64(s, 1, sg_id);
	sqlite3_bind_int(s, 2, dir);
	sqlite3_bind_int64(s, 3, elems);
	return step_done(st, s, "record a cover's size", err);
}

/* "3,7,12": a profile's groups, sorted (slot order does not change what passes). */
static void profile_key(char *buf, size_t size, int64_t *g, size_t n)
{
	sg_groups_sort(g, n);
	size_t len = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < n && len < size; i++)
		len += (size_t)snprintf(buf + len, size - len, "%s%lld", i ? "," : "",
					(long long)g[i]);
}

static int profile_parse(struct profile_row *p, const char *sgs)
{
	p->n = 0;
	for (const char *c = sgs; *c;) {
		char *end;
		long long id = strtoll(c, &end, 10);
		if (end == c || id <= 0 || p->n == SG_PER_MEMBER || (*end && *end != ','))
			return -EINVAL;
		p->sgs[p->n++] = id;
		c = *end ? end + 1 : end;
	}
	return 0;
}

int store_profile_add(struct store *st, int64_t vpc_id, bool ingress, const int64_t *g, size_t n,
		      int64_t *profile, bool *made, struct vpcnet_error *err)
{
	*profile = 0;
	*made = false;
	if (n == 0)
		return 0;
	if (n > SG_PER_MEMBER)
		return vinput(err, VPCNET_BAD_INPUT, E2BIG, "at most %d groups", SG_PER_MEMBER);
	int64_t sorted[SG_PER_MEMBER];
	char key[SG_PER_MEMBER * 21];
	memcpy(sorted, g, n * sizeof(*g));
	profile_key(key, sizeof(key), sorted, n);
	STMT q = NULL;
	int ret = prep(st, &q, "SELECT id FROM profiles WHERE vpc_id = ?1 AND ingress = ?2"
			       " AND sgs = ?3", err);
	if (ret)
		return ret;
	sqlite3_bind_int64(q, 1, vpc_id);
	sqlite3_bind_int(q, 2, ingress);
	sqlite3_bind_text(q, 3, key, -1, SQLITE_STATIC);
	int rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		*profile = sqlite3_column_int64(q, 0);
	} else if (rc == SQLITE_DONE) {
		STMT ins = NULL;
		if ((ret = prep(st, &ins, "INSERT INTO profiles (vpc_id, ingress, sgs)"
					  " VALUES (?1, ?2, ?3)", err)))
			return ret;
		sqlite3_bind_int64(ins, 1, vpc_id);
		sqlite3_bind_int(ins, 2, ingress);
		sqlite3_bind_text(ins, 3, key, -1, SQLITE_STATIC);
		if ((ret = step_done(st, ins, "add a membership profile", err)))
			return ret;
		*profile = sqlite3_last_insert_rowid(st->db);
		*made = true;
	} else {
		return db_err(st, err, rc, "read membership profiles");
	}
	if (*profile > (int64_t)UINT32_MAX)  /* a device group is 32 bits */
		return vinput(err, VPCNET_FAILED, EOVERFLOW, "membership profile ids exhausted");
	return 0;
}

int store_member_sgs_set(struct store *st, const struct member_row *m, const int64_t *g,
			 size_t n, int64_t *profile, bool *made, struct vpcnet_error *err)
{
	STMT d = NULL;
	int ret = prep(st, &d, "DELETE FROM member_sgs WHERE member_id = ?1", err);
	if (ret)
		return ret;
	sqlite3_bind_int64(d, 1, m->id);
	if ((ret = step_done(st, d, "detach groups", err)))
		return ret;
	for (size_t i = 0; i < n; i++) {
		STMT s = NULL;
		if ((ret = prep(st, &s, "INSERT INTO member_sgs (member_id, sg_id, slot)"
					" VALUES (?,?,?)", err)))
			return ret;
		sqlite3_bind_int64(s, 1, m->id);
		sqlite3_bind_int64(s, 2, g[i]);
		sqlite3_bind_int64(s, 3, i);
		if ((ret = step_done(st, s, "attach group", err)))
			return ret;
	}
	if ((ret = store_profile_add(st, m->vpc_id, m->kind == MEMBER_INSTANCE, g, n,
				     profile, made, err)))
		return ret;
	STMT u = NULL;
	if ((ret = prep(st, &u, "UPDATE members SET profile = ?2 WHERE id = ?1", err)))
		return ret;
	sqlite3_bind_int64(u, 1, m->id);
	sqlite3_bind_int64(u, 2, *profile);
	return step_done(st, u, "set the membership profile", err);
}

static int profile_rows(struct store *st, sqlite3_stmt *s, struct profile_row **out, size_t *n,
			struct vpcnet_error *err)
{
	size_t cap = 0;
	int rc;
	*out = NULL;
	*n = 0;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct profile_row p = { .id = sqlite3_column_int64(s, 0),
					 .ingress = sqlite3_column_int(s, 1) };
		const char *sgs = (const char *)sqlite3_column_text(s, 2);
		if (profile_parse(&p, sgs ? sgs : "")) {
			free(*out);
			return vinput(err, VPCNET_FAILED, EINVAL, "state store: profile %lld: bad"
				      " groups '%s'", (long long)p.id, sgs);
		}
		if (*n == cap) {
			cap = cap ? 2 * cap : 8;
			struct profile_row *more = realloc(*out, cap * sizeof(p));
			if (!more) {
				free(*out);
				return verr(err, VPCNET_FAILED, ENOMEM, "membership profiles");
			}
			*out = more;
		}
		(*out)[(*n)++] = p;
	}
	if (rc != SQLITE_DONE) {
		free(*out);
		return db_err(st, err, rc, "read membership profiles");
	}
	return 0;
}

int store_profile_get(struct store *st, int64_t id, struct profile_row *out,
		      struct vpcnet_error *err)
{
	STMT s = NULL;
	int ret = prep(st, &s, "SELECT id, ingress, sgs FROM profiles WHERE id = ?1", err);
	if (ret)
		return ret;
	sqlite3_bind_int64(s, 1, id);
	struct profile_row *rows;
	size_t n;
	if ((ret = profile_rows(st, s, &rows, &n, err)))
		return ret;
	if (n)
		*out = rows[0];
	free(rows);
	return n ? 0 : vinput(err, VPCNET_NOT_FOUND, ENOENT, "membership profile %lld not found",
			      (long long)id);
}

int store_profiles_unused(struct store *st, int64_t vpc_id, struct profile_row **out, size_t *n,
			  struct vpcnet_error *err)
{
	STMT s = NULL;
	int ret = prep(st, &s, "SELECT id, ingress, sgs FROM profiles p WHERE vpc_id = ?1 AND"
			       " NOT EXISTS (SELECT 1 FROM members m WHERE m.profile = p.id)", err);
	if (ret)
		return ret;
	sqlite3_bind_int64(s, 1, vpc_id);
	return profile_rows(st, s, out, n, err);
}

int store_profile_users(struct store *st, int64_t profile, int64_t except, int64_t *n,
			struct vpcnet_error *err)
{
	return query_int(st, "SELECT count(*) FROM members WHERE profile = ?1 AND id != ?2",
			 profile, except, n, "profile users", err);
}

int store_profile_delete(struct store *st, int64_t id, struct vpcnet_error *err)
{
	return delete_id(st, "DELETE FROM profiles WHERE id = ?1", id, err);
}

int store_member_sgs(struct store *st, int64_t member_id, int64_t *g, size_t max, size_t *n,
		     struct vpcnet_error *err)
{
	STMT s = NULL;
	*n = 0;
	int ret = prep(st, &s, "SELECT sg_id FROM member_sgs WHERE member_id = ?1 ORDER BY slot", err);
	if (ret)
		return ret;
	sqlite3_bind_int64(s, 1, member_id);
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW && *n < max)
		g[(*n)++] = sqlite3_column_int64(s, 0);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : db_err(st, err, rc, "read groups");
}

int store_ref_add(struct store *st, int64_t sg_id, int dir, int64_t ref_id, bool *added,
		  struct vpcnet_error *err)
{
	STMT s = NULL;
	int ret = prep(st, &s, "INSERT OR IGNORE INTO sg_refs (sg_id, dir, ref_id) VALUES (?,?,?)",
		       err);
	if (ret)
		return ret;
	sqlite3_bind_int64(s, 1, sg_id);
	sqlite3_bind_int(s, 2, dir);
	sqlite3_bind_int64(s, 3, ref_id);
	if ((ret = step_done(st, s, "record group reference", err)))
		return ret;
	*added = sqlite3_changes(st->db) > 0;
	return 0;
}

/* The ids that @sql (binding ?1 and ?2) returns, in a malloc'd array. */
static int ids_of(struct store *st, const char *sql, int64_t a, int b, int64_t **out, size_t *n,
		  struct vpcnet_error *err)
{
	STMT s = NULL;
	*out = NULL;
	*n = 0;
	int ret = prep(st, &s, sql, err);
	if (ret)
		return ret;
	sqlite3_bind_int64(s, 1, a);
	sqlite3_bind_int(s, 2, b);
	size_t cap = 0;
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (*n == cap) {
			cap = cap ? 2 * cap : 16;
			int64_t *m = realloc(*out, cap * sizeof(**out));
			if (!m) {
				ret = verr(err, VPCNET_FAILED, ENOMEM, "read references");
				goto fail;
			}
			*out = m;
		}
		(*out)[(*n)++] = sqlite3_column_int64(s, 0);
	}
	if (rc == SQLITE_DONE)
		return 0;
	ret = db_err(st, err, rc, "read references");
fail:
	free(*out);
	*out = NULL;
	*n = 0;
	return ret;
}

int store_refs(struct store *st, int64_t sg_id, int dir, int64_t **out, size_t *n,
	       struct vpcnet_error *err)
{
	return ids_of(st, "SELECT ref_id FROM sg_refs WHERE sg_id = ?1 AND dir = ?2 ORDER BY ref_id",
		      sg_id, dir, out, n, err);
}

int store_ref_holders(struct store *st, int64_t ref_id, int dir, int64_t **out, size_t *n,
		      struct vpcnet_error *err)
{
	return ids_of(st, "SELECT sg_id FROM sg_refs WHERE ref_id = ?1 AND dir = ?2 ORDER BY sg_id",
		      ref_id, dir, out, n, err);
}

/* Read-only: for looking, never for making (vpcnet doctor).  Nothing is created, the
 * journal mode is left as it is and an older schema is not migrated but refused; every
 * write fails (EROFS). */
int store_open_ro(struct store **out, const char *dir, struct vpcnet_error *err)
{
	struct store *st = calloc(1, sizeof(*st));
	if (!st)
		return verr(err, VPCNET_FAILED, ENOMEM, "state store");
	snprintf(st->path, sizeof(st->path), "%s/state.db", dir);
	int ret, fd = open(st->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		ret = verr(err, errno == ENOENT ? VPCNET_NOT_FOUND : VPCNET_FAILED, errno,
			   "state store %s", st->path);
		goto fail;
	}
	ret = check_db(fd, st->path, err);
	close(fd);
	if (ret)
		goto fail;
	if ((ret = db_open(st, st->path, SQLITE_OPEN_READONLY, err)))
		goto fail;
	int version = schema_version(st);
	if (version > SCHEMA_VERSION) {
		ret = newer_schema(st, version, err);
		goto fail;
	}
	if (version != SCHEMA_VERSION) {
		ret = vinput(err, VPCNET_FAILED, ESTALE,
			     "state store %s: schema version %d, not yet migrated to %d (the next "
			     "vpcnet command that writes does it)", st->path, version, SCHEMA_VERSION);
		goto fail;
	}
	*out = st;
	return 0;
fail:
	store_close(st);
	return ret;
}
