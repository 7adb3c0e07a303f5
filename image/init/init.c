/*
 * Cloister's init: PID 1 of the confidential VM (docs: /work/image-contract.md "The guest at run time").
 *
 * Mounts proc, sysfs, devtmpfs, a size-limited tmpfs on /tmp and configfs; loads the kernel modules
 * listed in /lib/modules/cloister.modules (one path per line, in order; finit_module, .xz decompressed
 * by the kernel); configures lo and eth0 (static 10.0.2.15/24 via 10.0.2.2, QEMU user networking, or a
 * minimal DHCP exchange when the kernel command line says cloister.net=dhcp); remounts / read-only; then runs
 * `/app/node ... cloister serve` as its child (with --ohttp-key-ids instance when the command line says
 * cloister.fleet=1) and powers the machine off when the server exits.
 * No shell, no login, nothing else is ever executed. Console lines are short and carry no secrets.
 *
 * Built static with the system gcc by scripts/image/buildInit.ts; no NSS functions (no getaddrinfo).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef MODULE_INIT_COMPRESSED_FILE
#define MODULE_INIT_COMPRESSED_FILE 4
#endif

#define MODULE_LIST "/lib/modules/cloister.modules"
#define TMP_OPTIONS "mode=1777,size=256m"
#define NODE_PATH "/app/node"
#define MAIN_JS "/app/dist/src/cli/main.js"
#define GLIBC_TUNABLES_ENV "GLIBC_TUNABLES=glibc.malloc.perturb=165:glibc.malloc.tcache_count=0"
#define STATIC_ADDR "10.0.2.15"
#define STATIC_MASK "255.255.255.0"
#define STATIC_GW "10.0.2.2"
#define ETH_WAIT_MS 5000

static char cmdline[4096];

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...) {
  char line[256];
  va_list ap;
  int n = snprintf(line, sizeof line, "cloister-init: ");
  va_start(ap, fmt);
  n += vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
  va_end(ap);
  if (n >= (int)sizeof line - 1) n = (int)sizeof line - 2;
  line[n++] = '\n';
  ssize_t ignored = write(2, line, (size_t)n);
  (void)ignored;
}

static void power_off(void) {
  sync();
  reboot(RB_POWER_OFF);
  for (;;) pause(); /* never return: PID 1 exiting panics the kernel */
}

static void fatal(const char *what) {
  say("fatal: %s: %s; powering off", what, strerror(errno));
  power_off();
}

static void mount_fs(const char *source, const char *target, const char *type, unsigned long flags, const char *data, int required) {
  if (mkdir(target, 0755) != 0 && errno != EEXIST) {
    if (required) fatal(target);
    say("mkdir %s: %s", target, strerror(errno));
    return;
  }
  if (mount(source, target, type, flags, data) != 0) {
    if (required) fatal(target);
    say("mount %s: %s", target, strerror(errno));
  }
}

/* stdin, stdout and stderr on /dev/console (the kernel opens it only if the initramfs has the node). */
static void console_stdio(void) {
  int fd = open("/dev/console", O_RDWR | O_NOCTTY);
  if (fd < 0) return;
  for (int i = 0; i < 3; i++)
    if (fd != i) dup2(fd, i);
  if (fd > 2) close(fd);
}

/* Whether the kernel command line has exactly this word. */
static int cmdline_has(const char *word) {
  size_t len = strlen(word);
  for (const char *p = cmdline; *p;) {
    while (*p == ' ' || *p == '\n' || *p == '\t') p++;
    const char *start = p;
    while (*p && *p != ' ' && *p != '\n' && *p != '\t') p++;
    if ((size_t)(p - start) == len && memcmp(start, word, len) == 0) return 1;
  }
  return 0;
}

static void read_cmdline(void) {
  int fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  ssize_t n = read(fd, cmdline, sizeof cmdline - 1);
  close(fd);
  cmdline[n > 0 ? n : 0] = '\0';
}

