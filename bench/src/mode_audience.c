/*
** mode_audience.c — `imcast-bench audience --accounts N [--tags T] [--redis HOST:PORT]`:
** the audience function (src/core/audience.c) on a directory of N accounts, in process,
** against the same memberships held as Redis sets.
**
** Build: N accounts (default 10M, uids 0..N-1, UserIDs prefix%08u), each with T distinct
** tags (default 5) drawn from a pool of AUD_TAG_POOL tags with Zipf popularity (s = 1:
** rank r drawn with weight 1/(r+1)), and one value in each of attribute slots 0..2, drawn
** from Zipf pools of 2, 30 and 300 values. One fixed seed: every run builds the same
** directory. Reported: build time, VmRSS growth of this process per account, and
** directory_memory_bytes() per account.
**
** Queries (each AUD_REPS times; median and p90): TagsAnd and TagsOr of a popular and a
** mid-popular tag, AttrsAnd and AttrsOr of two (slot, value) pairs. Timed: audience_compute,
** the cardinality of its bitmap, and freeing it.
**
** Redis (with --redis or --target redis): FLUSHALL, then every tag as a set `tag:<name>`
** and every value as `attr:<slot>:<value>`, members the uids as integers, loaded with
** variadic SADD (AUD_SADD_MEMBERS members a command), pipelined: a batch of about
** AUD_BATCH_BYTES is written while the previous batch's replies are read. Reported: load
** time and used_memory (INFO memory) growth per account. Then the same queries, one
** command at a time, timed from the write to the last reply: SINTERCARD 2 k1 k2 for the
** ANDs; SUNIONSTORE tmp k1 k2 + SCARD tmp (pipelined, both inside the timing) for the ORs,
** with DEL tmp after each, outside the timing. Both answers' cardinalities are printed and
** must be equal (exit 1 otherwise). FLUSHALL at the end.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bconn.h"
#include "bench.h"
#include "resp.h"
#include "core/audience.h"
#include "core/directory.h"

#define AUD_SEED 0x5EED1A2B3C4D5E6Full
#define AUD_TAG_POOL 1000
#define AUD_SLOTS 3
#define AUD_REPS 20
#define AUD_SADD_MEMBERS 1000
#define AUD_BATCH_BYTES ((size_t)1 << 20)
#define AUD_REPLY_TIMEOUT_MS 600000

static const uint32_t attr_pool[AUD_SLOTS] = {2, 30, 300};

/* The queries: popularity ranks of tags (0 = most popular) and (slot, value rank). */
#define TAG_POPULAR 2
#define TAG_MID 50
enum { Q_TAGS_AND, Q_TAGS_OR, Q_ATTRS_AND, Q_ATTRS_OR, Q_COUNT };
static const char *const q_name[Q_COUNT] = {"tags_and", "tags_or", "attrs_and", "attrs_or"};
static const int q_attr[2][2][2] = {
  {{0, 0}, {2, 5}},       /* AttrsAnd: slot 0 value 0, slot 2 value 5 */
  {{1, 2}, {2, 5}},       /* AttrsOr:  slot 1 value 2, slot 2 value 5 */
};

/* ---------------------------------------------------------------- random, Zipf */

static uint64_t rng_state = AUD_SEED;

static uint64_t splitmix64(void)
{
  uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

typedef struct zipf {
  uint32_t n;
  double *cdf;
} zipf;

static void zipf_init(zipf *z, uint32_t n)
{
  z->n = n;
  z->cdf = xcalloc(n, sizeof *z->cdf);
  double sum = 0;
  for (uint32_t i = 0; i < n; i++) z->cdf[i] = (sum += 1.0 / (i + 1));
  for (uint32_t i = 0; i < n; i++) z->cdf[i] /= sum;
}

static uint32_t zipf_draw(const zipf *z)
{
  double u = (double)(splitmix64() >> 11) * 0x1.0p-53;
  uint32_t lo = 0, hi = z->n - 1;
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    if (z->cdf[mid] > u) hi = mid; else lo = mid + 1;
  }
  return lo;
}

