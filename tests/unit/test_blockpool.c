/*
** test_blockpool.c — headerless small blocks: sizes, reuse, resizing, big blocks, slabs.
**
** Under AddressSanitizer the pool hands out plain mallocs (so ASan checks each block);
** the tests that are about slab reuse say so and check the slab case only there.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "core/blockpool.h"

#if defined(__SANITIZE_ADDRESS__)
#define ALL_MALLOC 1
#else
#define ALL_MALLOC 0
#endif

static void fill(void *p, size_t n, unsigned char seed)
{
  for (size_t i = 0; i < n; i++) ((unsigned char *)p)[i] = (unsigned char)(seed + i);
}

static int holds(const void *p, size_t n, unsigned char seed)
{
  for (size_t i = 0; i < n; i++)
    if (((const unsigned char *)p)[i] != (unsigned char)(seed + i)) return 0;
  return 1;
}

/* Many blocks of every small size, spread over many slabs: each keeps its own bytes,
** is 4-byte aligned, and no two overlap. */
static void test_blocks_keep_their_bytes(void **state)
{
  (void)state;
  blockpool bp;
  blockpool_init(&bp);
  enum { N = 20000 };
  static void *blocks[N];
  for (int i = 0; i < N; i++) {
    size_t size = 1 + (size_t)i % BLOCKPOOL_MAX;
    blocks[i] = blockpool_alloc(&bp, size);
    assert_non_null(blocks[i]);
    assert_int_equal((uintptr_t)blocks[i] % 4, 0);
    fill(blocks[i], size, (unsigned char)i);
  }
  for (int i = 0; i < N; i++) assert_true(holds(blocks[i], 1 + (size_t)i % BLOCKPOOL_MAX, (unsigned char)i));
  assert_true(blockpool_held_bytes(&bp) >= (size_t)N * 4);
  for (int i = 0; i < N; i++) blockpool_free(&bp, blocks[i], 1 + (size_t)i % BLOCKPOOL_MAX);
  blockpool_destroy(&bp);
}

/* A freed block is the next one handed out for a size of its class. */
static void test_freed_block_is_reused(void **state)
{
  (void)state;
  if (ALL_MALLOC) skip();
  blockpool bp;
  blockpool_init(&bp);
  void *a = blockpool_alloc(&bp, 50);
  void *b = blockpool_alloc(&bp, 50);
  assert_ptr_not_equal(a, b);
  blockpool_free(&bp, a, 50);
  assert_ptr_equal(blockpool_alloc(&bp, 49), a);   /* 49 and 50 share the 52-byte class */
  assert_ptr_not_equal(blockpool_alloc(&bp, 50), a);
  /* No header, 4-byte granularity: 13 blocks of 52 bytes lie 52 bytes apart in a slab. */
  char *first = blockpool_alloc(&bp, 52);
  for (int i = 1; i < 13; i++) assert_ptr_equal(blockpool_alloc(&bp, 52), first + 52 * i);
  blockpool_destroy(&bp);
}

/* Resizing keeps the common prefix, within the small classes, across to a big block and
** back. */
static void test_resize_keeps_the_prefix(void **state)
{
  (void)state;
  blockpool bp;
  blockpool_init(&bp);
  size_t sizes[] = {12, 13, 40, 52, 48, BLOCKPOOL_MAX, BLOCKPOOL_MAX + 1, 4000, 300, 24, 8};
  size_t n = sizes[0];
  void *p = blockpool_alloc(&bp, n);
  fill(p, n, 7);
  for (size_t i = 1; i < sizeof sizes / sizeof *sizes; i++) {
    size_t m = sizes[i];
    p = blockpool_resize(&bp, p, n, m);
    assert_non_null(p);
    assert_true(holds(p, n < m ? n : m, 7));
    fill(p, m, 7);
    n = m;
  }
  blockpool_free(&bp, p, n);
  blockpool_destroy(&bp);
}

/* Big blocks are counted while held and not after. */
static void test_big_blocks_are_counted(void **state)
{
  (void)state;
  blockpool bp;
  blockpool_init(&bp);
  size_t before = blockpool_held_bytes(&bp);
  void *big = blockpool_alloc(&bp, 10000);
  assert_non_null(big);
  memset(big, 1, 10000);
  assert_true(blockpool_held_bytes(&bp) >= before + 10000);
  blockpool_free(&bp, big, 10000);
  assert_int_equal(blockpool_held_bytes(&bp), before);
  blockpool_free(&bp, NULL, 10);   /* ignored */
  blockpool_destroy(&bp);
  assert_int_equal(blockpool_held_bytes(&bp), 0);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_blocks_keep_their_bytes),
      cmocka_unit_test(test_freed_block_is_reused),
      cmocka_unit_test(test_resize_keeps_the_prefix),
      cmocka_unit_test(test_big_blocks_are_counted),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
