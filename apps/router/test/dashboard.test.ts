import type { AddressInfo } from 'node:net'
import { describe, expect, it } from 'vitest'
import { JobJournal } from '../src/dashboard.js'
import { createHttpServer, type RouterApi } from '../src/index.js'

describe('JobJournal', () => {
  it('follows a job from running to its verdict, and an optimistic one to its settlement', () => {
    let now = 1_000
    const journal = new JobJournal({ now: () => now })
    journal.started({ id: 'a', model: 'm', mode: 'merkle', provider: 'p' })
    journal.started({ id: 'b', model: 'm', mode: 'fraud_proof', provider: 'p' })
    expect(journal.jobs().map((j) => [j.id, j.status])).toEqual([
      ['b', 'running'],
      ['a', 'running'],
    ])
    now = 1_250
    journal.ended('a', { status: 'verified', completionTokens: 10 })
    journal.ended('b', { status: 'pending', completionTokens: 5 })
    journal.settled('b', 'failed', 'fraud proven')
    const [b, a] = journal.jobs()
    expect(a).toMatchObject({ status: 'verified', latencyMs: 250, completionTokens: 10 })
    expect(b).toMatchObject({ status: 'failed', reason: 'fraud proven', settledAt: 1_250 })
    // Unknown ids (jobs already rolled out of the ring) are ignored.
    journal.ended('zz', { status: 'verified' })
    journal.settled('zz', 'verified')
    expect(journal.jobs()).toHaveLength(2)
  })

  it('keeps only the newest jobs and points', () => {
    const journal = new JobJournal({ maxJobs: 3, maxPoints: 2 })
    for (let i = 0; i < 10; i++) journal.started({ id: String(i), model: 'm', mode: 'merkle', provider: 'p' })
    expect(journal.jobs().map((j) => j.id)).toEqual(['9', '8', '7'])
    for (let i = 0; i < 5; i++) journal.sample({ queueDepth: i, inFlight: 0 })
    expect(journal.series().map((p) => p.queueDepth)).toEqual([3, 4])
  })

  it('tokens/s counts the tokens of answers completed since the last point, not of failed ones', () => {
    let now = 0
    const journal = new JobJournal({ now: () => now })
    journal.started({ id: 'a', model: 'm', mode: 'merkle', provider: 'p' })
    journal.started({ id: 'b', model: 'm', mode: 'merkle', provider: 'p' })
    journal.ended('a', { status: 'verified', completionTokens: 30 })
    journal.ended('b', { status: 'failed', completionTokens: 1_000 })
    now = 2_000
    expect(journal.sample({ queueDepth: 2, inFlight: 1 })).toMatchObject({
      tokensPerSecond: 15,
      queueDepth: 2,
      inFlight: 1,
    })
    now = 3_000
    expect(journal.sample({ queueDepth: -1, inFlight: 0 })).toMatchObject({
      tokensPerSecond: 0,
      queueDepth: 0,
    })
  })
})

describe('dashboard routes', () => {
  /** TEST DOUBLE: a RouterApi answering only what the dashboard routes read. */
  const api = {
    dashboard: () => ({ providers: [], jobs: [{ id: 'x' }] }),
  } as unknown as RouterApi

  it('GET / is the page under a strict CSP; GET /v1/dashboard its JSON', async () => {
    const server = createHttpServer(api)
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    try {
      const page = await fetch(`${base}/`)
      expect(page.status).toBe(200)
      expect(page.headers.get('content-type')).toMatch(/^text\/html/)
      const csp = page.headers.get('content-security-policy') ?? ''
      expect(csp).toContain("default-src 'none'")
      expect(csp).toMatch(/script-src 'sha256-[A-Za-z0-9+/=]+'/)
      expect(csp).not.toContain('unsafe-inline')
      const html = await page.text()
      expect(html).toContain('<tbody id="providers">')
      expect(html).not.toMatch(/(src|href)=["']?(https?:)?\/\//)
      const data = await fetch(`${base}/v1/dashboard`)
      expect(data.headers.get('cache-control')).toBe('no-store')
      expect(await data.json()).toEqual({ providers: [], jobs: [{ id: 'x' }] })
      expect((await fetch(`${base}/`, { method: 'POST' })).status).toBe(405)
    } finally {
      server.close()
    }
  })
})
