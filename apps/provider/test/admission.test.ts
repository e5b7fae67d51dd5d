import { describe, expect, it } from 'vitest'
import { Admission } from '../src/admission.js'
import { BusyError } from '../src/errors.js'

describe('admission: places per model, shared between peers', () => {
  it('lets one peer take every place but the reserve, and keeps the reserve for other peers', () => {
    const places = new Admission(2, 6, 2) // 8 places, 2 reserved for others
    const flood = Array.from({ length: 6 }, () => places.enter('flooder'))
    expect(places.active).toBe(6)
    expect(() => places.enter('flooder')).toThrow(BusyError)
    const honest = [places.enter('router'), places.enter('router')]
    expect(places.active).toBe(8)
    // Full now: everyone is busy, with a retry-after hint.
    const busy = (() => {
      try {
        places.enter('third')
      } catch (error) {
        return error as BusyError
      }
    })()
    expect(busy).toBeInstanceOf(BusyError)
    expect(busy!.retryAfterMs).toBeGreaterThan(0)
    for (const release of [...flood, ...honest]) release()
    expect(places.active).toBe(0)
  })

  it('releases once, however often it is called', () => {
    const places = new Admission(1, 1, 0)
    const release = places.enter('a')
    release()
    release()
    expect(places.active).toBe(0)
    places.enter('a')
    places.enter('a')
    expect(() => places.enter('a')).toThrow(BusyError)
  })

  it('never reserves decoding sequences: a single peer always gets `parallel` at once', () => {
    const places = new Admission(4, 0, 3)
    expect(places.reserve).toBe(0)
    for (let i = 0; i < 4; i++) places.enter('only')
    expect(() => places.enter('only')).toThrow(BusyError)
  })

  it('defaults the reserve to a quarter of the places', () => {
    expect(new Admission(1, 32).reserve).toBe(8)
    expect(new Admission(4, 8).reserve).toBe(3)
  })
})
