/*
 * vhostnet bench: the raw tap ceiling in C. Attaches one queue to the multiqueue tap NAME
 * (TUNSETIFF with IFF_TAP|IFF_NO_PI|IFF_VNET_HDR|IFF_MULTI_QUEUE, 12-byte vnet header), prints
 * "ready", waits for a line on stdin, then for at most SECONDS or LIMIT packets (0: no limit):
 *   tx  writes FRAME_FILE (vnet header + frame) in a loop, at most WINDOW frames ahead of the far
 *       end's count, which the bench mirrors into the first 8 bytes of COUNTER_FILE (WINDOW 0: no
 *       window, the bench counts at the tap);
 *   rx  reads, counting frames of EXPECT bytes (vnet header included) into the next 8 bytes of
 *       COUNTER_FILE, where the bench's source reads them for its window;
 *   rr  writes FRAME_FILE, waits for a frame of EXPECT bytes, timing each round trip.
 * Prints "packets N sent S nanos T cpu C p50 A p99 B" (cpu: this process, user + system).
 * Built and run by dev.vhostnet.bench.CTapRig: gcc -O2 raw_tap.c -o raw_tap
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* As Loops.SPINS in Java: empty reads before waiting in poll() for up to 1 ms. */
#define SPINS 200

static int cmp(const void *a, const void *b) {
    long long x = *(const long long *) a, y = *(const long long *) b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    if (argc != 9) {
        fprintf(stderr, "usage: %s TAP tx|rx|rr FRAME_FILE SECONDS LIMIT EXPECT COUNTER_FILE WINDOW\n", argv[0]);
        return 2;
    }
    const char *mode = argv[2];
    double seconds = atof(argv[4]);
    long long limit = atoll(argv[5]);
    int expect = atoi(argv[6]);
    long long window = atoll(argv[8]);
    int cfd = open(argv[7], O_RDWR);
    if (cfd < 0) { perror(argv[7]); return 1; }
    volatile long long *counter = mmap(NULL, 16, PROT_READ | PROT_WRITE, MAP_SHARED, cfd, 0);
    if (counter == MAP_FAILED) { perror("mmap counter"); return 1; }
    /* non-blocking, as the Java loops: spin a little on EAGAIN, then poll (see SPINS) */
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK);
    if (fd < 0) { perror("open /dev/net/tun"); return 1; }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_MULTI_QUEUE;
    strncpy(ifr.ifr_name, argv[1], IFNAMSIZ - 1);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) { perror("TUNSETIFF"); return 1; }
    int hdr = 12;
    if (ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0) { perror("TUNSETVNETHDRSZ"); return 1; }
    static char frame[70000], buf[70000];
    FILE *f = fopen(argv[3], "rb");
    if (!f) { perror(argv[3]); return 1; }
    size_t len = fread(frame, 1, sizeof frame, f);
    fclose(f);
    printf("ready\n");
    fflush(stdout);
    char line[16];
    if (!fgets(line, sizeof line, stdin)) return 1;

    long long max_samples = 2000000, n_samples = 0;
    long long *lat = strcmp(mode, "rr") == 0 ? malloc(sizeof(long long) * max_samples) : NULL;
    int window_spins = 0;
    long long packets = 0, sent = 0, base = counter[0], written_off = 0, last_seen = -1, last_progress = now_ns();
    long long t0 = now_ns(), end = t0 + (long long) (seconds * 1e9), t = t0;
    struct pollfd pfd = { .fd = fd, .events = POLLIN };
    while ((limit == 0 || packets < limit) && (t = now_ns()) < end) {
        if (mode[0] == 't') {
            long long delivered = counter[0] - base;
            if (window > 0 && sent - delivered - written_off >= window) {
                /* as the Java loops' Window: a count that stalls 200 ms writes off what is in flight */
                if (delivered != last_seen) { last_seen = delivered; last_progress = t; }
                else if (t - last_progress > 200000000LL) { written_off = sent - delivered; last_progress = t; }
                if (++window_spins > SPINS) sched_yield(); /* as Loops.tx: Thread.yield() */
                continue;
            }
            window_spins = 0;
            if (write(fd, frame, len) == (ssize_t) len) { sent++; packets++; }
        } else if (mode[1] == 'x') { /* rx */
            static int spins;
            ssize_t n = read(fd, buf, sizeof buf);
            if (n == expect) { counter[1] = ++packets; spins = 0; }
            else if (n < 0 && errno == EAGAIN && ++spins > SPINS) { poll(&pfd, 1, 1); spins = 0; }
        } else { /* rr */
            long long start = now_ns();
            if (write(fd, frame, len) != (ssize_t) len) continue;
            sent++;
            int spins = 0;
            for (;;) {
                ssize_t n = read(fd, buf, sizeof buf);
                if (n == expect) {
                    packets++;
                    if (n_samples < max_samples) lat[n_samples++] = now_ns() - start;
                    break;
                }
                if (n >= 0) continue;
                if (now_ns() - start > 1000000000LL) break;
                if (++spins > SPINS) poll(&pfd, 1, 1);
            }
        }
    }
    long long nanos = now_ns() - t0;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    long long cpu = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000LL
            + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000LL;
    long long p50 = 0, p99 = 0;
    if (n_samples > 0) {
        qsort(lat, n_samples, sizeof *lat, cmp);
        p50 = lat[(n_samples + 1) / 2 - 1];
        long long i99 = (long long) (0.99 * n_samples + 0.999999) - 1;
        p99 = lat[i99 < 0 ? 0 : i99];
    }
    printf("packets %lld sent %lld nanos %lld cpu %lld p50 %lld p99 %lld\n", packets, sent, nanos, cpu, p50, p99);
    return 0;
}
