// epoll, eventfd and accept4 for the router's own event loop (RouterDaemon's EpollLoop):
// Swift's Glibc module does not export them.
#ifndef CEPOLL_H
#define CEPOLL_H
#include <sys/epoll.h>
#include <sys/eventfd.h>

struct sockaddr;

/// accept4(2), which glibc declares only under _GNU_SOURCE.
int cepoll_accept4(int fd, struct sockaddr *address, unsigned int *length, int flags);
#endif