static void load_modules(void) {
  FILE *list = fopen(MODULE_LIST, "re");
  if (list == NULL) {
    say("no %s: no modules loaded", MODULE_LIST);
    return;
  }
  char path[512];
  int loaded = 0;
  while (fgets(path, sizeof path, list) != NULL) {
    path[strcspn(path, "\r\n")] = '\0';
    if (path[0] == '\0' || path[0] == '#') continue;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      say("module %s: %s", path, strerror(errno));
      continue;
    }
    size_t len = strlen(path);
    int flags = len > 3 && (strcmp(path + len - 3, ".xz") == 0 || strcmp(path + len - 3, ".gz") == 0 || strcmp(path + len - 4, ".zst") == 0)
                    ? MODULE_INIT_COMPRESSED_FILE
                    : 0;
    if (syscall(SYS_finit_module, fd, "", flags) == 0) loaded++;
    else if (errno == EEXIST) loaded++;
    else {
      /* sev-guest without SEV-SNP, tdx-guest without TDX: ENODEV, expected on the other platform */
      const char *name = strrchr(path, '/');
      say("module %s: %s", name != NULL ? name + 1 : path, strerror(errno));
    }
    close(fd);
  }
  fclose(list);
  say("%d modules loaded", loaded);
}

static int set_addr(int sock, const char *ifname, unsigned long request, const char *dotted) {
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
  struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
  sin->sin_family = AF_INET;
  if (inet_pton(AF_INET, dotted, &sin->sin_addr) != 1) return -1;
  return ioctl(sock, request, &ifr);
}

static int link_up(int sock, const char *ifname) {
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
  if (ioctl(sock, SIOCGIFFLAGS, &ifr) != 0) return -1;
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  return ioctl(sock, SIOCSIFFLAGS, &ifr);
}

static int add_default_route(int sock, const char *gateway) {
  struct rtentry rt;
  memset(&rt, 0, sizeof rt);
  struct sockaddr_in *dst = (struct sockaddr_in *)&rt.rt_dst;
  struct sockaddr_in *gw = (struct sockaddr_in *)&rt.rt_gateway;
  struct sockaddr_in *mask = (struct sockaddr_in *)&rt.rt_genmask;
  dst->sin_family = gw->sin_family = mask->sin_family = AF_INET;
  if (inet_pton(AF_INET, gateway, &gw->sin_addr) != 1) return -1;
  rt.rt_flags = RTF_UP | RTF_GATEWAY;
  return ioctl(sock, SIOCADDRT, &rt);
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}


/* A minimal DHCP client (RFC 2131): DISCOVER, OFFER, REQUEST, ACK on eth0, with the broadcast flag set so
 * that the answers reach a UDP socket on an interface that has no address yet. No lease renewal: the
 * address is kept for the life of the VM (clouds keep a VM's address; a lease that runs out is not renewed). */
#define DHCP_TRIES 4
#define DHCP_WAIT_S 2

struct dhcp_packet {
  uint8_t op, htype, hlen, hops;
  uint32_t xid;
  uint16_t secs, flags;
  uint32_t ciaddr, yiaddr, siaddr, giaddr;
  uint8_t chaddr[16];
  uint8_t sname[64];
  uint8_t file[128];
  uint8_t options[312];
} __attribute__((packed));

struct dhcp_lease {
  struct in_addr addr, mask, router, server;
};

static size_t dhcp_message(struct dhcp_packet *p, uint32_t xid, const uint8_t mac[6], uint8_t type, const struct dhcp_lease *offer) {
  memset(p, 0, sizeof *p);
  p->op = 1;
  p->htype = 1;
  p->hlen = 6;
  p->xid = xid;
  p->flags = htons(0x8000);
  memcpy(p->chaddr, mac, 6);
  uint8_t *o = p->options;
  *o++ = 99, *o++ = 130, *o++ = 83, *o++ = 99;
  *o++ = 53, *o++ = 1, *o++ = type;
  if (offer != NULL) {
    *o++ = 50, *o++ = 4, memcpy(o, &offer->addr, 4), o += 4;
    *o++ = 54, *o++ = 4, memcpy(o, &offer->server, 4), o += 4;
  }
  *o++ = 55, *o++ = 3, *o++ = 1, *o++ = 3, *o++ = 54;
  *o++ = 255;
  return (size_t)(o - (uint8_t *)p);
}

