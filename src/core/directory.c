/*
** directory.c — the accounts, their tags and attributes, and the bitmap index over them.
**
** Layout, chosen for the goal of <= 100 bytes per account at 10M accounts:
**   accounts[uid]  one pointer per uid below next_uid; NULL where there is no account.
**                  The array grows by half, and its unused tail is never written, so the
**                  kernel gives it no pages: 8 resident bytes per uid, not 12.
**   account block  one per live account, from a blockpool (no malloc header, 4-byte
**                  granularity; its size is always computable from its fields): a 4-byte header, the UserID, then 4-byte
**                  ids: one per attribute the account has (in slot order), then room for
**                  tag_cap tag ids (the first n_tags used, in the order they were added).
**                  An account with no tags and no attributes is header + UserID only.
**   by_user_id     strmap UserID → uid; 8 bytes a slot, the key read from the block.
**   tags           an intern pool: each distinct tag once, as id → {bitmap, name} plus a
**                  strmap name → id. Accounts hold 4-byte ids, not strings or pointers.
**   attr_values    one intern pool per attribute slot, the same way.
**   all            bitmap of every live uid.
**
** Invariants, after every public call (tests/unit/test_directory.c checks them by brute
** force): each tag or value entry's bitmap is exactly the set of uids whose block holds
** its id, and is never empty (an entry is dropped when its last member leaves); `all` is
** exactly the live uids; by_user_id holds exactly the live accounts. A call that fails
** changes nothing, with one documented exception: CRoaring 0.2.66 cannot report an
** allocation failure inside roaring_bitmap_add, so that one is not caught.
**
** Ids of dropped entries are reused, so an id is only meaningful while its entry lives.
*/
#include "core/directory.h"

#include <errno.h>
#include <malloc.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/blockpool.h"
#include "core/strmap.h"

_Static_assert(DIR_MAX_TAGS <= UINT8_MAX, "tag counts are kept in a byte");
_Static_assert(DIR_ATTR_SLOTS <= 16, "attribute slots are a 16-bit mask");
_Static_assert(DIR_UID_NONE == STRMAP_NONE, "directory_find returns strmap's miss as is");

/* ---------------------------------------------------------------- heap accounting */

/* What a block really occupies: its usable size plus the allocator's chunk header
** (glibc keeps one size_t in front of every chunk). */
static size_t heap_cost(const void *block) {
  return block ? malloc_usable_size((void *)block) + sizeof(size_t) : 0;
}

/* The portable serialised size is the container payloads, computed from container
** headers only (O(containers): roaring_bitmap_statistics would visit every value). Add
** what a bitmap holds besides: its struct, the key/pointer/typecode arrays, each
** container's small struct, and a chunk header per allocation. An estimate: array
** containers may hold some spare capacity. */
static size_t bitmap_memory_bytes(const roaring_bitmap_t *b) {
  const roaring_array_t *index = &b->high_low_container;
  const size_t chunk_header = sizeof(size_t);
  const size_t container_struct = 16;
  size_t index_entry = sizeof(void *) + sizeof(uint16_t) + sizeof(uint8_t);
  size_t bytes = sizeof *b + chunk_header;
  bytes += (size_t)index->allocation_size * index_entry + chunk_header;
  bytes += (size_t)index->size * (container_struct + 2 * chunk_header);
  bytes += roaring_bitmap_portable_size_in_bytes(b);
  return bytes;
}

/* ---------------------------------------------------------------- intern pools */

/* One distinct tag, or one distinct value of an attribute slot. */
typedef struct interned {
  roaring_bitmap_t *members; /* never empty while the entry exists */
  char name[];
} interned;

typedef struct intern_pool {
  strmap by_name;     /* name → id; keys read from entries[id]->name */
  interned **entries; /* id → entry; NULL for an unused id */
  uint32_t n_ids;     /* ids handed out so far */
  uint32_t cap_ids;
  uint32_t *free_ids; /* ids of dropped entries, handed out again first */
  uint32_t n_free;
  uint32_t cap_free;
  size_t heap_bytes; /* the entry blocks; bitmaps are counted separately */
} intern_pool;

