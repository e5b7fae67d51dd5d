import { fromBinary, type MessageShape, toBinary } from '@bufbuild/protobuf'
import { MalformedMessageError, MessageTooLargeError } from './errors.js'
import { MESSAGE_KINDS, type MessageKind } from './kinds.js'

/** The decoded TypeScript type of a message kind. */
export type MessageOf<K extends MessageKind> = MessageShape<(typeof MESSAGE_KINDS)[K]['schema']>

/**
 * Encodes a message of `kind` to protobuf bytes.
 *
 * @throws {MessageTooLargeError} when the encoding exceeds the kind's limit (a peer would reject it).
 */
export function encodeMessage<K extends MessageKind>(kind: K, message: MessageOf<K>): Uint8Array {
  const { schema, maxBytes } = MESSAGE_KINDS[kind]
  // biome-ignore lint/suspicious/noExplicitAny: the kind table ties schema and message together.
  const bytes = toBinary(schema as any, message as any)
  if (bytes.length > maxBytes) throw new MessageTooLargeError(kind, bytes.length, maxBytes)
  return bytes
}

/**
 * Decodes protobuf bytes as a message of `kind`. Oversized input is rejected before any parsing;
 * anything that is not a valid encoding yields a {@link MalformedMessageError}, never another exception.
 *
 * @example
 * const request = decodeMessage('INFERENCE_REQUEST', bytes)
 */
export function decodeMessage<K extends MessageKind>(kind: K, bytes: Uint8Array): MessageOf<K> {
  const { schema, maxBytes } = MESSAGE_KINDS[kind]
  if (!(bytes instanceof Uint8Array)) throw new MalformedMessageError(kind, 'expected a Uint8Array')
  if (bytes.length > maxBytes) throw new MessageTooLargeError(kind, bytes.length, maxBytes)
  try {
    // Unknown fields are dropped: they are not covered by anything we check and only cost memory.
    // biome-ignore lint/suspicious/noExplicitAny: see encodeMessage.
    return fromBinary(schema as any, bytes, { readUnknownFields: false }) as MessageOf<K>
  } catch (cause) {
    throw new MalformedMessageError(kind, cause instanceof Error ? cause.message : String(cause), { cause })
  }
}