/* The message type of an answer to xid (0 if it is not one), and what it offers. */
static int dhcp_parse(const struct dhcp_packet *p, ssize_t len, uint32_t xid, struct dhcp_lease *lease) {
  if (len < (ssize_t)offsetof(struct dhcp_packet, options) + 4 || p->op != 2 || p->xid != xid) return 0;
  const uint8_t *o = p->options, *end = (const uint8_t *)p + len;
  if (o[0] != 99 || o[1] != 130 || o[2] != 83 || o[3] != 99) return 0;
  int type = 0;
  memcpy(&lease->addr, &p->yiaddr, 4);
  for (o += 4; o < end && *o != 255;) {
    if (*o == 0) { o++; continue; }
    if (o + 2 > end || o + 2 + o[1] > end) break;
    const uint8_t code = o[0], n = o[1], *v = o + 2;
    if (code == 53 && n == 1) type = v[0];
    else if (code == 1 && n == 4) memcpy(&lease->mask, v, 4);
    else if (code == 3 && n >= 4) memcpy(&lease->router, v, 4);
    else if (code == 54 && n == 4) memcpy(&lease->server, v, 4);
    o += 2 + n;
  }
  return type;
}

/* Sends `type` and waits for an answer of type `want`; retries. */
static int dhcp_exchange(int sock, uint32_t xid, const uint8_t mac[6], uint8_t type, uint8_t want, struct dhcp_lease *lease) {
  struct dhcp_packet out, in;
  struct dhcp_lease offer = *lease;
  size_t len = dhcp_message(&out, xid, mac, type, type == 3 ? &offer : NULL);
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(67), .sin_addr.s_addr = htonl(INADDR_BROADCAST)};
  for (int attempt = 0; attempt < DHCP_TRIES; attempt++) {
    if (sendto(sock, &out, len, 0, (struct sockaddr *)&to, sizeof to) < 0) return -1;
    for (;;) {
      ssize_t n = recv(sock, &in, sizeof in, 0);
      if (n < 0) break; /* timeout: send again */
      struct dhcp_lease got = offer;
      int t = dhcp_parse(&in, n, xid, &got);
      if (t == 6) return -1; /* NAK */
      if (t == want) {
        *lease = got;
        return 0;
      }
    }
  }
  errno = ETIMEDOUT;
  return -1;
}

static int dhcp_configure(int ctl, struct dhcp_lease *lease) {
  int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) return -1;
  int one = 1;
  struct timeval wait = {DHCP_WAIT_S, 0};
  struct sockaddr_in me = {.sin_family = AF_INET, .sin_port = htons(68), .sin_addr.s_addr = htonl(INADDR_ANY)};
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strncpy(ifr.ifr_name, "eth0", IFNAMSIZ - 1);
  int ok = link_up(ctl, "eth0") == 0 && ioctl(ctl, SIOCGIFHWADDR, &ifr) == 0 &&
           setsockopt(sock, SOL_SOCKET, SO_BROADCAST, &one, sizeof one) == 0 && setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0 &&
           setsockopt(sock, SOL_SOCKET, SO_BINDTODEVICE, "eth0", 5) == 0 && setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait) == 0 &&
           bind(sock, (struct sockaddr *)&me, sizeof me) == 0;
  uint8_t mac[6];
  memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
  uint32_t xid;
  if (ok && getrandom(&xid, sizeof xid, 0) != sizeof xid) ok = 0;
  memset(lease, 0, sizeof *lease);
  if (ok) ok = dhcp_exchange(sock, xid, mac, 1, 2, lease) == 0 && dhcp_exchange(sock, xid, mac, 3, 5, lease) == 0;
  int saved = errno;
  close(sock);
  errno = saved;
  return ok ? 0 : -1;
}

