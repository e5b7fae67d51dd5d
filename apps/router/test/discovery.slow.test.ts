import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { createNode, type InfraxaNode } from '@infraxa/p2p'
import { createProvider, type Provider } from '@infraxa/provider'
import { afterAll, describe, expect, it } from 'vitest'
import { createRouter, type Router } from '../src/index.js'
import { chat, storiesPath, tempDir } from './support/index.js'

describe('discovery through the DHT', () => {
  const dir = tempDir('dht')
  const stopped: Array<{ stop(): Promise<void> }> = []
  afterAll(async () => {
    for (const s of stopped.reverse()) await s.stop().catch(() => {})
    rmSync(dir, { recursive: true, force: true })
  })

  it('a router that only knows a bootstrap node finds the provider of its model and gets a verified answer', async () => {
    const bootstrap: InfraxaNode = await createNode({ dataDir: join(dir, 'bootstrap') })
    stopped.push(bootstrap)
    const bootstrapAddrs = bootstrap.multiaddrs.map(String)
    const provider: Provider = await createProvider({
      models: [{ path: storiesPath(), name: 'stories260K' }],
      dataDir: join(dir, 'provider'),
      threads: 1,
      bootstrap: bootstrapAddrs,
    })
    stopped.push(provider)
    // The provider's record must reach the DHT before the router asks.
    await provider.node.advertise(provider.models[0]!.hash, { signal: AbortSignal.timeout(10_000) })
    const router: Router = await createRouter({
      dataDir: join(dir, 'router'),
      http: '127.0.0.1:0',
      bootstrap: bootstrapAddrs,
      verifyModels: [{ path: storiesPath() }],
      threads: 1,
    })
    stopped.push(router)
    // Not a bootstrap peer of the router: known only through the DHT record of its model hash.
    expect(bootstrapAddrs.some((a) => a.includes(provider.peerId))).toBe(false)
    const { status, json } = await chat(router.url!, {
      model: 'stories260K',
      messages: [{ role: 'user', content: 'Once upon a time' }],
      max_tokens: 12,
    })
    expect(status).toBe(200)
    expect(json.infraxa).toMatchObject({ verdict: 'verified', provider: provider.peerId })
  })
})