/* ---------------------------------------------------------------- names */

static char tag_names[AUD_TAG_POOL][16];
static char value_names[AUD_SLOTS][300][16];

static void make_names(void)
{
  for (uint32_t t = 0; t < AUD_TAG_POOL; t++) snprintf(tag_names[t], sizeof tag_names[t], "t%u", t);
  for (int s = 0; s < AUD_SLOTS; s++)
    for (uint32_t v = 0; v < attr_pool[s]; v++)
      snprintf(value_names[s][v], sizeof value_names[s][v], "v%u", v);
}

/* ---------------------------------------------------------------- the directory */

static directory *build(const bench_opts *o, uint32_t n_tags)
{
  zipf tz, vz[AUD_SLOTS];
  zipf_init(&tz, AUD_TAG_POOL);
  for (int s = 0; s < AUD_SLOTS; s++) zipf_init(&vz[s], attr_pool[s]);
  directory *d = directory_new();
  if (!d) die("out of memory");
  for (int s = 0; s < AUD_SLOTS; s++) {
    char name[8];
    snprintf(name, sizeof name, "a%d", s);
    if (directory_set_attr_name(d, s, name) != 0) die("directory_set_attr_name failed");
  }
  for (uint32_t uid = 0; uid < o->accounts; uid++) {
    char id[40];
    account_name(o->prefix, uid, id, sizeof id);
    if (directory_add_account(d, uid, id) != 0) die("directory_add_account %s failed", id);
    uint32_t got[16];
    for (uint32_t k = 0; k < n_tags;) {
      uint32_t t = zipf_draw(&tz);
      bool dup = false;
      for (uint32_t j = 0; j < k; j++) dup = dup || got[j] == t;
      if (dup) continue;
      got[k++] = t;
      if (directory_add_tag(d, uid, tag_names[t]) != 1) die("directory_add_tag failed");
    }
    for (int s = 0; s < AUD_SLOTS; s++)
      if (directory_set_attr(d, uid, s, value_names[s][zipf_draw(&vz[s])]) != 0)
        die("directory_set_attr failed");
  }
  free(tz.cdf);
  for (int s = 0; s < AUD_SLOTS; s++) free(vz[s].cdf);
  return d;
}

/* ---------------------------------------------------------------- timing helpers */

typedef struct qstat {
  double med, p90;
  uint64_t card;
} qstat;

static qstat stats(double *ms, size_t n, uint64_t card)
{
  qstat s = {.card = card};
  s.med = median_d(ms, n);                      /* sorts ms */
  size_t k = (size_t)ceil(0.9 * (double)n);     /* nearest rank */
  s.p90 = n ? ms[k ? k - 1 : 0] : NAN;
  return s;
}

static audience_query make_query(int q, const char *tags[2], audience_attr attrs[2])
{
  audience_query aq = {0};
  if (q == Q_TAGS_AND || q == Q_TAGS_OR) {
    tags[0] = tag_names[TAG_POPULAR];
    tags[1] = tag_names[TAG_MID];
    if (q == Q_TAGS_AND) { aq.tags_and = tags; aq.n_tags_and = 2; }
    else { aq.tags_or = tags; aq.n_tags_or = 2; }
  } else {
    const int (*pairs)[2] = q_attr[q == Q_ATTRS_OR];
    for (int i = 0; i < 2; i++)
      attrs[i] = (audience_attr){pairs[i][0], value_names[pairs[i][0]][pairs[i][1]]};
    if (q == Q_ATTRS_AND) { aq.attrs_and = attrs; aq.n_attrs_and = 2; }
    else { aq.attrs_or = attrs; aq.n_attrs_or = 2; }
  }
  return aq;
}

