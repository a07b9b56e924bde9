#!/usr/bin/env bash
# Builds the enclave image (nitro/Dockerfile) and its EIF, and records the EIF's measurements in
# nitro/measurements/<version>.json, version = `git describe --always --dirty`.
set -euo pipefail

usage() {
  cat <<'USAGE'
usage: nitro/build-eif.sh [--output FILE.eif] [--node-image REF@sha256:DIGEST]
                          [--signing-certificate PEM --private-key PEM] [--allow-dirty]

  --output               where the EIF goes (default: nitro/build/mpc-kms-<version>.eif)
  --node-image           the base image; default: the ARG NODE_IMAGE of nitro/Dockerfile.
                         Must be pinned by digest: the build refuses a tag alone.
  --signing-certificate  with --private-key: sign the EIF, which adds PCR8 (the certificate's hash)
  --private-key
  --allow-dirty          build from a tree with uncommitted changes (its PCRs match no commit)
USAGE
}

die() {
  echo "build-eif: $*" >&2
  exit 2
}

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
output=''
node_image=''
cert=''
key=''
allow_dirty=0
while [ $# -gt 0 ]; do
  case "$1" in
    --output) output="${2:?--output needs a value}"; shift 2 ;;
    --node-image) node_image="${2:?--node-image needs a value}"; shift 2 ;;
    --signing-certificate) cert="${2:?--signing-certificate needs a value}"; shift 2 ;;
    --private-key) key="${2:?--private-key needs a value}"; shift 2 ;;
    --allow-dirty) allow_dirty=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done
if { [ -n "$cert" ] && [ -z "$key" ]; } || { [ -z "$cert" ] && [ -n "$key" ]; }; then
  die '--signing-certificate and --private-key go together'
fi

for tool in git docker nitro-cli; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed (nitro-cli: aws-nitro-enclaves-cli)"
done

cd "$ROOT"
version="$(git describe --always --dirty)"
if [ "$allow_dirty" -eq 0 ] && [ -n "$(git status --porcelain)" ]; then
  die "the tree has uncommitted changes ($version): commit, or pass --allow-dirty"
fi

# The base image: the Dockerfile's pinned default unless overridden; either way by digest, or a
# rebuild could silently pull other bytes and give another PCR0.
if [ -z "$node_image" ]; then
  node_image="$(sed -n 's/^ARG NODE_IMAGE=//p' nitro/Dockerfile | head -n 1)"
fi
if ! printf '%s' "$node_image" | grep -Eq '@sha256:[0-9a-f]{64}$'; then
  die "base image \"$node_image\" is not pinned by digest (NAME:TAG@sha256:<64 hex>);" \
    'set ARG NODE_IMAGE in nitro/Dockerfile from `docker buildx imagetools inspect`'
fi

epoch="$(git log -1 --format=%ct)"
tag="mpc-kms-enclave:$version"
output="${output:-nitro/build/mpc-kms-$version.eif}"
mkdir -p "$(dirname "$output")" nitro/measurements

echo "build-eif: docker build $tag (base $node_image, SOURCE_DATE_EPOCH=$epoch)" >&2
DOCKER_BUILDKIT=1 docker build \
  --file nitro/Dockerfile \
  --build-arg "NODE_IMAGE=$node_image" \
  --build-arg "SOURCE_DATE_EPOCH=$epoch" \
  --tag "$tag" \
  .

sign_args=()
if [ -n "$cert" ]; then
  sign_args=(--signing-certificate "$cert" --private-key "$key")
fi
echo "build-eif: nitro-cli build-enclave -> $output" >&2
raw="$(mktemp)"
trap 'rm -f "$raw"' EXIT
nitro-cli build-enclave --docker-uri "$tag" --output-file "$output" "${sign_args[@]}" >"$raw"

measurements="nitro/measurements/$version.json"
cp "$raw" "$measurements"
# Check what was saved with the same strict reader the operators use.
if [ -f dist/cli/main.js ]; then
  node dist/cli/main.js pcrs "$measurements" --format json >/dev/null \
    || die "nitro-cli's output in $measurements is not a measurements file"
fi
{
  echo "commit: $(git rev-parse HEAD)"
  echo "version: $version"
  echo "base image: $node_image"
  echo "source date epoch: $epoch"
  echo "docker image id: $(docker image inspect --format '{{.Id}}' "$tag")"
  echo "eif sha256: $(sha256sum "$output" | cut -d' ' -f1)"
  echo "signed: $([ -n "$cert" ] && echo yes || echo no)"
} >"nitro/measurements/$version.provenance"
echo "build-eif: measurements in $measurements" >&2
cat "$measurements"