static const char *pool_key_of(const void *ctx, uint32_t id) {
  const intern_pool *p = ctx;
  return p->entries[id]->name;
}

static void pool_init(intern_pool *p) {
  memset(p, 0, sizeof *p);
  strmap_init(&p->by_name, pool_key_of, p);
}

static void pool_destroy(intern_pool *p) {
  for (uint32_t id = 0; id < p->n_ids; id++) {
    if (p->entries[id]) {
      roaring_bitmap_free(p->entries[id]->members);
      free(p->entries[id]);
    }
  }
  free(p->entries);
  free(p->free_ids);
  strmap_destroy(&p->by_name);
}

static uint32_t pool_find(const intern_pool *p, const char *name) {
  return strmap_get(&p->by_name, name);
}

static const interned *pool_entry(const intern_pool *p, uint32_t id) { return p->entries[id]; }

static const roaring_bitmap_t *pool_members_of(const intern_pool *p, const char *name) {
  uint32_t id = pool_find(p, name);
  return id == STRMAP_NONE ? NULL : p->entries[id]->members;
}

static int pool_take_id(intern_pool *p, uint32_t *id) {
  if (p->n_free > 0) {
    *id = p->free_ids[--p->n_free];
    return 0;
  }
  if (p->n_ids == p->cap_ids) {
    if (p->cap_ids > UINT32_MAX / 4)
      return -ENOMEM;
    uint32_t cap = p->cap_ids ? p->cap_ids * 2 : 16;
    interned **grown = realloc(p->entries, (size_t)cap * sizeof(interned *));
    if (!grown)
      return -ENOMEM;
    p->entries = grown;
    p->cap_ids = cap;
  }
  *id = p->n_ids++;
  p->entries[*id] = NULL;
  return 0;
}

/* If the free list cannot grow, the id is simply never reused: harmless. */
static void pool_give_back_id(intern_pool *p, uint32_t id) {
  if (p->n_free == p->cap_free) {
    uint32_t cap = p->cap_free ? p->cap_free * 2 : 16;
    uint32_t *grown = realloc(p->free_ids, (size_t)cap * sizeof *grown);
    if (!grown)
      return;
    p->free_ids = grown;
    p->cap_free = cap;
  }
  p->free_ids[p->n_free++] = id;
}

/* The id of name, creating an entry with an empty bitmap when there is none. The caller
** must give a new entry a member or drop it (pool_drop_if_empty) before returning. */
static int pool_intern(intern_pool *p, const char *name, uint32_t *id_out) {
  uint32_t id = pool_find(p, name);
  if (id != STRMAP_NONE) {
    *id_out = id;
    return 0;
  }
  size_t len = strlen(name);
  interned *e = malloc(sizeof *e + len + 1);
  roaring_bitmap_t *members = roaring_bitmap_create();
  if (!e || !members || pool_take_id(p, &id) != 0)
    goto out_of_memory;
  e->members = members;
  memcpy(e->name, name, len + 1);
  p->entries[id] = e;
  if (strmap_put(&p->by_name, e->name, id) != 0) {
    p->entries[id] = NULL;
    pool_give_back_id(p, id);
    goto out_of_memory;
  }
  p->heap_bytes += heap_cost(e);
  *id_out = id;
  return 0;

out_of_memory:
  if (members)
    roaring_bitmap_free(members);
  free(e);
  return -ENOMEM;
}

static void pool_drop(intern_pool *p, uint32_t id) {
  interned *e = p->entries[id];
  strmap_remove(&p->by_name, e->name);
  p->heap_bytes -= heap_cost(e);
  roaring_bitmap_free(e->members);
  free(e);
  p->entries[id] = NULL;
  pool_give_back_id(p, id);
}

