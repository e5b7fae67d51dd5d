/**
 * The wire format of every Infraxa stream.
 *
 * ```
 * frame = type (1 byte) ‖ uvarint(payload length) ‖ payload
 * type  = 0x00 DATA   payload: application bytes (at most `maxFrameBytes`)
 *         0x01 ERROR  payload: an encoded `infraxa.v1.ErrorMessage` (at most MESSAGE_KINDS.ERROR.maxBytes)
 * ```
 *
 * The type comes first so the size limit is known before the length is read: an oversized frame is
 * rejected as soon as its header arrives, without buffering its body. Any other type byte, a length
 * varint longer than {@link MAX_LENGTH_BYTES} bytes or a frame cut off by the end of the stream is
 * malformed. An ERROR frame is the last frame a side sends; end of stream (the writer's half-close) ends
 * a response.
 */
import { MESSAGE_KINDS } from '@infraxa/protocol'

/** Frame type byte of a data frame. */
export const DATA_FRAME = 0x00
/** Frame type byte of an ERROR frame (payload: encoded `ErrorMessage`). */
export const ERROR_FRAME = 0x01

/** The two frame types. */
export type FrameType = typeof DATA_FRAME | typeof ERROR_FRAME

/** Largest payload of an ERROR frame: the protocol's limit for an ERROR message. */
export const MAX_ERROR_FRAME_BYTES: number = MESSAGE_KINDS.ERROR.maxBytes

/** Longest accepted length varint: 8 bytes encode up to 2^56 − 1, far beyond any frame limit. */
export const MAX_LENGTH_BYTES = 8

/** Length in bytes of the unsigned LEB128 varint encoding of `value`. */
export function uvarintLength(value: number): number {
  let length = 1
  while (value >= 0x80) {
    value = Math.floor(value / 128)
    length++
  }
  return length
}

/** Encodes the header (type and length) of a frame whose payload has `payloadLength` bytes. */
export function encodeFrameHeader(type: FrameType, payloadLength: number): Uint8Array {
  const header = new Uint8Array(1 + uvarintLength(payloadLength))
  header[0] = type
  let value = payloadLength
  let i = 1
  while (value >= 0x80) {
    header[i++] = (value % 128) | 0x80
    value = Math.floor(value / 128)
  }
  header[i] = value
  return header
}

/** Encodes a whole frame (header and payload) into one buffer. */
export function encodeFrame(type: FrameType, payload: Uint8Array): Uint8Array {
  const header = encodeFrameHeader(type, payload.length)
  const frame = new Uint8Array(header.length + payload.length)
  frame.set(header)
  frame.set(payload, header.length)
  return frame
}
