/*
 * nsm-ioctl: one raw request to the Nitro Secure Module, for a process that cannot call ioctl.
 *
 * Node has no ioctl, and the NSM is reachable only through ioctl(NSM_IOCTL_RAW) on /dev/nsm. The
 * enclave (enclave/nsm-device.ts) therefore runs this program once per request: it writes the
 * CBOR request on stdin, reads the CBOR response on stdout, and learns what went wrong from the
 * exit code. The program does not parse CBOR; the caller builds and validates both messages.
 *
 * Exit codes (the caller maps them to NsmError codes):
 *   0  the NSM answered; its response bytes are on stdout (possibly an NSM "Error" answer)
 *   2  usage: this program takes no arguments
 *   3  /dev/nsm could not be opened (no NSM: not in an enclave, or the driver is not loaded)
 *   4  the ioctl failed (errno on stderr)
 *   5  the request on stdin is empty, larger than NSM_REQUEST_MAX_SIZE, or stdin failed
 *   6  writing the response to stdout failed
 * Messages go to stderr and never contain request or response bytes.
 */
/* POSIX.1-2008 for O_CLOEXEC, which -std=c11 alone hides. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "nsm-uapi.h"

/* The written-out ioctl number, checked against libc's own macros where they exist. */
#ifdef _IOWR
_Static_assert(_IOWR(NSM_MAGIC, 0x0, struct nsm_raw) == NSM_IOCTL_RAW,
               "NSM_IOCTL_RAW must equal the kernel's _IOWR(NSM_MAGIC, 0, struct nsm_raw)");
#endif

enum {
  EXIT_ANSWERED = 0,
  EXIT_USAGE = 2,
  EXIT_NO_DEVICE = 3,
  EXIT_IOCTL_FAILED = 4,
  EXIT_BAD_REQUEST = 5,
  EXIT_OUTPUT_FAILED = 6,
};

static int fail(int code, const char *what, int error) {
  if (error != 0) {
    fprintf(stderr, "nsm-ioctl: %s: %s\n", what, strerror(error));
  } else {
    fprintf(stderr, "nsm-ioctl: %s\n", what);
  }
  return code;
}

/*
 * Reads all of stdin into buf, up to capacity bytes. Reads one byte past the limit so that an
 * oversized request is refused rather than truncated into a different, well-formed one.
 * Returns the length, or -1 with errno set (E2BIG when the input does not fit).
 */
static long read_request(unsigned char *buf, size_t capacity) {
  size_t total = 0;
  for (;;) {
    ssize_t n = read(STDIN_FILENO, buf + total, capacity + 1 - total);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (n == 0) return (long)total;
    total += (size_t)n;
    if (total > capacity) {
      errno = E2BIG;
      return -1;
    }
  }
}

static int write_all(int fd, const unsigned char *buf, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, buf, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    buf += n;
    len -= (size_t)n;
  }
  return 0;
}

int main(int argc, char **argv) {
  (void)argv;
  if (argc != 1) return fail(EXIT_USAGE, "usage: nsm-ioctl < request.cbor > response.cbor", 0);

  /* One extra byte: read_request needs room to notice an oversized request. */
  static unsigned char request[NSM_REQUEST_MAX_SIZE + 1];
  /* The full maximum: the driver truncates to the buffer, so no answer can be cut short. */
  static unsigned char response[NSM_RESPONSE_MAX_SIZE];

  long request_len = read_request(request, NSM_REQUEST_MAX_SIZE);
  if (request_len < 0) {
    if (errno == E2BIG) return fail(EXIT_BAD_REQUEST, "request larger than 4096 bytes", 0);
    return fail(EXIT_BAD_REQUEST, "reading stdin", errno);
  }
  if (request_len == 0) return fail(EXIT_BAD_REQUEST, "empty request", 0);

  /* The request is read before the device is opened: a caller that dies half way through
   * writing it never reaches the NSM. */
  int fd;
  do {
    fd = open("/dev/nsm", O_RDWR | O_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return fail(EXIT_NO_DEVICE, "opening /dev/nsm", errno);

  struct nsm_raw raw;
  int status;
  do {
    /* Reset on every attempt: the driver rewrites response.len. Retrying after EINTR repeats
     * the request, which is safe for what the enclave sends (Attestation has no side effect). */
    raw.request.addr = (uint64_t)(uintptr_t)request;
    raw.request.len = (uint64_t)request_len;
    raw.response.addr = (uint64_t)(uintptr_t)response;
    raw.response.len = sizeof response;
    status = ioctl(fd, NSM_IOCTL_RAW, &raw);
  } while (status < 0 && errno == EINTR);
  if (status < 0) {
    int error = errno;
    close(fd);
    return fail(EXIT_IOCTL_FAILED, "ioctl(NSM_IOCTL_RAW)", error);
  }
  close(fd);

  /* The driver never reports more than the buffer; a device double might, so check. An empty
   * response is passed on: judging content is the caller's job. */
  if (raw.response.len > sizeof response) {
    return fail(EXIT_IOCTL_FAILED, "the NSM reported a response longer than its buffer", 0);
  }
  if (write_all(STDOUT_FILENO, response, (size_t)raw.response.len) != 0) {
    return fail(EXIT_OUTPUT_FAILED, "writing stdout", errno);
  }
  return EXIT_ANSWERED;
}