static void pool_drop_if_empty(intern_pool *p, uint32_t id) {
  if (roaring_bitmap_is_empty(p->entries[id]->members))
    pool_drop(p, id);
}

static void pool_add_member(intern_pool *p, uint32_t id, uint32_t uid) {
  roaring_bitmap_add(p->entries[id]->members, uid);
}

/* Removes uid from the entry, dropping the entry when nobody is left in it. */
static void pool_remove_member(intern_pool *p, uint32_t id, uint32_t uid) {
  roaring_bitmap_remove(p->entries[id]->members, uid);
  pool_drop_if_empty(p, id);
}

static size_t pool_memory_bytes(const intern_pool *p) {
  size_t bytes = (size_t)p->cap_ids * sizeof(interned *) + (size_t)p->cap_free * sizeof *p->free_ids;
  bytes += strmap_memory_bytes(&p->by_name) + p->heap_bytes;
  for (uint32_t id = 0; id < p->n_ids; id++)
    if (p->entries[id])
      bytes += bitmap_memory_bytes(p->entries[id]->members);
  return bytes;
}

/* ---------------------------------------------------------------- account blocks */

typedef struct account {
  uint8_t n_tags;      /* tag ids in use */
  uint8_t tag_cap;     /* tag ids the block has room for */
  uint16_t attr_slots; /* bit s set: slot s has a value */
  char user_id[];      /* NUL-terminated; the 4-byte-aligned id area follows */
} account;

/* Where the id area starts in a block whose UserID is id_len bytes long. */
static size_t ids_offset(size_t id_len) {
  return (offsetof(account, user_id) + id_len + 1 + 3) & ~(size_t)3;
}

static unsigned attr_count(const account *a) { return (unsigned)__builtin_popcount(a->attr_slots); }

static bool has_attr(const account *a, int slot) { return (a->attr_slots >> slot) & 1u; }

/* Position of slot's value among the account's attribute ids (they are in slot order). */
static unsigned attr_index(const account *a, int slot) {
  return (unsigned)__builtin_popcount(a->attr_slots & ((1u << slot) - 1u));
}

static uint32_t *attr_ids(account *a) {
  return (uint32_t *)((char *)a + ids_offset(strlen(a->user_id)));
}

static const uint32_t *attr_ids_const(const account *a) {
  return (const uint32_t *)((const char *)a + ids_offset(strlen(a->user_id)));
}

static uint32_t *tag_ids(account *a) { return attr_ids(a) + attr_count(a); }

static const uint32_t *tag_ids_const(const account *a) {
  return attr_ids_const(a) + attr_count(a);
}

static size_t block_size(size_t id_len, unsigned n_attrs, unsigned tag_cap) {
  return ids_offset(id_len) + ((size_t)n_attrs + tag_cap) * sizeof(uint32_t);
}

static size_t account_size(const account *a) {
  return block_size(strlen(a->user_id), attr_count(a), a->tag_cap);
}

/* Tag room grows one at a time while small (most accounts have a few tags and malloc
** rounds up anyway), then by half, never past the cap. */
static unsigned grown_tag_cap(unsigned n_tags) {
  unsigned cap = n_tags < 4 ? n_tags + 1 : n_tags + n_tags / 2;
  return cap > DIR_MAX_TAGS ? DIR_MAX_TAGS : cap;
}

/* ---------------------------------------------------------------- the directory */

struct directory {
  account **accounts; /* uid → block, NULL where there is no account */
  uint32_t n_slots;   /* length of accounts[]; entries from next_uid on are not set */
  uint32_t next_uid;  /* one more than the largest uid ever added */
  size_t n_accounts;
  blockpool blocks;   /* the account blocks */
  strmap by_user_id;
  roaring_bitmap_t *all;
  intern_pool tags;
  intern_pool attr_values[DIR_ATTR_SLOTS];
  char *attr_names[DIR_ATTR_SLOTS];
  /* directory_tags() spells an account's tag ids out here: accounts keep 4-byte ids, not
  ** 8-byte pointers, and this view is what lets them. */
  const char **tag_view;
};