static qstat time_imcast(const directory *d, int q)
{
  const char *tags[2];
  audience_attr attrs[2];
  audience_query aq = make_query(q, tags, attrs);
  double ms[AUD_REPS];
  uint64_t card = 0;
  for (int r = 0; r < AUD_REPS; r++) {
    uint64_t t0 = now_ns();
    roaring_bitmap_t *b = audience_compute(d, &aq);
    if (!b) die("audience_compute: out of memory");
    card = roaring_bitmap_get_cardinality(b);
    roaring_bitmap_free(b);
    ms[r] = ms_between(t0, now_ns());
  }
  return stats(ms, AUD_REPS, card);
}

/* ---------------------------------------------------------------- Redis */

/* Writes one command; a failed write ends the run. */
static void cmd_send(bconn *c, int argc, const char *const *argv)
{
  if (resp_command_send(c, argc, argv) != 0) die("redis: write failed");
}

/* One reply (see resp_read_reply); no reply, or an error reply, ends the run. */
static char reply_read(bconn *c, char *line, size_t cap, char **bulk)
{
  char type = resp_read_reply(c, AUD_REPLY_TIMEOUT_MS, line, cap, bulk);
  if (!type) die("redis: no reply");
  if (type == '-') die("redis answered -%s", line);
  return type;
}

static long long reply_int(bconn *c)
{
  char line[128];
  if (reply_read(c, line, sizeof line, NULL) != ':') die("redis: expected an integer, got %s", line);
  return strtoll(line, NULL, 10);
}

static void simple(bconn *c, int argc, const char *const *argv)
{
  char line[128];
  cmd_send(c, argc, argv);
  reply_read(c, line, sizeof line, NULL);
}

static long long used_memory(bconn *c)
{
  char line[128], *body = NULL;
  cmd_send(c, 2, (const char *[]){"INFO", "memory"});
  if (reply_read(c, line, sizeof line, &body) != '$' || !body) die("redis: INFO failed");
  const char *m = strstr(body, "used_memory:");
  long long v = m ? strtoll(m + strlen("used_memory:"), NULL, 10) : -1;
  free(body);
  return v;
}

/* Appends "$len\r\ntext\r\n". */
static size_t put_bulk(char *out, const char *text, size_t len)
{
  size_t n = (size_t)sprintf(out, "$%zu\r\n", len);
  memcpy(out + n, text, len);
  out[n + len] = '\r';
  out[n + len + 1] = '\n';
  return n + len + 2;
}

typedef struct loader {
  bconn *c;
  char *buf;
  size_t len;
  uint64_t cmds, prev_cmds;   /* commands in the batch being built / in flight */
  long long added;            /* the SADD replies' sum */
} loader;

static void loader_drain(loader *l)
{
  for (; l->prev_cmds; l->prev_cmds--) l->added += reply_int(l->c);
}

/* Writes the batch, then reads the replies of the one before (one batch in flight). */
static void loader_flush(loader *l)
{
  if (l->len && bconn_write2(l->c, l->buf, l->len, NULL, 0) != 0) die("redis: write failed");
  loader_drain(l);
  l->prev_cmds = l->cmds;
  l->cmds = 0;
  l->len = 0;
}

static void load_set(loader *l, const char *key, const roaring_bitmap_t *b)
{
  uint64_t n = roaring_bitmap_get_cardinality(b);
  uint32_t *uids = xmalloc(n * sizeof *uids);
  roaring_bitmap_to_uint32_array(b, uids);
  size_t klen = strlen(key);
  for (uint64_t i = 0; i < n; i += AUD_SADD_MEMBERS) {
    uint64_t m = n - i < AUD_SADD_MEMBERS ? n - i : AUD_SADD_MEMBERS;
    if (l->len + 64 + klen + m * 20 > AUD_BATCH_BYTES + (AUD_BATCH_BYTES / 2)) loader_flush(l);
    l->len += (size_t)sprintf(l->buf + l->len, "*%llu\r\n", (unsigned long long)m + 2);
    l->len += put_bulk(l->buf + l->len, "SADD", 4);
    l->len += put_bulk(l->buf + l->len, key, klen);
    for (uint64_t j = i; j < i + m; j++) {
      char num[12];
      int len = sprintf(num, "%u", uids[j]);
      l->len += put_bulk(l->buf + l->len, num, (size_t)len);
    }
    l->cmds++;
    if (l->len >= AUD_BATCH_BYTES) loader_flush(l);
  }
  free(uids);
}

