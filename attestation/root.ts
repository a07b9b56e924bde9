/**
 * The pinned trust anchor: AWS Nitro Enclaves Root G1. Every genuine attestation document chains
 * to this certificate, and `cabundle[0]` of a real document is byte-for-byte this DER.
 */
import { X509Certificate, createHash } from 'node:crypto';

/**
 * AWS_NitroEnclaves_Root-G1 (CN=aws.nitro-enclaves, valid 2019-10-28 to 2049-10-28), as AWS
 * distributes it. Embedded rather than fetched: a verifier that downloads its root at run time
 * trusts whoever answers the download.
 */
export const AWS_NITRO_ROOT_G1_PEM = `-----BEGIN CERTIFICATE-----
MIICETCCAZagAwIBAgIRAPkxdWgbkK/hHUbMtOTn+FYwCgYIKoZIzj0EAwMwSTEL
MAkGA1UEBhMCVVMxDzANBgNVBAoMBkFtYXpvbjEMMAoGA1UECwwDQVdTMRswGQYD
VQQDDBJhd3Mubml0cm8tZW5jbGF2ZXMwHhcNMTkxMDI4MTMyODA1WhcNNDkxMDI4
MTQyODA1WjBJMQswCQYDVQQGEwJVUzEPMA0GA1UECgwGQW1hem9uMQwwCgYDVQQL
DANBV1MxGzAZBgNVBAMMEmF3cy5uaXRyby1lbmNsYXZlczB2MBAGByqGSM49AgEG
BSuBBAAiA2IABPwCVOumCMHzaHDimtqQvkY4MpJzbolL//Zy2YlES1BR5TSksfbb
48C8WBoyt7F2Bw7eEtaaP+ohG2bnUs990d0JX28TcPQXCEPZ3BABIeTPYwEoCWZE
h8l5YoQwTcU/9KNCMEAwDwYDVR0TAQH/BAUwAwEB/zAdBgNVHQ4EFgQUkCW1DdkF
R+eWw5b6cp3PmanfS5YwDgYDVR0PAQH/BAQDAgGGMAoGCCqGSM49BAMDA2kAMGYC
MQCjfy+Rocm9Xue4YnwWmNJVA44fA0P5W2OpYow9OYCVRaEevL8uO1XYru5xtMPW
rfMCMQCi85sWBbJwKKXdS6BptQFuZbT73o/gBh1qUxl/nNr12UO8Yfwr6wPLb+6N
IwLz3/Y=
-----END CERTIFICATE-----
`;

/**
 * SHA-256 of the root's DER. The SHA-256 AWS prints beside its download is the zip's, not the
 * certificate's; this one is the certificate's, as `openssl x509 -outform der | sha256sum` gives.
 */
export const AWS_NITRO_ROOT_G1_SHA256 =
  '641a0321a3e244efe456463195d606317ed7cdcc3c1756e09893f3c68f79bb5b';

/** The root's DER, the bytes `cabundle[0]` must equal. */
export const AWS_NITRO_ROOT_G1_DER: Uint8Array = loadPinnedRoot();

/**
 * Decodes the PEM and refuses to load the module if the fingerprint differs, so an edit to the
 * PEM (a bad merge, a "harmless" re-wrap that drops a line) cannot silently change the anchor.
 */
function loadPinnedRoot(): Uint8Array {
  const der = new Uint8Array(new X509Certificate(AWS_NITRO_ROOT_G1_PEM).raw);
  const fingerprint = createHash('sha256').update(der).digest('hex');
  if (fingerprint !== AWS_NITRO_ROOT_G1_SHA256) {
    throw new Error(
      `pinned AWS Nitro root fingerprint is ${fingerprint}, expected ${AWS_NITRO_ROOT_G1_SHA256}`,
    );
  }
  return der;
}
