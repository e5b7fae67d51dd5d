import { describe, expect, it } from 'vitest'
import { IncrementalDetokenizer } from '../src/incremental-detokenizer.js'
import { StopStringMatcher } from '../src/stop-strings.js'

/** A fake byte-level detokenizer: token ids are bytes. */
const bytes = (tokens: readonly number[]) => Buffer.from(tokens).toString('utf8')

describe('IncrementalDetokenizer', () => {
  it('holds back incomplete UTF-8 sequences and emits whole characters', () => {
    const d = new IncrementalDetokenizer(bytes)
    const euro = [...Buffer.from('€')]
    expect(d.push('a'.charCodeAt(0))).toBe('a')
    expect(d.push(euro[0]!)).toBe('')
    expect(d.push(euro[1]!)).toBe('')
    expect(d.push(euro[2]!)).toBe('€')
    expect(d.push('b'.charCodeAt(0))).toBe('b')
  })

  it('gives up on invalid sequences after four bytes and flushes the rest', () => {
    const d = new IncrementalDetokenizer(bytes)
    const pieces = [0xe2, 0xe2, 0xe2, 0xe2].map((b) => d.push(b))
    expect(pieces.join('')).toContain('\uFFFD')
    expect(d.push(0xe2)).toBe('')
    expect(d.flush()).toBe('\uFFFD')
    expect(d.flush()).toBe('')
  })

  it('passes preceding tokens as context', () => {
    const seen: number[][] = []
    const d = new IncrementalDetokenizer(
      (tokens, last) => {
        seen.push([...last])
        return bytes(tokens)
      },
      [1, 2, 3],
    )
    d.push(65)
    d.push(66)
    expect(seen).toEqual([
      [1, 2, 3],
      [1, 2, 3, 65],
    ])
  })
})

describe('StopStringMatcher', () => {
  it('finds a stop string split across pieces and reports where it starts', () => {
    const m = new StopStringMatcher(['END', '\n\n'])
    expect(m.append('hello E')).toBe(-1)
    expect(m.append('N')).toBe(-1)
    expect(m.append('D and more')).toBe(6)
    expect(m.text.slice(0, 6)).toBe('hello ')
  })

  it('returns the earliest of several stop strings and ignores empty ones', () => {
    const m = new StopStringMatcher(['', 'b', 'a'])
    expect(m.append('xxab')).toBe(2)
    expect(new StopStringMatcher([]).append('anything')).toBe(-1)
  })
})
