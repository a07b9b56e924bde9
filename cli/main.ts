#!/usr/bin/env node
/** `mpc-kms`: the command-line entry point. */
// Commands are imported when chosen, not up front: the enclave image holds only the enclave's
// folders (enclave/bundle.ts), so `mpc-kms enclave` must not load the coordinator's or the
// simulator's modules, which are absent there.

const USAGE = `usage: mpc-kms <command>

commands:
  demo [--url URL --token TOKEN] [--data DIR]
                        walk through the running system over its REST API (or a system of its
                        own when no --url): keys, addresses, signatures checked by independent
                        verifiers, refresh, audit log and attestations; exit 0 when all pass
  vectors frost FILE    replay an RFC 9591 test-vector file and compare every value byte for byte
  attest verify FILE [--root PEM] [--at RFC3339] [--pcr I=HEX]... [--nonce HEX] [--allow-debug]
                        [--format json|text]
                        verify a Nitro Enclaves attestation document (raw CBOR, base64 or hex)
                        against the pinned AWS root; exit 0 valid, 1 invalid, 2 usage
  sim up [--parties N] [--threshold T] [--port P] [--data DIR] [--bundle DIR] [--upgrade]
                        the whole local system: simulated AWS, parents, enclaves, coordinator
  sim aws --data DIR [--region R] [--host H] [--kms-port P] [--secrets-port P]
          [--credentials FILE] [--nsm-root PEM]...
                        run the simulated KMS and Secrets Manager until SIGINT/SIGTERM
  coordinator --data DIR [--host H] [--port P] [--database-url URL] --party ID=ADDR...
              --identity-key PEM --trust-root PEM [--expected-pcrs FILE] [--presign-pool N]
                        the REST API in front of the enclaves (DATABASE_URL, MPC_KMS_ADMIN_TOKEN)
  audit verify FILE [--root PEM] [--pcr I=HEX]...
                        check an exported audit log: hash chain and enclave acknowledgements
  enclave (--boot ADDR | --party N --listen ADDR --kms-endpoint URL --kms-via ADDR
          --secrets-endpoint URL --secrets-via ADDR --region R --credentials FILE
          --kms-key-id ID --coordinator-key PEM [--max-channel-age-s S] [--round-timeout-ms MS])
          (--nsm nitro [--nsm-helper PATH] | --nsm simulated --nsm-root-cert PEM
          --nsm-root-key PEM [--bundle DIR]) [--trust-root PEM] [--expected-pcrs FILE]
                        the enclave signer: attested channels, ceremonies, sealing through KMS
  parent-proxy --enclave ADDR --coordinator-listen ADDR [--forward LISTEN=HOST:PORT]...
               --allowlist FILE [--boot-listen ADDR --boot-config FILE
               [--aws-credentials FILE]]
                        on an enclave's parent instance: pipe the coordinator to the enclave's
                        control port and the enclave to allowlisted TCP targets (e.g. KMS),
                        until SIGINT/SIGTERM; ADDR is vsock:CID:PORT, unix:PATH or tcp:HOST:PORT
  pcrs FILE [--format tfvars|json|flags]
                        print the PCRs of a nitro-cli measurements file (nitro/build-eif.sh) as
                        Terraform variables, an --expected-pcrs file or attest verify's --pcr flags
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const out = (line: string) => process.stdout.write(line + '\n');
  switch (command) {
    case 'demo':
      return (await import('./demo.js')).demoCommand(rest, out, (line) =>
        process.stderr.write(line + '\n'),
      );
    case 'vectors':
      return (await import('./vectors.js')).vectorsCommand(rest, out);
    case 'sim':
      return (await import('./sim.js')).simCommand(rest, out, (line) =>
        process.stderr.write(line + '\n'),
      );
    case 'coordinator':
      return (await import('./coordinator.js')).coordinatorCommand(rest, out, (line) =>
        process.stderr.write(line + '\n'),
      );
    case 'audit':
      return (await import('./audit.js')).auditCommand(rest, out, (line) =>
        process.stderr.write(line + '\n'),
      );
    case 'enclave':
      return (await import('./enclave.js')).enclaveCommand(rest, out, (line) =>
        process.stderr.write(line + '\n'),
      );
    case 'parent-proxy':
      return (await import('./parent-proxy.js')).parentProxyCommand(rest, out, (line) =>
        process.stderr.write(line + '\n'),
      );
    case 'pcrs':
      return (await import('./pcrs.js')).pcrsCommand(rest, out, (line) =>
        process.stderr.write(line + '\n'),
      );
    case 'attest':
      return (await import('./attest.js')).attestCommand(rest, out, (line) =>
        process.stderr.write(line + '\n'),
      );
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`mpc-kms: unknown command "${command}"\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    // Messages only: a stack trace could quote whatever a failing frame held.
    process.stderr.write(`mpc-kms: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
