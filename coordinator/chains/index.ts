/**
 * Transaction encoding for the chains the service signs for: Ethereum and EVM chains (ECDSA),
 * Bitcoin Taproot key-path spends (BIP340), Solana (Ed25519). Pure functions over bytes and
 * plain data: no I/O, clocks or randomness. Parsers throw `ChainInputError`; request schemas
 * report zod issues.
 */
export { ChainInputError, type ChainInputErrorCode } from './errors.js';
export {
  addressesFor,
  checksumAddress,
  ethereumAddress,
  solanaAddress,
  taprootAddress,
  taprootOutputKey,
  taprootTweak,
  witnessV0Address,
  witnessV1Address,
  type ChainAddress,
} from './addresses.js';
export { rlpDecode, rlpDecodeInt, rlpEncode, rlpInt, type RlpItem } from './rlp.js';
export {
  evmSignedTransaction,
  evmSigningDigest,
  evmSigningPayload,
  evmTransactionSummary,
  type AccessListEntry,
  type Eip1559Tx,
  type EvmSignature,
  type EvmTransaction,
  type LegacyTx,
} from './evm.js';
export { evmTransactionRequest, type EvmTransactionRequest } from './evm-request.js';
export {
  bitcoinTxid,
  parseBitcoinTransaction,
  serializeBitcoinTransaction,
  type BitcoinInput,
  type BitcoinOutput,
  type BitcoinTransaction,
} from './bitcoin-tx.js';
export {
  isP2trScript,
  p2trScriptPubKey,
  taprootKeyPathSighash,
  taprootSpendSummary,
  withKeyPathWitness,
  type BitcoinDestination,
  type Prevout,
  type TaprootHashType,
  type TaprootSpendSummary,
} from './taproot.js';
export { taprootSpendRequest, type TaprootSpendRequest } from './taproot-request.js';
export {
  parseSolanaMessage,
  solanaSignerIndex,
  solanaTransaction,
  solanaTransferSummary,
  type SolanaInstruction,
  type SolanaMessage,
  type SolanaSummary,
} from './solana.js';
export { solanaSignRequest, type SolanaSignRequest } from './solana-request.js';
