/*
 * Cloister's init: PID 1 of the confidential VM (docs: /work/image-contract.md "The guest at run time").
 *
 * Mounts proc, sysfs, devtmpfs, a size-limited tmpfs on /tmp and configfs; loads the kernel modules
 * listed in /lib/modules/cloister.modules (one path per line, in order; finit_module, .xz decompressed
 * by the kernel); configures lo and eth0 (static 10.0.2.15/24 via 10.0.2.2, QEMU user networking,
 * unless the kernel command line says cloister.net=dhcp); remounts / read-only; then runs
 * `/app/node ... cloister serve` as its child and powers the machine off when the server exits.
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
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

static void setup_network(void) {
  int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) {
    say("network: socket: %s", strerror(errno));
    return;
  }
  if (set_addr(sock, "lo", SIOCSIFADDR, "127.0.0.1") != 0 || set_addr(sock, "lo", SIOCSIFNETMASK, "255.0.0.0") != 0 || link_up(sock, "lo") != 0)
    say("network: lo: %s", strerror(errno));
  if (cmdline_has("cloister.net=dhcp")) {
    say("network: cloister.net=dhcp: DHCP is not implemented yet; eth0 left unconfigured");
    close(sock);
    return;
  }
  /* virtio_net probes synchronously in finit_module, but give the device a moment to appear */
  struct stat st;
  for (long waited = 0; stat("/sys/class/net/eth0", &st) != 0 && waited < ETH_WAIT_MS; waited += 50) sleep_ms(50);
  if (set_addr(sock, "eth0", SIOCSIFADDR, STATIC_ADDR) != 0 || set_addr(sock, "eth0", SIOCSIFNETMASK, STATIC_MASK) != 0 || link_up(sock, "eth0") != 0)
    say("network: eth0: %s", strerror(errno));
  else if (add_default_route(sock, STATIC_GW) != 0)
    say("network: default route: %s", strerror(errno));
  else
    say("network: eth0 %s/24 via %s", STATIC_ADDR, STATIC_GW);
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
  char *argv[] = {NODE_PATH, "--expose-gc", "--clear-free-memory", MAIN_JS, "serve", "--host", "0.0.0.0", "--port", "8080", simulated ? "--simulated" : NULL, NULL};
  char *envp[] = {"HOME=/tmp", GLIBC_TUNABLES_ENV, "NODE_ENV=production", NULL};

  say("starting cloister serve%s", simulated ? " --simulated" : "");
  pid_t child = fork();
  if (child < 0) fatal("fork");
  if (child == 0) {
    if (chdir("/app") != 0) _exit(126);
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
