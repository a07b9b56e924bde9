#!/usr/bin/env bash
# Starts the mpc-kms enclave from an EIF on this parent instance (see nitro/README.md).
set -euo pipefail

usage() {
  cat <<'USAGE'
usage: nitro/run-enclave.sh --eif FILE [--memory MIB] [--cpus N] [--cid CID] [--debug]

  --eif     the image built by nitro/build-eif.sh
  --memory  MiB for the enclave (default 4096; at most what nitro/allocator.yaml reserves)
  --cpus    vCPUs for the enclave (default 2)
  --cid     the enclave's vsock CID (default 16; the parent-proxy connects to vsock:CID:5000)
  --debug   debug mode: console readable, ALL PCRs ZERO. Never in production.
USAGE
}

die() {
  echo "run-enclave: $*" >&2
  exit 2
}

eif=''
memory=4096
cpus=2
cid=16
debug=0
while [ $# -gt 0 ]; do
  case "$1" in
    --eif) eif="${2:?--eif needs a value}"; shift 2 ;;
    --memory) memory="${2:?--memory needs a value}"; shift 2 ;;
    --cpus) cpus="${2:?--cpus needs a value}"; shift 2 ;;
    --cid) cid="${2:?--cid needs a value}"; shift 2 ;;
    --debug) debug=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done
[ -n "$eif" ] || { usage >&2; die '--eif is required'; }
[ -f "$eif" ] || die "$eif: no such file"
[[ "$memory" =~ ^[0-9]+$ ]] || die '--memory must be a number of MiB'
[[ "$cpus" =~ ^[0-9]+$ ]] || die '--cpus must be a number'
# CIDs 0-2 are reserved (hypervisor, local, parent); 3 is the parent as the enclave sees it.
[[ "$cid" =~ ^[0-9]+$ ]] && [ "$cid" -ge 4 ] || die '--cid must be a number, 4 or more'
command -v nitro-cli >/dev/null 2>&1 || die 'nitro-cli is not installed (aws-nitro-enclaves-cli)'

args=(--eif-path "$eif" --memory "$memory" --cpu-count "$cpus" --enclave-cid "$cid")
if [ "$debug" -eq 1 ]; then
  cat >&2 <<'WARNING'
##########################################################################################
# WARNING: DEBUG MODE. The attestation documents of a debug-mode enclave report every PCR
# as zero. KMS key policies pin PCR0, so KMS will REFUSE TO UNSEAL any share, and peers and
# the coordinator refuse the enclave at the handshake. Its console is readable from the
# parent. Use only to diagnose a boot failure, never with real keys.
##########################################################################################
WARNING
  args+=(--debug-mode)
fi
exec nitro-cli run-enclave "${args[@]}"
