/*
** main.c — imcast-bench: the command line (see usage() and bench.h).
*/
#include <getopt.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "bench.h"
#include "imcast_receiver.h"   /* IMCAST_RX_DEFAULT_ACK_DELAY_MS */

static void usage(FILE *f)
{
  fputs(
    "usage: imcast-bench MODE [options]\n"
    "\n"
    "modes:\n"
    "  fanout       --receivers N --pushes K [--burst B]: push->receiver latency, deliveries/s\n"
    "  login-storm  --accounts N --pending P: N offline accounts with P pushes pending log in\n"
    "  idle         --receivers N [--pid PID]: the server's RSS growth per idle connection\n"
    "  load         --accounts N [--pushes 20]: bulk import, then time im_push to all (offline)\n"
  "  rest         [--seconds 10] [--connections 32] [--threads 2]: REST requests/s and p99 with\n"
  "               wrk (im_get_tag, im_add_tag, im_push), and an nginx answering '{}' (ceiling)\n"
    "  audience     [--accounts N] [--tags T] [--redis HOST:PORT]: the audience function in\n"
    "               process on N accounts (10M) with T Zipf tags (5) and 3 attributes each,\n"
    "               against the same sets in Redis (with --redis or --target redis)\n"
    "\n"
    "target:\n"
    "  --url http://127.0.0.1:PORT   imcastd (default target)\n"
    "  --key KEY                     the app's secret key (default $IMCAST_KEY)\n"
    "  --sdkappid N                  default 1400000000\n"
    "  --admin ID                    default administrator\n"
    "  --target imcast|redis         fanout and idle also run against Redis pub/sub\n"
    "  --redis HOST:PORT             default 127.0.0.1:6379\n"
    "  --channel NAME                Redis channel (default imcast-bench)\n"
    "\n"
    "options:\n"
    "  --receivers N, --accounts N   how many receivers / accounts\n"
    "  --pushes K                    fanout: pushes (10); load: timed pushes (20)\n"
    "  --burst B                     pushes written back to back (1)\n"
    "  --pending P                   login-storm: pushes waiting for each account (10)\n"
    "  --payload BYTES               size of the pushed TIMCustomElem Data (200)\n"
    "  --tags T                      tag each account with T tags (<= 10); pushes use TagsAnd\n"
    "  --lifetime S                  MsgLifeTime of the pushes (fanout 0, load 3600)\n"
    "  --prefix P                    account names P00000000.. (default per mode)\n"
    "  --pid PID                     server process: RSS (idle, load), CPU per delivery (fanout)\n"
    "  --procs N                     receiver processes (default: as few as the fd limit allows)\n"
    "  --src-addrs N                 bind receivers to 127.0.0.1..N (4)\n"
    "  --window N                    connects in flight per receiver process (256)\n"
    "  --timeout-ms MS               longest wait for one burst's deliveries (30000)\n"
    "  --gap-ms MS                   pause between bursts (100)\n"
    "  --ping-ms MS                  a silent receiver pings after this long (20000)\n"
    "  --ack-delay-ms MS             a receiver Acks MS after its first unacknowledged Msg, as the\n"
    "                                receiver library does (500); 0: at the end of each loop turn\n"
    "  --no-ack                      receivers do not Ack\n"
    "\n"
    "Each mode prints one line of key=value results, then a summary on lines starting '#'.\n",
    f);
}

enum {
  O_URL = 256, O_KEY, O_SDKAPPID, O_ADMIN, O_TARGET, O_REDIS, O_CHANNEL, O_RECEIVERS,
  O_ACCOUNTS, O_PUSHES, O_BURST, O_PENDING, O_PAYLOAD, O_TAGS, O_LIFETIME, O_PREFIX, O_PID,
  O_PROCS, O_SRC, O_WINDOW, O_TIMEOUT, O_GAP, O_PING, O_NOACK, O_ACKDELAY, O_HELP
};
enum { O_SECONDS = 512, O_CONNECTIONS, O_THREADS };   /* rest */

