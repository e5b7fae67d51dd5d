/** SentencePiece token types as GGUF stores them in `tokenizer.ggml.token_type`. */
export const TOKEN_TYPE = { normal: 1, unknown: 2, control: 3, byte: 6 } as const

/** Ids of the special tokens of every generated vocabulary (the layout of llama / stories260K). */
export const TEST_VOCABULARY_SPECIAL_IDS = { unknown: 0, bos: 1, eos: 2 } as const

/** Smallest vocabulary a generated model may have: 3 specials, 256 byte tokens and the space piece. */
export const MIN_TEST_VOCABULARY_SIZE = 3 + 256 + 1

/** A SentencePiece ("llama") vocabulary: pieces, merge scores and token types, index = token id. */
export interface TestVocabulary {
  tokens: string[]
  scores: Float32Array
  tokenTypes: Int32Array
}

const SPACE = '\u2581'
const LOWER = 'abcdefghijklmnopqrstuvwxyz'
const SINGLES = `${LOWER}${LOWER.toUpperCase()}0123456789.,!?'":;-()`

/** Deterministic, endless sequence of distinct text pieces: singles, then words of growing length. */
function* normalPieces(): Generator<string> {
  yield SPACE
  for (const c of SINGLES) yield c
  for (const c of SINGLES) yield SPACE + c
  for (let length = 2; ; length++) {
    const indices = new Array<number>(length).fill(0)
    for (;;) {
      const word = indices.map((i) => LOWER[i]).join('')
      yield word
      yield SPACE + word
      let position = length - 1
      while (position >= 0 && indices[position] === LOWER.length - 1) indices[position--] = 0
      if (position < 0) break
      indices[position]! += 1
    }
  }
}

/**
 * Builds the byte-fallback SentencePiece vocabulary of a generated model, laid out like stories260K:
 * `<unk>`, `<s>`, `</s>`, the 256 byte tokens `<0x00>`..`<0xFF>`, then text pieces with decreasing
 * scores. Any text tokenizes (bytes the pieces miss fall back to byte tokens).
 */
export function buildTestVocabulary(size: number): TestVocabulary {
  if (!Number.isInteger(size) || size < MIN_TEST_VOCABULARY_SIZE) {
    throw new RangeError(`vocabulary size must be an integer >= ${MIN_TEST_VOCABULARY_SIZE}, got ${size}`)
  }
  const tokens = ['<unk>', '<s>', '</s>']
  const tokenTypes = new Int32Array(size)
  const scores = new Float32Array(size)
  tokenTypes[0] = TOKEN_TYPE.unknown
  tokenTypes[1] = TOKEN_TYPE.control
  tokenTypes[2] = TOKEN_TYPE.control
  for (let b = 0; b < 256; b++) {
    tokenTypes[tokens.length] = TOKEN_TYPE.byte
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`)
  }
  const pieces = normalPieces()
  let rank = 1
  while (tokens.length < size) {
    const piece = pieces.next().value as string
    tokenTypes[tokens.length] = TOKEN_TYPE.normal
    scores[tokens.length] = -rank++
    tokens.push(piece)
  }
  return { tokens, scores, tokenTypes }
}