/* Loads every tag and attribute value; returns the memberships Redis added. */
static long long redis_load(bconn *c, const directory *d)
{
  loader l = {.c = c, .buf = xmalloc(AUD_BATCH_BYTES * 2)};
  char key[64];
  for (uint32_t t = 0; t < AUD_TAG_POOL; t++) {
    const roaring_bitmap_t *b = directory_tag_members(d, tag_names[t]);
    if (!b) continue;
    snprintf(key, sizeof key, "tag:%.15s", tag_names[t]);
    load_set(&l, key, b);
  }
  for (int s = 0; s < AUD_SLOTS; s++)
    for (uint32_t v = 0; v < attr_pool[s]; v++) {
      const roaring_bitmap_t *b = directory_attr_members(d, s, value_names[s][v]);
      if (!b) continue;
      snprintf(key, sizeof key, "attr:%d:%.15s", s, value_names[s][v]);
      load_set(&l, key, b);
    }
  loader_flush(&l);
  loader_flush(&l);
  free(l.buf);
  return l.added;
}

static void query_keys(int q, char k[2][64])
{
  if (q == Q_TAGS_AND || q == Q_TAGS_OR) {
    snprintf(k[0], 64, "tag:%.15s", tag_names[TAG_POPULAR]);
    snprintf(k[1], 64, "tag:%.15s", tag_names[TAG_MID]);
    return;
  }
  const int (*pairs)[2] = q_attr[q == Q_ATTRS_OR];
  for (int i = 0; i < 2; i++)
    snprintf(k[i], 64, "attr:%d:%.15s", pairs[i][0], value_names[pairs[i][0]][pairs[i][1]]);
}

static qstat time_redis(bconn *c, int q)
{
  char k[2][64];
  query_keys(q, k);
  bool is_and = q == Q_TAGS_AND || q == Q_ATTRS_AND;
  double ms[AUD_REPS];
  uint64_t card = 0;
  for (int r = 0; r < AUD_REPS; r++) {
    uint64_t t0 = now_ns();
    if (is_and) {
      cmd_send(c, 4, (const char *[]){"SINTERCARD", "2", k[0], k[1]});
      card = (uint64_t)reply_int(c);
    } else {
      cmd_send(c, 4, (const char *[]){"SUNIONSTORE", "imcast-bench:tmp", k[0], k[1]});
      cmd_send(c, 2, (const char *[]){"SCARD", "imcast-bench:tmp"});
      long long stored = reply_int(c);
      card = (uint64_t)reply_int(c);
      if ((uint64_t)stored != card) die("redis: SUNIONSTORE %lld, SCARD %llu", stored,
                                        (unsigned long long)card);
    }
    ms[r] = ms_between(t0, now_ns());
    if (!is_and) simple(c, 2, (const char *[]){"DEL", "imcast-bench:tmp"});
  }
  return stats(ms, AUD_REPS, card);
}

/* ---------------------------------------------------------------- the mode */

