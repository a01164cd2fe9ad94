/* SPDX-License-Identifier: MIT */
/* Replays fuzz inputs through LLVMFuzzerTestOneInput when the build has no libFuzzer. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/*
 * Usage: fuzz_<name> PATH...
 * Each PATH is a file or a directory; a directory's regular files are replayed in name order
 * (subdirectories and names starting with '.' are skipped). The empty input runs first, as
 * libFuzzer does. Each input is read into a malloc'd buffer of exactly its size (never NULL,
 * as with libFuzzer), so that a sanitizer sees any read past its end. Exits 0 when every input
 * ran, 1 when a path could not be read or no input was found; a bug in the code under test
 * aborts.
 */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path, size_t *count)
{
    FILE *f = fopen(path, "rb");
    uint8_t *data = NULL;
    int err = 0;
    if (!f) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fileno(f), &st) < 0 || st.st_size < 0) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        err = -1;
        goto out;
    }
    size_t size = (size_t)st.st_size;
    data = malloc(size ? size : 1);
    if (!data || (size && fread(data, 1, size, f) != size)) {
        fprintf(stderr, "%s: cannot read\n", path);
        err = -1;
        goto out;
    }
    LLVMFuzzerTestOneInput(data, size);
    (*count)++;
out:
    free(data);
    fclose(f);
    return err;
}

static int run_dir(const char *dir, size_t *count)
{
    struct dirent **names = NULL;
    int n = scandir(dir, &names, NULL, alphasort);
    int err = 0;
    if (n < 0) {
        fprintf(stderr, "%s: %s\n", dir, strerror(errno));
        return -1;
    }
    for (int i = 0; i < n; i++) {
        char path[4096];
        struct stat st;
        if (names[i]->d_name[0] != '.' &&
            snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name) < (int)sizeof(path) &&
            stat(path, &st) == 0 && S_ISREG(st.st_mode) && run_file(path, count) < 0)
            err = -1;
        free(names[i]);
    }
    free(names);
    return err;
}

int main(int argc, char **argv)
{
    size_t count = 0;
    int err = 0;
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
        return 1;
    }
    static const uint8_t empty[1];
    LLVMFuzzerTestOneInput(empty, 0);
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) < 0) {
            fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
            err = -1;
        } else if (S_ISDIR(st.st_mode) ? run_dir(argv[i], &count) < 0
                                       : run_file(argv[i], &count) < 0) {
            err = -1;
        }
    }
    printf("%s: replayed %zu inputs\n", argv[0], count);
    if (count == 0) {
        fprintf(stderr, "%s: no inputs found\n", argv[0]);
        return 1;
    }
    return err < 0 ? 1 : 0;
}
