import { InvalidArgumentError } from '@infraxa/protocol'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { create as createDigest } from 'multiformats/hashes/digest'
import { sha256 } from 'multiformats/hashes/sha2'

/** Length of a model hash: sha256 of the GGUF file. */
export const MODEL_HASH_BYTES = 32

/**
 * The DHT key under which providers of a model are announced: a CIDv1 with the `raw` codec (0x55) and a
 * sha2-256 multihash (0x12) whose digest is the model hash itself. The model hash already is the sha256
 * of the GGUF file, so this is exactly the CID of the file's bytes as IPFS would compute it.
 *
 * @throws {InvalidArgumentError} the hash is not 32 bytes
 * @example
 * modelCid(modelHash).toString() // 'bafkrei…'
 */
export function modelCid(modelHash: Uint8Array): CID {
  if (!(modelHash instanceof Uint8Array) || modelHash.length !== MODEL_HASH_BYTES) {
    throw new InvalidArgumentError(`a model hash has ${MODEL_HASH_BYTES} bytes (sha256 of the GGUF file)`)
  }
  return CID.createV1(raw.code, createDigest(sha256.code, Uint8Array.from(modelHash)))
}

/**
 * The model hash named by a CID made with {@link modelCid}.
 *
 * @throws {InvalidArgumentError} the CID is not a raw sha2-256 CIDv1
 */
export function modelHashFromCid(cid: CID): Uint8Array {
  if (cid.version !== 1 || cid.code !== raw.code || cid.multihash.code !== sha256.code) {
    throw new InvalidArgumentError(`${cid.toString()} is not a model CID (CIDv1, raw, sha2-256)`)
  }
  return Uint8Array.from(cid.multihash.digest)
}
