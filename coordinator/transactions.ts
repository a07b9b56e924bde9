/**
 * From a decoded transaction request to what the signers sign and what the caller gets back.
 * `prepareTransaction` yields the signing input, the policy's view (destinations and value, in
 * the chain's base unit), and `finish`, which puts the signature where the chain expects it.
 *
 * What a policy can see is limited to what the transaction itself fixes. A Taproot signature
 * that does not commit to every output (SIGHASH_NONE, _SINGLE) and a Solana message with
 * instructions other than System transfers have effects no summary can bound: they are refused
 * when the key has a destination policy, instead of being waved through on a partial reading.
 */
import { base58 } from '@scure/base';
import { toHex } from '../protocol/bytes.js';
import type { EcdsaSignature } from '../protocol/ecdsa/signature.js';
import {
  ChainInputError,
  bitcoinTxid,
  ethereumAddress,
  evmSignedTransaction,
  evmSigningDigest,
  evmTransactionSummary,
  isP2trScript,
  p2trScriptPubKey,
  serializeBitcoinTransaction,
  solanaAddress,
  solanaSignerIndex,
  solanaTransaction,
  solanaTransferSummary,
  taprootKeyPathSighash,
  taprootOutputKey,
  taprootSpendSummary,
  witnessV1Address,
  withKeyPathWitness,
  type EvmTransactionRequest,
  type SolanaSignRequest,
  type TaprootSpendRequest,
} from './chains/index.js';
import type { Scheme } from './service-types.js';

export type Chain = 'evm' | 'bitcoin-taproot' | 'solana';

export type TransactionRequest =
  | { readonly chain: 'evm'; readonly body: EvmTransactionRequest }
  | { readonly chain: 'bitcoin-taproot'; readonly body: TaprootSpendRequest }
  | { readonly chain: 'solana'; readonly body: SolanaSignRequest };

/** The key scheme each chain's transactions are signed with. */
export const TRANSACTION_SCHEMES: Readonly<Record<Chain, Scheme>> = {
  evm: 'ecdsa-secp256k1',
  'bitcoin-taproot': 'schnorr-secp256k1-bip340',
  solana: 'eddsa-ed25519',
};

export type SigningOutput = Uint8Array | EcdsaSignature;

export interface PreparedTransaction {
  /** What the signers sign: the EVM digest, the BIP341 sighash, or the Solana message. */
  readonly message: Uint8Array;
  /** Sign for the Taproot output key rather than the key itself. */
  readonly taproot: boolean;
  /** Where value goes, as the chain writes addresses. */
  readonly destinations: readonly string[];
  /** The most the signature can move, in wei, satoshis or lamports. */
  readonly value: bigint;
  /** Whether the policy's view covers everything the signature allows (see the file comment). */
  readonly fullyDecoded: boolean;
  /** The answer, from the signature. */
  finish(signature: SigningOutput): Record<string, unknown>;
}

/** Destinations as a policy compares them: EVM addresses without their checksum case. */
export function normalizeDestination(destination: string): string {
  return /^0x[0-9a-fA-F]{40}$/.test(destination) ? destination.toLowerCase() : destination;
}

/**
 * @param publicKey the (derived) key that signs, as the API shows it: 33-byte compressed for
 *   ECDSA, 32-byte x-only for BIP340 (the Taproot internal key), 32 bytes for Ed25519.
 * @throws ChainInputError when the transaction cannot be signed by this key.
 */
export function prepareTransaction(
  request: TransactionRequest,
  publicKey: Uint8Array,
): PreparedTransaction {
  switch (request.chain) {
    case 'evm':
      return prepareEvm(request.body, publicKey);
    case 'bitcoin-taproot':
      return prepareTaproot(request.body, publicKey);
    case 'solana':
      return prepareSolana(request.body, publicKey);
  }
}

function prepareEvm(body: EvmTransactionRequest, publicKey: Uint8Array): PreparedTransaction {
  const tx = body.transaction;
  const summary = evmTransactionSummary(tx);
  const from = ethereumAddress(publicKey);
  return {
    message: evmSigningDigest(tx),
    taproot: false,
    destinations: [summary.to],
    value: summary.value,
    fullyDecoded: true,
    finish: (signature) => {
      if (signature instanceof Uint8Array) throw new TypeError('an EVM transaction needs ECDSA');
      if (signature.recoveryId > 1) {
        // x(R) ≥ n happens with probability about 2^-128; Ethereum has no v for it.
        throw new ChainInputError('UNSUPPORTED', 'signature', 'recovery id above 1');
      }
      const signed = evmSignedTransaction(tx, {
        r: signature.r,
        s: signature.s,
        recoveryId: signature.recoveryId as 0 | 1,
      });
      return {
        rawTransaction: `0x${toHex(signed.raw)}`,
        hash: `0x${toHex(signed.hash)}`,
        from,
      };
    },
  };
}

function prepareTaproot(body: TaprootSpendRequest, internalKey: Uint8Array): PreparedTransaction {
  const outputKey = taprootOutputKey(internalKey);
  const spent = body.prevouts[body.inputIndex];
  const mine = p2trScriptPubKey(outputKey);
  if (!spent || !isP2trScript(spent.scriptPubKey) || toHex(spent.scriptPubKey) !== toHex(mine)) {
    throw new ChainInputError(
      'NOT_A_SIGNER',
      `prevouts[${body.inputIndex}].scriptPubKey`,
      `the output spent is not this key's Taproot output (${toHex(mine)})`,
    );
  }
  const sighash = taprootKeyPathSighash(body.tx, body.inputIndex, body.prevouts, body.hashType);
  const summary = taprootSpendSummary(body.tx, body.inputIndex, body.prevouts, body.hashType, 'bc');
  return {
    message: sighash,
    taproot: true,
    destinations: summary.outputs.map((o) => o.destination),
    value: summary.value,
    fullyDecoded: summary.outputsCommitted === 'all',
    finish: (signature) => {
      if (!(signature instanceof Uint8Array)) throw new TypeError('Taproot needs BIP340');
      const signed = withKeyPathWitness(body.tx, body.inputIndex, signature, body.hashType);
      return {
        transaction: toHex(serializeBitcoinTransaction(signed)),
        // txid is shown as block explorers do: the hash's bytes reversed.
        txid: toHex(bitcoinTxid(signed).slice().reverse()),
        inputIndex: body.inputIndex,
        sighash: toHex(sighash),
        signature: toHex(signature),
        outputKey: toHex(outputKey),
        address: witnessV1Address(outputKey),
      };
    },
  };
}

function prepareSolana(body: SolanaSignRequest, publicKey: Uint8Array): PreparedTransaction {
  const index = solanaSignerIndex(body.message, publicKey);
  const summary = solanaTransferSummary(body.message);
  const required = body.message.header.numRequiredSignatures;
  return {
    message: body.messageBytes,
    taproot: false,
    destinations: summary.destinations,
    value: summary.value,
    fullyDecoded: summary.otherInstructions.length === 0,
    finish: (signature) => {
      if (!(signature instanceof Uint8Array)) throw new TypeError('Solana needs Ed25519');
      const signatures = Array.from({ length: required }, (_, i) =>
        i === index ? signature : new Uint8Array(64),
      );
      return {
        signature: base58.encode(signature),
        signatureHex: toHex(signature),
        signerIndex: index,
        signer: solanaAddress(publicKey),
        // Complete when this key is the only signer; otherwise the others fill their slots.
        transaction: Buffer.from(solanaTransaction(body.messageBytes, signatures)).toString(
          'base64',
        ),
        complete: required === 1,
      };
    },
  };
}