static const char *user_id_key_of(const void *ctx, uint32_t uid) {
  const directory *d = ctx;
  return d->accounts[uid]->user_id;
}

static account *account_of(const directory *d, uint32_t uid) {
  return uid < d->next_uid ? d->accounts[uid] : NULL;
}

static bool slot_is_valid(int slot) { return slot >= 0 && slot < DIR_ATTR_SLOTS; }

/* Resizes uid's block from old_size (what it was allocated with) to size; on failure the
** block is untouched. */
static int account_realloc(directory *d, uint32_t uid, size_t old_size, size_t size) {
  account *a = blockpool_resize(&d->blocks, d->accounts[uid], old_size, size);
  if (!a)
    return -ENOMEM;
  d->accounts[uid] = a;
  return 0;
}

/* Gives back the block's unused tail; old_size is its size before the caller shrank its
** fields. If that fails (no memory for the smaller block), the block stays where it is
** and is later handed back under its new, smaller size: safe, a few bytes lost. */
static void account_shrink_to_fit(directory *d, uint32_t uid, size_t old_size) {
  (void)account_realloc(d, uid, old_size, account_size(d->accounts[uid]));
}

static int account_reserve_tag(directory *d, uint32_t uid) {
  account *a = d->accounts[uid];
  if (a->n_tags < a->tag_cap)
    return 0;
  unsigned cap = grown_tag_cap(a->n_tags);
  /* The tag ids are last in the block, so growing moves nothing. */
  int rc = account_realloc(d, uid, account_size(a),
                           block_size(strlen(a->user_id), attr_count(a), cap));
  if (rc)
    return rc;
  d->accounts[uid]->tag_cap = (uint8_t)cap;
  return 0;
}

static int account_insert_attr(directory *d, uint32_t uid, int slot, uint32_t value_id) {
  size_t old_size = account_size(d->accounts[uid]);
  int rc = account_realloc(d, uid, old_size, old_size + sizeof(uint32_t));
  if (rc)
    return rc;
  account *a = d->accounts[uid];
  uint32_t *ids = attr_ids(a);
  unsigned k = attr_index(a, slot);
  memmove(ids + k + 1, ids + k, (attr_count(a) - k + a->n_tags) * sizeof *ids);
  ids[k] = value_id;
  a->attr_slots |= (uint16_t)(1u << slot);
  return 0;
}

static void account_erase_attr(directory *d, uint32_t uid, int slot) {
  account *a = d->accounts[uid];
  size_t old_size = account_size(a);
  uint32_t *ids = attr_ids(a);
  unsigned k = attr_index(a, slot);
  memmove(ids + k, ids + k + 1, (attr_count(a) - k - 1 + a->n_tags) * sizeof *ids);
  a->attr_slots &= (uint16_t)~(1u << slot);
  account_shrink_to_fit(d, uid, old_size);
}

static int account_tag_index(const account *a, uint32_t tag_id) {
  const uint32_t *tags = tag_ids_const(a);
  for (unsigned i = 0; i < a->n_tags; i++)
    if (tags[i] == tag_id)
      return (int)i;
  return -1;
}

directory *directory_new(void) {
  directory *d = calloc(1, sizeof *d);
  if (!d)
    return NULL;
  strmap_init(&d->by_user_id, user_id_key_of, d);
  blockpool_init(&d->blocks);
  pool_init(&d->tags);
  for (int s = 0; s < DIR_ATTR_SLOTS; s++)
    pool_init(&d->attr_values[s]);
  d->all = roaring_bitmap_create();
  d->tag_view = malloc(DIR_MAX_TAGS * sizeof *d->tag_view);
  if (!d->all || !d->tag_view) {
    directory_free(d);
    return NULL;
  }
  return d;
}

