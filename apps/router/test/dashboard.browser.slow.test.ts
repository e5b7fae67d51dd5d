import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { createProvider, type Provider } from '@infraxa/provider'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createRouter, type Router } from '../src/index.js'
import { launchChromium } from './support/browser.js'
import { randomTokenForgery } from './support/forgeries.js'
import { storiesPath, tempDir } from './support/index.js'

/** A model name a hostile provider might advertise: it must be shown as text, never run. */
const HOSTILE_NAME = 'stories260K<img src=x onerror="document.body.dataset.pwned=1">'

async function chat(router: Router, body: Record<string, unknown>) {
  const res = await fetch(`${router.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      model: 'stories260K',
      messages: [{ role: 'user', content: 'Once upon a time' }],
      max_tokens: 12,
      temperature: 0,
      ...body,
    }),
  })
  return (await res.json()) as { infraxa?: { receipt_id: string; verdict: string }; error?: unknown }
}

// The router's dashboard in a real headless Chromium (Debian's package, driven by playwright-core):
// the page loads under its CSP, shows the provider, and follows jobs to their verdicts as they happen.
describe('the dashboard in a real browser', () => {
  const dir = tempDir('dashboard')
  let provider: Provider
  let cheater: Provider | undefined
  let router: Router
  let browser: Browser
  let page: Page
  const pageErrors: string[] = []

  beforeAll(async () => {
    provider = await createProvider({
      models: [{ path: storiesPath(), name: 'stories260K' }],
      dataDir: join(dir, 'provider'),
      threads: 1,
    })
    router = await createRouter({
      dataDir: join(dir, 'router'),
      http: '127.0.0.1:0',
      bootstrap: provider.node.multiaddrs.map(String),
      verifyModels: [{ path: storiesPath() }],
      threads: 1,
    })
    browser = await launchChromium()
    page = await browser.newPage()
    page.on('pageerror', (error) => pageErrors.push(`pageerror: ${error.message}`))
    page.on('console', (message) => {
      if (message.type() === 'error') pageErrors.push(`console: ${message.text()}`)
    })
  }, 120_000)
  afterAll(async () => {
    await browser?.close()
    await router?.stop()
    await cheater?.stop()
    await provider?.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  it('loads and shows the provider with its model, build, load and probation state', async () => {
    const response = await page.goto(`${router.url}/`)
    expect(response?.status()).toBe(200)
    expect(response?.headers()['content-security-policy']).toContain("default-src 'none'")
    const row = page.locator(`#providers tr[data-peer="${provider.peerId}"]`)
    await row.waitFor({ timeout: 15_000 })
    const text = await row.textContent()
    expect(text).toContain('stories260K')
    expect(text).toContain('F32')
    expect(text).toContain('llama.cpp')
    expect(await row.getAttribute('data-state')).toBe('probation')
    expect(await page.locator('#peer').textContent()).toBe(router.peerId)
    // The script ran under the CSP (it filled the table), with no error or blocked resource.
    expect(pageErrors).toEqual([])
  })

  it('shows a job when it completes: verified, its latency, tokens and receipt link', async () => {
    const before = Number(await page.locator('body').getAttribute('data-updates'))
    const answer = await chat(router, {})
    const id = answer.infraxa!.receipt_id
    expect(answer.infraxa!.verdict).toBe('verified')
    const row = page.locator(`#jobs tr[data-job="${id}"]`)
    await row.and(page.locator('[data-status="verified"]')).waitFor({ timeout: 10_000 })
    const text = await row.textContent()
    expect(text).toContain('merkle')
    expect(text).toMatch(/\d+ ms/)
    // The page kept polling (it was not reloaded), and the link opens the signed receipt.
    expect(Number(await page.locator('body').getAttribute('data-updates'))).toBeGreaterThan(before)
    const href = await row.locator('a').getAttribute('href')
    expect(href).toBe(`/v1/receipts/${id}`)
    const receipt = (await (await fetch(`${router.url}${href}`)).json()) as { verdict: string }
    expect(receipt.verdict).toBe('verified')
    // The provider's measured speed (first-token and per-token times), in the JSON and on the page.
    const data = (await (await fetch(`${router.url}/v1/dashboard`)).json()) as {
      providers: Array<{ peer_id: string; first_token_ms: number | null; ms_per_token: number | null }>
    }
    const measured = data.providers.find((p) => p.peer_id === provider.peerId)!
    expect(measured.first_token_ms).toBeGreaterThanOrEqual(0)
    expect(measured.ms_per_token).toBeGreaterThan(0)
    await page
      .locator(`#providers tr[data-peer="${provider.peerId}"]`)
      .filter({ hasText: 'ms/token' })
      .waitFor({ timeout: 10_000 })
    // The chart has drawn the series, tokens/s among them.
    await page.locator('#chart polyline[data-series="tokens_per_second"]').waitFor({ timeout: 10_000 })
  })

  it('an optimistic job is listed, then shows the verdict the watcher settles', async () => {
    const answer = await chat(router, { verification: 'fraud_proof' })
    const id = answer.infraxa!.receipt_id
    expect(['pending', 'verified']).toContain(answer.infraxa!.verdict)
    const row = page.locator(`#jobs tr[data-job="${id}"]`)
    await row.and(page.locator('[data-status="verified"]')).waitFor({ timeout: 30_000 })
    expect(await row.textContent()).toContain('fraud_proof')
  })

  it('a cheating provider: its job shows failed, it shows banned, its hostile name stays text', async () => {
    cheater = await createProvider({
      models: [{ path: storiesPath(), name: HOSTILE_NAME }],
      dataDir: join(dir, 'cheater'),
      threads: 1,
      bootstrap: router.node.multiaddrs.map(String),
      // TEST DOUBLE (attack): every committed token replaced by another of the top-k.
      dishonest: { forgeStep: randomTokenForgery({ fraction: 1 }) },
    })
    const cheaterRow = page.locator(`#providers tr[data-peer="${cheater.peerId}"]`)
    for (let i = 0; i < 20 && (await cheaterRow.count()) === 0; i++) {
      await router.refresh()
      await new Promise((r) => setTimeout(r, 250))
    }
    await cheaterRow.waitFor({ timeout: 10_000 })
    expect(await cheaterRow.textContent()).toContain(HOSTILE_NAME)
    // A newcomer gets traffic (probation, audited): a few requests reach it.
    for (let i = 0; i < 8 && !router.reputation.get(cheater.peerId).banned; i++) {
      const answer = await chat(router, { seed: i })
      expect(answer.infraxa?.verdict).toBe('verified')
    }
    expect(router.reputation.get(cheater.peerId).banned).toBe(true)
    await page
      .locator(`#jobs tr[data-status="failed"]`)
      .filter({ hasText: cheater.peerId.slice(-6) })
      .first()
      .waitFor({ timeout: 10_000 })
    await page
      .locator(`#providers tr[data-peer="${cheater.peerId}"][data-state="banned"]`)
      .waitFor({ timeout: 10_000 })
    expect(await page.locator('body').getAttribute('data-pwned')).toBeNull()
    expect(await page.locator('#providers img').count()).toBe(0)
    expect(pageErrors).toEqual([])
    // INFRAXA_SCREENSHOT=<file.png> keeps a picture of the page at the end.
    if (process.env.INFRAXA_SCREENSHOT)
      await page.screenshot({ path: process.env.INFRAXA_SCREENSHOT, fullPage: true })
  })
})
