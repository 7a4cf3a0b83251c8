/*
 * vfs-tool: the guest workload's helpers that busybox lacks (or that would cost a fork per file under TCG).
 * Built with gcc -static by prepare.sh into the initramfs as /bin/vfs-tool.
 *
 *   vfs-tool now                          CLOCK_MONOTONIC in milliseconds (since boot)
 *   vfs-tool mkfiles DIR N                creates DIR/f00000 .. f(N-1), each holding "file <i>\n"
 *   vfs-tool statfiles DIR N              stats them, checking each one's size
 *   vfs-tool rmfiles DIR N                unlinks them
 *   vfs-tool countdir DIR                 prints how many entries DIR lists, . and .. aside (readdir only, no stat)
 *   vfs-tool write PATH MIB SEED          writes MIB MiB of a xorshift64 pattern, then fsyncs
 *   vfs-tool readsum PATH                 reads the file and prints "<checksum> <bytes>"
 *   vfs-tool setxattr PATH NAME VALUE
 *   vfs-tool getxattr PATH NAME           prints the value
 *
 * The checksum ("vfs64", 16 hex digits) is cheap enough for TCG and is recomputed by the host tests
 * (tests/VirtioFs.Guest.Tests/Vfs64.cs): h = 0xcbf29ce484222325; for each little-endian 64-bit word w of the
 * data, the last one zero-padded: h = (h ^ w) * 0x100000001b3, h ^= h >> 32; finally the same step with w = length.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (1u << 20)

static int fail(const char *what, const char *path)
{
    fprintf(stderr, "vfs-tool: %s %s: %s\n", what, path, strerror(errno));
    return 1;
}

static long count_arg(const char *s)
{
    char *end;
    long n = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || n < 0 || n > 1000000) {
        fprintf(stderr, "vfs-tool: bad number '%s'\n", s);
        exit(2);
    }
    return n;
}

static uint64_t mix(uint64_t h, uint64_t w)
{
    h = (h ^ w) * 0x100000001b3ull;
    return h ^ (h >> 32);
}

static int now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    printf("%lld\n", (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
    return 0;
}

static void file_name(char *buf, size_t size, const char *dir, long i)
{
    snprintf(buf, size, "%s/f%05ld", dir, i);
}

static int mkfiles(const char *dir, long n)
{
    char path[4096], text[32];
    for (long i = 0; i < n; i++) {
        file_name(path, sizeof path, dir, i);
        int len = snprintf(text, sizeof text, "file %ld\n", i);
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
        if (fd < 0)
            return fail("create", path);
        if (write(fd, text, len) != len) {
            close(fd);
            return fail("write", path);
        }
        if (close(fd) != 0)
            return fail("close", path);
    }
    return 0;
}

static int statfiles(const char *dir, long n)
{
    char path[4096], text[32];
    for (long i = 0; i < n; i++) {
        struct stat st;
        file_name(path, sizeof path, dir, i);
        if (stat(path, &st) != 0)
            return fail("stat", path);
        long expected = snprintf(text, sizeof text, "file %ld\n", i);
        if (st.st_size != expected) {
            fprintf(stderr, "vfs-tool: %s has %lld bytes, expected %ld\n", path, (long long)st.st_size, expected);
            return 1;
        }
    }
    return 0;
}

static int rmfiles(const char *dir, long n)
{
    char path[4096];
    for (long i = 0; i < n; i++) {
        file_name(path, sizeof path, dir, i);
        if (unlink(path) != 0)
            return fail("unlink", path);
    }
    return 0;
}

static int countdir(const char *path)
{
    DIR *dir = opendir(path);
    if (dir == NULL)
        return fail("opendir", path);
    long count = 0;
    struct dirent *e;
    errno = 0;
    while ((e = readdir(dir)) != NULL)
        count += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    if (errno != 0)
        return fail("readdir", path);
    closedir(dir);
    printf("%ld\n", count);
    return 0;
}

static int write_pattern(const char *path, long mib, uint64_t seed)
{
    uint64_t *buf = malloc(CHUNK), x = seed ? seed : 1;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (buf == NULL || fd < 0)
        return fail("create", path);
    for (long m = 0; m < mib; m++) {
        for (size_t i = 0; i < CHUNK / 8; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            buf[i] = x;
        }
        for (size_t done = 0; done < CHUNK;) {
            ssize_t w = write(fd, (char *)buf + done, CHUNK - done);
            if (w <= 0)
                return fail("write", path);
            done += (size_t)w;
        }
    }
    if (fsync(fd) != 0)
        return fail("fsync", path);
    if (close(fd) != 0)
        return fail("close", path);
    free(buf);
    return 0;
}

static int readsum(const char *path)
{
    unsigned char *buf = malloc(CHUNK + 8);
    int fd = open(path, O_RDONLY);
    if (buf == NULL || fd < 0)
        return fail("open", path);
    uint64_t h = 0xcbf29ce484222325ull, total = 0;
    size_t have = 0; /* bytes in buf not yet hashed (fewer than 8 between reads) */
    for (;;) {
        ssize_t r = read(fd, buf + have, CHUNK);
        if (r < 0)
            return fail("read", path);
        if (r == 0)
            break;
        total += (uint64_t)r;
        have += (size_t)r;
        size_t words = have / 8;
        for (size_t i = 0; i < words; i++) {
            uint64_t w;
            memcpy(&w, buf + i * 8, 8);
            h = mix(h, w);
        }
        memmove(buf, buf + words * 8, have - words * 8);
        have -= words * 8;
    }
    if (have > 0) {
        uint64_t w = 0;
        memcpy(&w, buf, have);
        h = mix(h, w);
    }
    h = mix(h, total);
    close(fd);
    free(buf);
    printf("%016" PRIx64 " %" PRIu64 "\n", h, total);
    return 0;
}

int main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : "";
    if (strcmp(cmd, "now") == 0 && argc == 2)
        return now();
    if (strcmp(cmd, "mkfiles") == 0 && argc == 4)
        return mkfiles(argv[2], count_arg(argv[3]));
    if (strcmp(cmd, "statfiles") == 0 && argc == 4)
        return statfiles(argv[2], count_arg(argv[3]));
    if (strcmp(cmd, "rmfiles") == 0 && argc == 4)
        return rmfiles(argv[2], count_arg(argv[3]));
    if (strcmp(cmd, "countdir") == 0 && argc == 3)
        return countdir(argv[2]);
    if (strcmp(cmd, "write") == 0 && argc == 5)
        return write_pattern(argv[2], count_arg(argv[3]), (uint64_t)count_arg(argv[4]));
    if (strcmp(cmd, "readsum") == 0 && argc == 3)
        return readsum(argv[2]);
    if (strcmp(cmd, "setxattr") == 0 && argc == 5)
        return setxattr(argv[2], argv[3], argv[4], strlen(argv[4]), 0) == 0 ? 0 : fail("setxattr", argv[2]);
    if (strcmp(cmd, "getxattr") == 0 && argc == 4) {
        char value[4096];
        ssize_t n = getxattr(argv[2], argv[3], value, sizeof value - 1);
        if (n < 0)
            return fail("getxattr", argv[2]);
        value[n] = '\0';
        printf("%s\n", value);
        return 0;
    }
    fprintf(stderr, "usage: vfs-tool now | mkfiles|statfiles|rmfiles DIR N | countdir DIR | write PATH MIB SEED | readsum PATH"
                    " | setxattr PATH NAME VALUE | getxattr PATH NAME\n");
    return 2;
}