void directory_free(directory *d) {
  if (!d)
    return;
  for (uint32_t uid = 0; uid < d->next_uid; uid++)
    if (d->accounts[uid])
      blockpool_free(&d->blocks, d->accounts[uid], account_size(d->accounts[uid]));
  blockpool_destroy(&d->blocks);
  free(d->accounts);
  strmap_destroy(&d->by_user_id);
  if (d->all)
    roaring_bitmap_free(d->all);
  pool_destroy(&d->tags);
  for (int s = 0; s < DIR_ATTR_SLOTS; s++) {
    pool_destroy(&d->attr_values[s]);
    free(d->attr_names[s]);
  }
  free(d->tag_view);
  free(d);
}

/* ---------------------------------------------------------------- accounts */

uint32_t directory_find(const directory *d, const char *user_id) {
  return strmap_get(&d->by_user_id, user_id);
}

static int ensure_uid_slot(directory *d, uint32_t uid) {
  if (uid < d->n_slots)
    return 0;
  uint64_t n = (uint64_t)d->n_slots + d->n_slots / 2;
  if (n < (uint64_t)uid + 1)
    n = (uint64_t)uid + 1;
  if (n < 1024)
    n = 1024;
  if (n > UINT32_MAX)
    n = UINT32_MAX; /* uid < DIR_UID_NONE, so uid + 1 still fits */
  account **grown = realloc(d->accounts, (size_t)n * sizeof(account *));
  if (!grown)
    return -ENOMEM;
  d->accounts = grown;
  d->n_slots = (uint32_t)n;
  return 0;
}

static account *account_new(directory *d, const char *user_id) {
  size_t len = strlen(user_id);
  account *a = blockpool_alloc(&d->blocks, block_size(len, 0, 0));
  if (!a)
    return NULL;
  a->n_tags = 0;
  a->tag_cap = 0;
  a->attr_slots = 0;
  memcpy(a->user_id, user_id, len + 1);
  return a;
}

int directory_add_account(directory *d, uint32_t uid, const char *user_id) {
  if (uid == DIR_UID_NONE || !user_id)
    return -EINVAL;
  if (account_of(d, uid) || directory_find(d, user_id) != DIR_UID_NONE)
    return -EEXIST;
  if (ensure_uid_slot(d, uid) != 0)
    return -ENOMEM;
  if (uid > d->next_uid) /* a gap (accounts deleted before a restart): no accounts there */
    memset(d->accounts + d->next_uid, 0, (size_t)(uid - d->next_uid) * sizeof(account *));
  account *a = account_new(d, user_id);
  if (!a)
    return -ENOMEM;
  d->accounts[uid] = a;
  if (strmap_put(&d->by_user_id, a->user_id, uid) != 0) {
    d->accounts[uid] = NULL;
    blockpool_free(&d->blocks, a, account_size(a));
    return -ENOMEM;
  }
  roaring_bitmap_add(d->all, uid);
  /* Imported accounts get consecutive uids: as each roaring container (65,536 uids) fills,
  ** turn `all` into runs, so that a push to every account copies and stores a few bytes
  ** per container instead of an 8 KiB bitset (1.2 MiB at 10M accounts). Cheap: the other
  ** containers are runs already. */
  if ((uid & 0xFFFFu) == 0xFFFFu) roaring_bitmap_run_optimize(d->all);
  d->n_accounts++;
  if (uid >= d->next_uid)
    d->next_uid = uid + 1;
  return 0;
}

uint32_t directory_next_uid(const directory *d) { return d->next_uid; }

static void leave_all_tags(directory *d, uint32_t uid) {
  account *a = d->accounts[uid];
  const uint32_t *tags = tag_ids(a);
  for (unsigned i = 0; i < a->n_tags; i++)
    pool_remove_member(&d->tags, tags[i], uid);
  a->n_tags = 0;
}

static void leave_all_attrs(directory *d, uint32_t uid) {
  account *a = d->accounts[uid];
  const uint32_t *values = attr_ids(a);
  unsigned k = 0;
  for (int s = 0; s < DIR_ATTR_SLOTS; s++)
    if (has_attr(a, s))
      pool_remove_member(&d->attr_values[s], values[k++], uid);
}