static void setup_network(void) {
  int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) {
    say("network: socket: %s", strerror(errno));
    return;
  }
  if (set_addr(sock, "lo", SIOCSIFADDR, "127.0.0.1") != 0 || set_addr(sock, "lo", SIOCSIFNETMASK, "255.0.0.0") != 0 || link_up(sock, "lo") != 0)
    say("network: lo: %s", strerror(errno));
  /* virtio_net probes synchronously in finit_module, but give the device a moment to appear */
  struct stat st;
  for (long waited = 0; stat("/sys/class/net/eth0", &st) != 0 && waited < ETH_WAIT_MS; waited += 50) sleep_ms(50);
  struct dhcp_lease lease;
  const char *how = "static";
  if (cmdline_has("cloister.net=dhcp")) {
    how = "dhcp";
    if (dhcp_configure(sock, &lease) != 0) {
      say("network: dhcp on eth0 failed: %s; eth0 left unconfigured", strerror(errno));
      close(sock);
      return;
    }
  } else {
    inet_pton(AF_INET, STATIC_ADDR, &lease.addr);
    inet_pton(AF_INET, STATIC_MASK, &lease.mask);
    inet_pton(AF_INET, STATIC_GW, &lease.router);
  }
  char addr[INET_ADDRSTRLEN], mask[INET_ADDRSTRLEN], gw[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &lease.addr, addr, sizeof addr);
  inet_ntop(AF_INET, &lease.mask, mask, sizeof mask);
  inet_ntop(AF_INET, &lease.router, gw, sizeof gw);
  if (set_addr(sock, "eth0", SIOCSIFADDR, addr) != 0 || (lease.mask.s_addr != 0 && set_addr(sock, "eth0", SIOCSIFNETMASK, mask) != 0) || link_up(sock, "eth0") != 0)
    say("network: eth0: %s", strerror(errno));
  else if (lease.router.s_addr != 0 && add_default_route(sock, gw) != 0)
    say("network: default route: %s", strerror(errno));
  else
    say("network: eth0 %s/%s via %s (%s)", addr, mask, lease.router.s_addr != 0 ? gw : "no router", how);
  close(sock);
}

int main(void) {
  if (getpid() != 1) {
    say("not PID 1; refusing to run");
    return 1;
  }
  umask(022);
  mount_fs("devtmpfs", "/dev", "devtmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755", 1);
  console_stdio();
  mount_fs("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "hidepid=2", 1);
  mount_fs("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, 1);
  mount_fs("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, TMP_OPTIONS, 1);
  read_cmdline();
  load_modules();
  mount_fs("configfs", "/sys/kernel/config", "configfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, 0);
  setup_network();
  if (mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY, NULL) != 0) say("remount / read-only: %s", strerror(errno));
  /* Locks init's own pages; memory locks do not survive execve, and the VM has no swap. */
  if (mlockall(MCL_CURRENT | MCL_FUTURE) != 0) say("mlockall: %s", strerror(errno));

  int simulated = cmdline_has("cloister.simulated=1");
  char *argv[16] = {NODE_PATH, "--expose-gc", "--clear-free-memory", MAIN_JS, "serve", "--host", "0.0.0.0", "--port", "8080"};
  int argc = 9;
  if (simulated) {
    argv[argc++] = "--simulated";
    /* The simulated variant runs under QEMU's TCG in tests, where recognition is many times slower. */
    argv[argc++] = "--target-timeout";
    argv[argc++] = "120";
  }
  /* A fleet node serves key IDs of its own range. The command line is measured and the same on every node, so
     the range comes from the instance (SMBIOS OEM string, GCE metadata, Azure IMDS); serve refuses to start without. */
  int fleet = cmdline_has("cloister.fleet=1");
  if (fleet) {
    argv[argc++] = "--ohttp-key-ids";
    argv[argc++] = "instance";
  }
  argv[argc] = NULL;
  char *envp[] = {"HOME=/tmp", GLIBC_TUNABLES_ENV, "NODE_ENV=production", NULL};

  say("starting cloister serve%s%s", simulated ? " --simulated --target-timeout 120" : "", fleet ? " --ohttp-key-ids instance" : "");
  pid_t child = fork();
  if (child < 0) fatal("fork");
  if (child == 0) {
    if (chdir("/app") != 0) {
      say("chdir /app: %s", strerror(errno));
      _exit(126);
    }
    setsid();
    execve(NODE_PATH, argv, envp);
    say("execve %s: %s", NODE_PATH, strerror(errno));
    _exit(127);
  }
  for (;;) {
    int status;
    pid_t pid = wait(&status);
    if (pid < 0 && errno == EINTR) continue;
    if (pid < 0) fatal("wait");
    if (pid != child) continue; /* reap orphans */
    if (WIFEXITED(status)) say("server exited with status %d; powering off", WEXITSTATUS(status));
    else if (WIFSIGNALED(status)) say("server killed by signal %d; powering off", WTERMSIG(status));
    power_off();
  }
}
