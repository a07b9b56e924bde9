/*
 * The kernel's NSM UAPI, restated because build images do not ship it. Source of truth:
 * Linux include/uapi/linux/nsm.h (and drivers/misc/nsm.c, which implements it):
 *   #define NSM_MAGIC 0x0A
 *   #define NSM_REQUEST_MAX_SIZE 0x1000
 *   #define NSM_RESPONSE_MAX_SIZE 0x3000
 *   struct nsm_iovec { __u64 addr; __u64 len; };
 *   struct nsm_raw { struct nsm_iovec request; struct nsm_iovec response; };
 *   #define NSM_IOCTL_RAW _IOWR(NSM_MAGIC, 0x0, struct nsm_raw)
 * The driver copies request.len bytes in (EMSGSIZE above the maximum), and on success sets
 * response.len to the answer's length, truncated to the buffer given.
 *
 * Included by the helper (nsm-ioctl.c) and by the test's stand-in for the device
 * (test/fixtures/nsm-shim.c), so the two cannot disagree on the layout.
 */
#ifndef MPC_KMS_NSM_UAPI_H
#define MPC_KMS_NSM_UAPI_H

#include <stdint.h>

#define NSM_MAGIC 0x0A
#define NSM_REQUEST_MAX_SIZE 0x1000
#define NSM_RESPONSE_MAX_SIZE 0x3000

struct nsm_iovec {
  uint64_t addr;
  uint64_t len;
};

struct nsm_raw {
  struct nsm_iovec request;
  struct nsm_iovec response;
};

/*
 * _IOWR(0x0A, 0, struct nsm_raw) in the asm-generic encoding that x86_64 and aarch64 (the two
 * Nitro architectures) use: direction read|write (3) in bits 30-31, the 32-byte argument size in
 * bits 16-29, the magic in bits 8-15, number 0 in bits 0-7. Written out so that it does not
 * depend on which libc's macros are present; nsm-ioctl.c checks it against them where they are.
 */
#define NSM_IOCTL_RAW 0xC0200A00UL

_Static_assert(sizeof(struct nsm_raw) == 32, "struct nsm_raw must match the kernel's 32 bytes");

#endif
