#define _GNU_SOURCE
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include "CEpoll.h"

int cepoll_accept4(int fd, struct sockaddr *address, unsigned int *length, int flags) {
  return accept4(fd, address, (socklen_t *)length, flags);
}

int cepoll_name_thread(const char *name) {
  char truncated[16];
  strncpy(truncated, name, sizeof(truncated) - 1);
  truncated[sizeof(truncated) - 1] = '\0';
  return pthread_setname_np(pthread_self(), truncated);
}