int directory_remove_account(directory *d, uint32_t uid) {
  account *a = account_of(d, uid);
  if (!a)
    return -ENOENT;
  leave_all_tags(d, uid);
  leave_all_attrs(d, uid);
  strmap_remove(&d->by_user_id, a->user_id);
  roaring_bitmap_remove(d->all, uid);
  blockpool_free(&d->blocks, a, account_size(a));
  d->accounts[uid] = NULL;
  d->n_accounts--;
  return 0;
}

const char *directory_user_id(const directory *d, uint32_t uid) {
  const account *a = account_of(d, uid);
  return a ? a->user_id : NULL;
}

size_t directory_account_count(const directory *d) { return d->n_accounts; }

const roaring_bitmap_t *directory_all(const directory *d) { return d->all; }

/* ---------------------------------------------------------------- tags */

const char *const *directory_tags(const directory *d, uint32_t uid, size_t *count) {
  *count = 0;
  const account *a = account_of(d, uid);
  if (!a)
    return NULL;
  const uint32_t *tags = tag_ids_const(a);
  for (unsigned i = 0; i < a->n_tags; i++)
    d->tag_view[i] = pool_entry(&d->tags, tags[i])->name;
  *count = a->n_tags;
  return d->tag_view;
}

bool directory_has_tag(const directory *d, uint32_t uid, const char *tag) {
  const account *a = account_of(d, uid);
  if (!a)
    return false;
  uint32_t id = pool_find(&d->tags, tag);
  return id != STRMAP_NONE && account_tag_index(a, id) >= 0;
}

int directory_add_tag(directory *d, uint32_t uid, const char *tag) {
  account *a = account_of(d, uid);
  if (!a)
    return -ENOENT;
  uint32_t id = pool_find(&d->tags, tag);
  if (id != STRMAP_NONE && account_tag_index(a, id) >= 0)
    return 0;
  if (a->n_tags >= DIR_MAX_TAGS)
    return -ENOSPC;
  int rc = pool_intern(&d->tags, tag, &id);
  if (rc)
    return rc;
  rc = account_reserve_tag(d, uid);
  if (rc) {
    pool_drop_if_empty(&d->tags, id);
    return rc;
  }
  a = d->accounts[uid];
  tag_ids(a)[a->n_tags++] = id;
  pool_add_member(&d->tags, id, uid);
  return 1;
}

int directory_remove_tag(directory *d, uint32_t uid, const char *tag) {
  account *a = account_of(d, uid);
  if (!a)
    return -ENOENT;
  uint32_t id = pool_find(&d->tags, tag);
  int i = id == STRMAP_NONE ? -1 : account_tag_index(a, id);
  if (i < 0)
    return 0;
  uint32_t *tags = tag_ids(a);
  /* Shift rather than swap: the order tags were added in is part of the contract. */
  memmove(tags + i, tags + i + 1, (a->n_tags - (unsigned)i - 1) * sizeof *tags);
  a->n_tags--;
  pool_remove_member(&d->tags, id, uid);
  if (a->n_tags * 2u <= a->tag_cap) {
    size_t old_size = account_size(a);
    a->tag_cap = a->n_tags;
    account_shrink_to_fit(d, uid, old_size);
  }
  return 1;
}

int directory_remove_all_tags(directory *d, uint32_t uid) {
  account *a = account_of(d, uid);
  if (!a)
    return -ENOENT;
  int removed = a->n_tags;
  leave_all_tags(d, uid);
  size_t old_size = account_size(a);
  a->tag_cap = 0;
  account_shrink_to_fit(d, uid, old_size);
  return removed;
}

const roaring_bitmap_t *directory_tag_members(const directory *d, const char *tag) {
  return pool_members_of(&d->tags, tag);
}

size_t directory_tag_count(const directory *d) { return strmap_count(&d->tags.by_name); }

