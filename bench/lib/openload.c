// Open-model load at a fixed rate, for the latency benchmark: requests are due on a fixed
// schedule whatever the answers, and latency counts from the time a request was due, so a server
// that stalls shows as latency and not as a slower client (no coordinated omission, as wrk2).
// Written in C because a Node client's own timer granularity (1 ms) and pauses were larger
// than the latencies it had to measure.
//
//   openload HOST PORT RATE SECONDS WARMUP_SECONDS CONNECTIONS KEY EMAILS
//
// Prints one JSON line: counts and latency percentiles in microseconds (warm-up excluded).
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

typedef struct {
  int fd;
  int busy;
  int64_t due;  // when the request in flight was due, ns
  char buf[8192];
  size_t len;
} Conn;

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

static const char *host, *key;
static int port, emails;
static uint64_t seq = 0;

static int open_conn(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
  inet_pton(AF_INET, host, &addr.sin_addr);
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
    perror("connect");
    exit(2);
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

static int send_request(Conn *c, int64_t due) {
  char body[256], req[1024];
  uint64_t i = seq++;
  int blen = snprintf(body, sizeof body,
                      "{\"email\":\"user%llu@example.com\",\"event\":\"purchase\",\"data\":{\"plan\":\"pro\",\"amount\":%llu}}",
                      (unsigned long long)(i % (uint64_t)emails), (unsigned long long)(i % 100));
  int rlen = snprintf(req, sizeof req,
                      "POST /v1/track HTTP/1.1\r\nHost: %s:%d\r\nAuthorization: Bearer %s\r\n"
                      "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
                      host, port, key, blen, body);
  ssize_t n = write(c->fd, req, rlen);
  if (n != rlen) return -1;  // small requests on an idle keep-alive socket go out whole
  c->busy = 1;
  c->due = due;
  c->len = 0;
  return 0;
}

// 1 when the buffer holds a whole answer; sets *status.
static int complete(Conn *c, int *status) {
  c->buf[c->len] = 0;
  char *end = strstr(c->buf, "\r\n\r\n");
  if (end == NULL) return 0;
  *end = 0;
  char *field = strcasestr(c->buf, "\r\ncontent-length:");
  long length = field ? strtol(field + 17, NULL, 10) : 0;
  *end = '\r';
  if ((size_t)(end + 4 - c->buf) + (size_t)length > c->len) return 0;
  *status = atoi(c->buf + 9);
  return 1;
}

int main(int argc, char **argv) {
  if (argc != 9) {
    fprintf(stderr, "usage: openload HOST PORT RATE SECONDS WARMUP_SECONDS CONNECTIONS KEY EMAILS\n");
    return 2;
  }
  host = argv[1];
  port = atoi(argv[2]);
  double rate = atof(argv[3]);
  double seconds = atof(argv[4]), warmup = atof(argv[5]);
  int nconn = atoi(argv[6]);
  key = argv[7];
  emails = atoi(argv[8]);

  uint64_t total = (uint64_t)((seconds + warmup) * rate);
  uint64_t warm = (uint64_t)(warmup * rate);
  int64_t interval = (int64_t)(1e9 / rate);
  uint32_t *lat = malloc(sizeof(uint32_t) * (total + 1));
  int64_t *queue = malloc(sizeof(int64_t) * (total + 1));  // due times waiting for a free connection
  size_t qhead = 0, qtail = 0, nlat = 0;
  uint64_t sent = 0, done = 0, non200 = 0, errors = 0;

  int ep = epoll_create1(0);
  Conn *conns = calloc(nconn, sizeof(Conn));
  for (int i = 0; i < nconn; i++) {
    conns[i].fd = open_conn();
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
    epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev);
  }
  int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
  struct epoll_event tev = {.events = EPOLLIN, .data.u32 = UINT32_MAX};
  epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &tev);

  int64_t start = now_ns() + 10000000LL;
  int64_t warm_end = start + (int64_t)warm * interval;
  int64_t next_due = start;
  int64_t give_up = start + (int64_t)((seconds + warmup + 30) * 1e9);
  int free_hint = 0;
  struct epoll_event events[256];

  while (done + errors < total && now_ns() < give_up) {
    int64_t now = now_ns();
    // Everything due by now goes out, on a free connection or into the queue.
    while (sent < total && next_due <= now) {
      queue[qtail++] = next_due;
      sent++;
      next_due += interval;
    }
    for (int k = 0; k < nconn && qhead < qtail; k++) {
      Conn *c = &conns[(free_hint + k) % nconn];
      if (c->busy) continue;
      if (send_request(c, queue[qhead]) == 0) qhead++;
      else errors++, qhead++;
    }
    if (sent < total) {
      struct itimerspec its = {0};
      its.it_value.tv_sec = next_due / 1000000000LL;
      its.it_value.tv_nsec = next_due % 1000000000LL;
      timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
    }
    int n = epoll_wait(ep, events, 256, 100);
    for (int e = 0; e < n; e++) {
      uint32_t id = events[e].data.u32;
      if (id == UINT32_MAX) {
        uint64_t expirations;
        (void)!read(tfd, &expirations, sizeof expirations);
        continue;
      }
      Conn *c = &conns[id];
      ssize_t r = read(c->fd, c->buf + c->len, sizeof c->buf - 1 - c->len);
      if (r <= 0) {
        if (r < 0 && errno == EAGAIN) continue;
        fprintf(stderr, "connection closed by the server\n");
        return 3;
      }
      c->len += (size_t)r;
      int status;
      if (c->busy && complete(c, &status)) {
        int64_t t = now_ns();
        if (status != 200) non200++;
        if (c->due >= warm_end) lat[nlat++] = (uint32_t)((t - c->due) / 1000);
        c->busy = 0;
        done++;
        free_hint = (int)id;
      }
    }
  }
  int64_t finished = now_ns();
  qsort(lat, nlat, sizeof(uint32_t), cmp_u32);
#define PCT(p) (nlat ? lat[(size_t)((p) * (nlat - 1))] : 0)
  printf("{\"sent\":%llu,\"completed\":%llu,\"errors\":%llu,\"non200\":%llu,\"measured\":%zu,"
         "\"rate\":%.0f,\"p50_us\":%u,\"p90_us\":%u,\"p99_us\":%u,\"p999_us\":%u,\"max_us\":%u}\n",
         (unsigned long long)sent, (unsigned long long)done, (unsigned long long)errors, (unsigned long long)non200, nlat,
         done / ((finished - start) / 1e9), PCT(0.5), PCT(0.9), PCT(0.99), PCT(0.999), nlat ? lat[nlat - 1] : 0);
  return (errors || non200 || done < total) ? 1 : 0;
}
