/* SPDX-License-Identifier: MIT */
/* The baseline for light endpoints: a hello-world libmicrohttpd server set up like tbdev-server
 * (internal epoll threads), answering a fixed body. Usage: hello_mhd PORT THREADS */
#include <microhttpd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static enum MHD_Result answer(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *data,
                              size_t *size, void **state)
{
    (void)cls, (void)url, (void)method, (void)version, (void)data;
    static int marker;
    if (!*state) { /* the usual pattern: answer on the second call, which keeps the connection */
        *state = &marker;
        return MHD_YES;
    }
    *size = 0;
    static const char body[] = "{\"status\":\"ok\"}";
    struct MHD_Response *r =
        MHD_create_response_from_buffer(sizeof(body) - 1, (void *)body, MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(r, "Content-Type", "application/json");
    enum MHD_Result ok = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return ok;
}

int main(int argc, char **argv)
{
    unsigned port = argc > 1 ? (unsigned)atoi(argv[1]) : 18181;
    unsigned threads = argc > 2 ? (unsigned)atoi(argv[2]) : 4;
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, (uint16_t)port, NULL, NULL, answer, NULL,
        MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_END);
    if (!d)
        return 1;
    printf("listening on %u\n", port);
    fflush(stdout);
    pause();
    MHD_stop_daemon(d);
    return 0;
}