/* ---------------------------------------------------------------- attribute names */

const char *directory_attr_name(const directory *d, int slot) {
  return slot_is_valid(slot) ? d->attr_names[slot] : NULL;
}

int directory_attr_slot(const directory *d, const char *name) {
  for (int s = 0; s < DIR_ATTR_SLOTS; s++)
    if (d->attr_names[s] && strcmp(d->attr_names[s], name) == 0)
      return s;
  return -1;
}

int directory_set_attr_name(directory *d, int slot, const char *name) {
  if (!slot_is_valid(slot))
    return -EINVAL;
  if (!name) { /* unnamed for a moment, e.g. while two slots swap names */
    free(d->attr_names[slot]);
    d->attr_names[slot] = NULL;
    return 0;
  }
  int owner = directory_attr_slot(d, name);
  if (owner == slot)
    return 0;
  if (owner >= 0)
    return -EEXIST;
  char *copy = strdup(name);
  if (!copy)
    return -ENOMEM;
  free(d->attr_names[slot]);
  d->attr_names[slot] = copy;
  return 0;
}

/* ---------------------------------------------------------------- attribute values */

const char *directory_attr_value(const directory *d, uint32_t uid, int slot) {
  const account *a = account_of(d, uid);
  if (!a || !slot_is_valid(slot) || !has_attr(a, slot))
    return NULL;
  uint32_t id = attr_ids_const(a)[attr_index(a, slot)];
  return pool_entry(&d->attr_values[slot], id)->name;
}

int directory_set_attr(directory *d, uint32_t uid, int slot, const char *value) {
  if (!slot_is_valid(slot) || !value)
    return -EINVAL;
  account *a = account_of(d, uid);
  if (!a)
    return -ENOENT;
  intern_pool *pool = &d->attr_values[slot];
  uint32_t old_id = has_attr(a, slot) ? attr_ids(a)[attr_index(a, slot)] : STRMAP_NONE;
  uint32_t new_id;
  int rc = pool_intern(pool, value, &new_id);
  if (rc)
    return rc;
  if (new_id == old_id)
    return 0;
  if (old_id == STRMAP_NONE) {
    rc = account_insert_attr(d, uid, slot, new_id);
    if (rc) {
      pool_drop_if_empty(pool, new_id);
      return rc;
    }
  } else {
    attr_ids(a)[attr_index(a, slot)] = new_id;
    pool_remove_member(pool, old_id, uid);
  }
  pool_add_member(pool, new_id, uid);
  return 0;
}

int directory_remove_attr(directory *d, uint32_t uid, int slot) {
  if (!slot_is_valid(slot))
    return -EINVAL;
  account *a = account_of(d, uid);
  if (!a)
    return -ENOENT;
  if (!has_attr(a, slot))
    return 0;
  uint32_t id = attr_ids(a)[attr_index(a, slot)];
  account_erase_attr(d, uid, slot);
  pool_remove_member(&d->attr_values[slot], id, uid);
  return 1;
}

const roaring_bitmap_t *directory_attr_members(const directory *d, int slot, const char *value) {
  return slot_is_valid(slot) ? pool_members_of(&d->attr_values[slot], value) : NULL;
}

/* ---------------------------------------------------------------- memory */

size_t directory_memory_bytes(const directory *d) {
  size_t bytes = heap_cost(d) + heap_cost(d->tag_view);
  bytes += (size_t)d->next_uid * sizeof(account *);   /* the tail is never touched */
  bytes += blockpool_held_bytes(&d->blocks);
  bytes += strmap_memory_bytes(&d->by_user_id);
  bytes += bitmap_memory_bytes(d->all);
  bytes += pool_memory_bytes(&d->tags);
  for (int s = 0; s < DIR_ATTR_SLOTS; s++)
    bytes += pool_memory_bytes(&d->attr_values[s]) + heap_cost(d->attr_names[s]);
  return bytes;
}
