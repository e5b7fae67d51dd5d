import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { AnswerText } from '../src/answer-text.js'

/** A test double of a byte-level tokenizer: token ids are bytes, 0 ends the generation. */
const byteTokenizer = {
  detokenize: (tokens: readonly number[]) => Buffer.from(tokens.filter((t) => t !== 0)).toString('utf8'),
  isEndOfGeneration: (token: number) => token === 0,
}
const tokensOf = (text: string) => [...Buffer.from(text)]

function stream(text: string, stop: string[], end = true): { pieces: string[]; answer: AnswerText } {
  const answer = new AnswerText(byteTokenizer, [1], stop)
  const pieces = tokensOf(text).map((t) => answer.push(t))
  if (end) pieces.push(answer.end())
  return { pieces, answer }
}

describe('AnswerText', () => {
  it('releases the text of each token as it comes when there is no stop string', () => {
    const { pieces } = stream('ab€', [], false)
    expect(pieces).toEqual(['a', 'b', '', '', '€'])
  })

  it('cuts before a stop string and holds back what could be its start', () => {
    const { pieces, answer } = stream('one. END two', ['END'])
    expect(pieces.join('')).toBe('one. ')
    // Nothing released is ever taken back: each running total is a prefix of the answer.
    let released = ''
    for (const piece of pieces) {
      released += piece
      expect('one. '.startsWith(released)).toBe(true)
    }
    expect(answer.stopped).toBe(true)
    expect(answer.text).toBe('one. ')
  })

  it('releases held-back text that was not a stop string', () => {
    const { pieces } = stream('an EN day', ['END'])
    expect(pieces.join('')).toBe('an EN day')
  })

  it('gives the end-of-generation token no text and ignores tokens after a stop', () => {
    const answer = new AnswerText(byteTokenizer, [1], ['!'])
    expect([...tokensOf('hi!'), 65, 0].map((t) => answer.push(t)).join('') + answer.end()).toBe('hi')
  })

  it('refuses tokens after the end', () => {
    const answer = new AnswerText(byteTokenizer, [1])
    answer.end()
    expect(() => answer.push(65)).toThrow(RangeError)
  })

  it('never splits a surrogate pair while holding back', () => {
    const { pieces } = stream('a😀b', ['bx'])
    for (const piece of pieces) expect(piece).not.toMatch(/[\ud800-\udbff]$/)
    expect(pieces.join('')).toBe('a😀b')
  })

  it('stops at the stop string that appears first, not the one that starts first (fast-check found it)', () => {
    expect(stream('aba', ['b', 'aba']).pieces.join('')).toBe('a')
  })

  it('streamed pieces always add up to the whole answer cut at the first stop to appear (property)', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom('a', 'b', 'c', ' ', 'é') }),
        fc.array(fc.string({ unit: fc.constantFrom('a', 'b', 'c'), minLength: 1, maxLength: 3 }), {
          maxLength: 2,
        }),
        (text, stops) => {
          // Generation stops as soon as a stop string has appeared (one character at a time here), cut
          // where the earliest of those that appeared starts: with "aba" and stops ["b", "aba"], "b" has
          // appeared at "ab", before "aba" is complete, so the answer is "a".
          let expected = text
          for (let end = 1; end <= text.length; end++) {
            const seen = stops.map((s) => text.slice(0, end).indexOf(s)).filter((i) => i >= 0)
            if (seen.length > 0) {
              expected = text.slice(0, Math.min(...seen))
              break
            }
          }
          expect(stream(text, stops).pieces.join('')).toBe(expected)
        },
      ),
    )
  })
})
