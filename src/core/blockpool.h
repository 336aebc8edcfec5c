/*
** blockpool.h — small blocks without a per-block header, for millions of account records.
**
** Why: glibc puts an 8-byte header in front of every chunk and rounds chunks to 16 bytes,
** which for a 52-byte account block is 12 bytes of 64 (a tenth of an account's memory at
** 10M accounts). A blockpool carves blocks of 4-byte granularity out of 64 KiB slabs, and
** keeps no header: the caller passes each block's size back to free and resize it (the
** directory can always compute it from the block's own fields).
**
** Guarantees:
** - Blocks are 4-byte aligned and hold at least the size asked for; their bytes are not
**   initialised. A block of more than BLOCKPOOL_MAX bytes is an ordinary malloc.
** - A freed block goes to the free list of its size and is the next one of that size
**   handed out; slabs are given back only by blockpool_destroy (a directory's size moves
**   slowly, and a freed account's room serves the next import).
** - Under AddressSanitizer every block is its own malloc, so each one is still checked.
** - blockpool_resize keeps the first min(old, new) bytes; on failure the block is left as
**   it was and NULL is returned.
** One owner thread.
*/
#ifndef IMCAST_BLOCKPOOL_H
#define IMCAST_BLOCKPOOL_H

#include <stddef.h>

#define BLOCKPOOL_MAX 256

typedef struct blockpool {
  void *free_lists[BLOCKPOOL_MAX / 4 + 1];   /* by size / 4 */
  char *bump, *bump_end;                     /* the current slab's unused rest */
  void *slabs;                               /* every slab, linked through its first bytes */
  size_t held_bytes;                         /* slabs + big blocks: what the pool costs */
} blockpool;

void blockpool_init(blockpool *bp);
/* Gives every slab back. Blocks still handed out become invalid; free them first (the big
** ones, and under AddressSanitizer all, are mallocs of their own). */
void blockpool_destroy(blockpool *bp);
void *blockpool_alloc(blockpool *bp, size_t size);
void blockpool_free(blockpool *bp, void *block, size_t size);
void *blockpool_resize(blockpool *bp, void *block, size_t old_size, size_t new_size);
/* Bytes the pool holds from the system: slabs and big blocks. */
size_t blockpool_held_bytes(const blockpool *bp);

#endif
