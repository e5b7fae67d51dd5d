import { sha256 } from '@noble/hashes/sha2.js'
import type { SignedEnvelope } from './gen/infraxa/v1/envelope_pb.js'

const utf8 = new TextEncoder()
const REQUEST_TAG = utf8.encode('infraxa/v1/request-hash\0')
const PROMPT_TAG = utf8.encode('infraxa/v1/prompt-tokens\0')

/**
 * The hash a response names to bind itself to one request: sha256 over a tag, the signer's public key
 * and the request payload bytes as signed. A response for one job therefore never fits another.
 */
export function requestHash(request: SignedEnvelope): Uint8Array {
  const h = sha256.create()
  h.update(REQUEST_TAG)
  h.update(request.publicKey)
  h.update(request.payload)
  return h.digest()
}

/** sha256 over a tag and the prompt token ids as u32 little-endian. */
export function promptTokenHash(tokens: ArrayLike<number>): Uint8Array {
  const buf = new Uint8Array(tokens.length * 4)
  const view = new DataView(buf.buffer)
  for (let i = 0; i < tokens.length; i++) view.setUint32(i * 4, tokens[i]!, true)
  const h = sha256.create()
  h.update(PROMPT_TAG)
  h.update(buf)
  return h.digest()
}