static const struct option long_opts[] = {
  {"url", 1, 0, O_URL}, {"key", 1, 0, O_KEY}, {"sdkappid", 1, 0, O_SDKAPPID},
  {"admin", 1, 0, O_ADMIN}, {"target", 1, 0, O_TARGET}, {"redis", 1, 0, O_REDIS},
  {"channel", 1, 0, O_CHANNEL}, {"receivers", 1, 0, O_RECEIVERS}, {"accounts", 1, 0, O_ACCOUNTS},
  {"pushes", 1, 0, O_PUSHES}, {"burst", 1, 0, O_BURST}, {"pending", 1, 0, O_PENDING},
  {"payload", 1, 0, O_PAYLOAD}, {"tags", 1, 0, O_TAGS}, {"lifetime", 1, 0, O_LIFETIME},
  {"prefix", 1, 0, O_PREFIX}, {"pid", 1, 0, O_PID}, {"procs", 1, 0, O_PROCS},
  {"src-addrs", 1, 0, O_SRC}, {"window", 1, 0, O_WINDOW}, {"timeout-ms", 1, 0, O_TIMEOUT},
  {"gap-ms", 1, 0, O_GAP}, {"ping-ms", 1, 0, O_PING}, {"no-ack", 0, 0, O_NOACK}, {"ack-delay-ms", 1, 0, O_ACKDELAY},
  {"help", 0, 0, O_HELP},
  {"seconds", 1, 0, O_SECONDS}, {"connections", 1, 0, O_CONNECTIONS}, {"threads", 1, 0, O_THREADS},
  {0, 0, 0, 0}};

static uint64_t number(const char *name, const char *text, uint64_t max)
{
  char *end;
  unsigned long long v = strtoull(text, &end, 10);
  if (!*text || *end || v > max) die("--%s wants a number up to %llu, not '%s'", name,
                                     (unsigned long long)max, text);
  return v;
}

/* Defaults that differ by mode. */
static void mode_defaults(bench_opts *o, bool pushes_set, bool lifetime_set)
{
  const char *m = o->mode;
  if (!o->prefix) {
    o->prefix = !strcmp(m, "fanout") ? "bf" : !strcmp(m, "idle") ? "bi"
              : !strcmp(m, "login-storm") ? "bs" : "bl";
  }
  if (!pushes_set) o->pushes = !strcmp(m, "load") ? 20 : 10;
  if (!lifetime_set) o->lifetime = !strcmp(m, "load") ? 3600 : 0;
}

static bool redis_given;   /* audience: compare with Redis */

static void set_option(bench_opts *o, int c, const char *arg, bool *pushes_set, bool *lifetime_set)
{
  switch (c) {
  case O_URL:
    if (parse_host_port(arg, o->host, sizeof o->host, &o->port) != 0) die("bad --url %s", arg);
    break;
  case O_KEY: o->key = arg; break;
  case O_SDKAPPID: o->sdkappid = number("sdkappid", arg, UINT32_MAX); break;
  case O_ADMIN: o->admin = arg; break;
  case O_TARGET:
    if (strcmp(arg, "imcast") != 0 && strcmp(arg, "redis") != 0) die("--target is imcast or redis");
    o->target = strcmp(arg, "redis") ? TARGET_IMCAST : TARGET_REDIS;
    break;
  case O_REDIS:
    redis_given = true;
    if (parse_host_port(arg, o->redis_host, sizeof o->redis_host, &o->redis_port) != 0)
      die("bad --redis %s", arg);
    break;
  case O_CHANNEL: o->channel = arg; break;
  case O_RECEIVERS: o->receivers = (uint32_t)number("receivers", arg, 10000000); break;
  case O_ACCOUNTS: o->accounts = (uint32_t)number("accounts", arg, 100000000); break;
  case O_PUSHES: o->pushes = (uint32_t)number("pushes", arg, 1000000); *pushes_set = true; break;
  case O_BURST: o->burst = (uint32_t)number("burst", arg, 10000); break;
  case O_PENDING: o->pending = (uint32_t)number("pending", arg, 10000); break;
  case O_PAYLOAD: o->payload = (uint32_t)number("payload", arg, 60000); break;
  case O_TAGS: o->tags = (uint32_t)number("tags", arg, 10); break;
  case O_LIFETIME: o->lifetime = (uint32_t)number("lifetime", arg, 604800); *lifetime_set = true; break;
  case O_PREFIX: o->prefix = arg; break;
  case O_PID: o->pid = (int)number("pid", arg, INT32_MAX); break;
  case O_PROCS: o->procs = (int)number("procs", arg, 64); break;
  case O_SRC: o->src_addrs = (int)number("src-addrs", arg, 250); break;
  case O_WINDOW: o->window = (int)number("window", arg, 100000); break;
  case O_TIMEOUT: o->timeout_ms = (int)number("timeout-ms", arg, 3600000); break;
  case O_GAP: o->gap_ms = (int)number("gap-ms", arg, 3600000); break;
  case O_PING: o->ping_ms = (int)number("ping-ms", arg, 3600000); break;
  case O_NOACK: o->no_ack = true; break;
  case O_ACKDELAY: o->ack_delay_ms = (int)number("ack-delay-ms", arg, 60000); break;
  case O_SECONDS: o->seconds = (uint32_t)number("seconds", arg, 86400); break;
  case O_CONNECTIONS: o->connections = (uint32_t)number("connections", arg, 10000); break;
  case O_THREADS: o->threads = (uint32_t)number("threads", arg, 64); break;
  case O_HELP: usage(stdout); exit(0);
  default: usage(stderr); exit(2);
  }
}