int mode_audience(const bench_opts *o, bool use_redis)
{
  uint32_t n_tags = o->tags ? o->tags : 5;
  make_names();
  long rss0 = rss_kib(getpid());
  uint64_t t0 = now_ns();
  directory *d = build(o, n_tags);
  double build_s = ms_between(t0, now_ns()) / 1000;
  long rss1 = rss_kib(getpid());
  double rss_per = (double)(rss1 - rss0) * 1024 / o->accounts;
  double dir_per = (double)directory_memory_bytes(d) / o->accounts;
  fprintf(stderr, "built %u accounts x %u tags + %d attributes in %.1f s\n", o->accounts, n_tags,
          AUD_SLOTS, build_s);

  qstat im[Q_COUNT], rd[Q_COUNT];
  for (int q = 0; q < Q_COUNT; q++) {
    im[q] = time_imcast(d, q);
    rd[q] = (qstat){-1, -1, 0};
  }

  double load_s = -1, redis_per = -1;
  int rc = 0;
  if (use_redis) {
    bconn c;
    if (bconn_open(&c, o->redis_host, o->redis_port) != 0) return 1;
    simple(&c, 1, (const char *[]){"FLUSHALL"});
    long long mem0 = used_memory(&c);
    t0 = now_ns();
    long long added = redis_load(&c, d);
    load_s = ms_between(t0, now_ns()) / 1000;
    long long mem1 = used_memory(&c);
    redis_per = (double)(mem1 - mem0) / o->accounts;
    uint64_t expect = (uint64_t)o->accounts * (n_tags + AUD_SLOTS);
    fprintf(stderr, "redis: %lld memberships loaded in %.1f s\n", added, load_s);
    if ((uint64_t)added != expect) {
      fprintf(stderr, "imcast-bench: redis added %lld memberships, expected %llu\n", added,
              (unsigned long long)expect);
      rc = 1;
    }
    for (int q = 0; q < Q_COUNT; q++) {
      rd[q] = time_redis(&c, q);
      if (rd[q].card != im[q].card) {
        fprintf(stderr, "imcast-bench: %s: imcast %llu accounts, redis %llu\n", q_name[q],
                (unsigned long long)im[q].card, (unsigned long long)rd[q].card);
        rc = 1;
      }
    }
    simple(&c, 1, (const char *[]){"FLUSHALL"});
    bconn_close(&c);
  }

  printf("mode=audience target=%s accounts=%u tags=%u tag_pool=%d attr_pools=%u,%u,%u reps=%d "
         "build_s=%.1f rss_bytes_per_account=%.1f dir_bytes_per_account=%.1f "
         "redis_load_s=%.1f redis_bytes_per_account=%.1f",
         use_redis ? "imcast+redis" : "imcast", o->accounts, n_tags, AUD_TAG_POOL,
         attr_pool[0], attr_pool[1], attr_pool[2], AUD_REPS, build_s, rss_per, dir_per, load_s,
         redis_per);
  for (int q = 0; q < Q_COUNT; q++) {
    double ratio = use_redis && im[q].med > 0 ? rd[q].med / im[q].med : -1;
    printf(" %s_card=%llu %s_ms_median=%.4f %s_ms_p90=%.4f redis_%s_card=%lld "
           "redis_%s_ms_median=%.4f redis_%s_ms_p90=%.4f %s_ratio=%.1f",
           q_name[q], (unsigned long long)im[q].card, q_name[q], im[q].med, q_name[q], im[q].p90,
           q_name[q], use_redis ? (long long)rd[q].card : -1LL, q_name[q], rd[q].med, q_name[q],
           rd[q].p90, q_name[q], ratio);
  }
  printf("\n");
  printf("# %u accounts, %u Zipf tags each (pool %d) + attributes in 3 slots (pools %u, %u, %u): "
         "built in %.1f s\n#   memory per account: RSS growth %.1f B, directory_memory_bytes %.1f B",
         o->accounts, n_tags, AUD_TAG_POOL, attr_pool[0], attr_pool[1], attr_pool[2], build_s,
         rss_per, dir_per);
  if (use_redis) printf("; Redis used_memory %.1f B (loaded in %.1f s)", redis_per, load_s);
  printf("\n");
  for (int q = 0; q < Q_COUNT; q++) {
    printf("#   %-9s imcast median %.3f ms (p90 %.3f) -> %llu accounts", q_name[q], im[q].med,
           im[q].p90, (unsigned long long)im[q].card);
    if (use_redis)
      printf("; redis median %.3f ms (p90 %.3f) -> %llu; redis/imcast %.1fx", rd[q].med, rd[q].p90,
             (unsigned long long)rd[q].card, rd[q].med / im[q].med);
    printf("\n");
  }
  directory_free(d);
  return rc;
}
