// epoll, eventfd, accept4 and thread names for the router's own event loop (RouterDaemon's EpollLoop):
// Swift's Glibc module does not export them.
#ifndef CEPOLL_H
#define CEPOLL_H
#include <sys/epoll.h>
#include <sys/eventfd.h>

struct sockaddr;

/// accept4(2), which glibc declares only under _GNU_SOURCE.
int cepoll_accept4(int fd, struct sockaddr *address, unsigned int *length, int flags);

/// Names the calling thread (the kernel keeps 15 bytes): pthread_setname_np, likewise
/// _GNU_SOURCE only.
int cepoll_name_thread(const char *name);
#endif