static void parse(bench_opts *o, int argc, char **argv)
{
  *o = (bench_opts){.host = "127.0.0.1", .port = 8080, .redis_host = "127.0.0.1",
                    .redis_port = 6379, .key = getenv("IMCAST_KEY"), .sdkappid = 1400000000,
                    .admin = "administrator", .channel = "imcast-bench", .burst = 1,
                    .pending = 10, .payload = 200, .src_addrs = 4, .window = 256,
                    .timeout_ms = 30000, .gap_ms = 100, .ping_ms = 20000,
                    .ack_delay_ms = IMCAST_RX_DEFAULT_ACK_DELAY_MS /* Ack as the library does */};
  if (argc < 2 || argv[1][0] == '-') {
    usage(argc < 2 ? stderr : stdout);
    exit(argc < 2 || strcmp(argv[1], "--help") != 0 ? 2 : 0);
  }
  o->mode = argv[1];
  bool pushes_set = false, lifetime_set = false;
  int c;
  while ((c = getopt_long(argc - 1, argv + 1, "", long_opts, NULL)) != -1)
    set_option(o, c, optarg, &pushes_set, &lifetime_set);
  if (optind < argc - 1) die("unexpected argument '%s'", argv[optind + 1]);
  mode_defaults(o, pushes_set, lifetime_set);
  o->run = rand32();
  if (o->target == TARGET_IMCAST && !o->key && strcmp(o->mode, "audience") != 0)
    die("--key (or $IMCAST_KEY) is needed");
  if (!o->burst) o->burst = 1;
  if (!o->window) o->window = 1;
}

/* Receivers need one descriptor each: take the hard limit. */
static void raise_fd_limit(void)
{
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

int main(int argc, char **argv)
{
  bench_opts o;
  parse(&o, argc, argv);
  raise_fd_limit();
  /* usersig_gen()'s zlib state (~270 KiB) would be a fresh mmap, page faults and all, per
  ** receiver login: keep such blocks on the heap for reuse. */
  mallopt(M_MMAP_THRESHOLD, 4 << 20);
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (!strcmp(o.mode, "fanout")) {
    if (!o.receivers) die("fanout needs --receivers N");
    return mode_fanout(&o);
  }
  if (!strcmp(o.mode, "idle")) {
    if (!o.receivers) die("idle needs --receivers N");
    return mode_idle(&o);
  }
  if (!strcmp(o.mode, "login-storm")) {
    if (!o.accounts || !o.pending) die("login-storm needs --accounts N and --pending P");
    return mode_login_storm(&o);
  }
  if (!strcmp(o.mode, "load")) {
    if (!o.accounts) die("load needs --accounts N");
    return mode_load(&o);
  }
  if (!strcmp(o.mode, "rest")) return mode_rest(&o);
  if (!strcmp(o.mode, "audience")) {
    if (!o.accounts) o.accounts = 10000000;
    return mode_audience(&o, redis_given || o.target == TARGET_REDIS);
  }
  usage(stderr);
  return 2;
}
