import { createHash } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CapabilitySchema, create } from '@infraxa/protocol'
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest'
import { AbortedError, createNode, type InfraxaNode, type ModelProvider, modelCid } from '../src/index.js'
import { type ChildNode, spawnChildNode } from './helpers/child-node.js'

const modelA = createHash('sha256').update('model A.gguf').digest()
const modelB = createHash('sha256').update('model B.gguf').digest()
const modelUnknown = createHash('sha256').update('nobody serves this').digest()

const nodes: InfraxaNode[] = []
const children: ChildNode[] = []
const dirs: string[] = []

async function node(options: Parameters<typeof createNode>[0] = {}): Promise<InfraxaNode> {
  const created = await createNode({
    ...options,
    onBootstrapError: (address, error) => {
      throw new Error(`bootstrap to ${address} failed: ${String(error)}`)
    },
  })
  nodes.push(created)
  return created
}

/**
 * The first provider a lookup yields. A DHT is eventually consistent (a lookup can run while the record
 * is still on its way, more so on a loaded machine), so a lookup that ends empty is repeated: at most
 * 8 lookups within 15 s in all.
 */
async function firstProvider(router: InfraxaNode, modelHash: Uint8Array): Promise<ModelProvider | undefined> {
  const signal = AbortSignal.timeout(15_000)
  for (let attempt = 0; attempt < 8 && !signal.aborted; attempt++) {
    for await (const provider of router.findProviders(modelHash, { signal })) {
      return provider
    }
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
  return undefined
}

async function firstProviderOrError(router: InfraxaNode, modelHash: Uint8Array, signal: AbortSignal) {
  try {
    for await (const provider of router.findProviders(modelHash, { signal })) return provider
    return undefined
  } catch (error) {
    return error
  }
}

function hashesOf(models: { modelHash: Uint8Array }[]): string[] {
  return models.map((model) => Buffer.from(model.modelHash).toString('hex')).sort()
}

afterEach(async () => {
  await Promise.all(children.splice(0).map((child) => child.stop()))
  await Promise.all(nodes.splice(0).map((n) => n.stop()))
})

afterAll(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })))
})

describe('discovery by capability over the DHT', () => {
  it('a fresh router finds a provider by each of its two models among 5 nodes and fetches its record', async () => {
    const bootstrapNode = await node()
    const bootstrap = [bootstrapNode.multiaddrs[0]!.toString()]
    await Promise.all([node({ bootstrap }), node({ bootstrap })])
    const provider = await node({ bootstrap, dht: { reprovideIntervalMs: 300 } })
    await provider.setCapability(() =>
      create(CapabilitySchema, {
        models: [
          { modelHash: modelA, name: 'A', maxConcurrentJobs: 4, activeJobs: 1 },
          { modelHash: modelB, name: 'B', maxConcurrentJobs: 4 },
        ],
        verificationModes: ['merkle'],
        loadPermille: 250,
        expiresAtMs: BigInt(Date.now() + 60_000),
      }),
    )
    const provide = vi.spyOn(provider.libp2p.contentRouting, 'provide')
    await provider.advertise(modelA)
    await provider.advertise(modelB)
    expect(provider.advertisedModels).toHaveLength(2)

    const router = await node({ bootstrap })
    for (const model of [modelA, modelB]) {
      const found = await firstProvider(router, model)
      expect(found?.peerId.toString()).toBe(provider.peerId.toString())
      const record = await router.fetchCapability(found!.peerId)
      expect(record.peerId.equals(provider.peerId)).toBe(true)
      expect(hashesOf(record.capability.models)).toEqual(
        hashesOf([{ modelHash: modelA }, { modelHash: modelB }]),
      )
      expect(record.capability.loadPermille).toBe(250)
      expect(record.capability.listenAddrs).toEqual(provider.multiaddrs.map(String))
      expect(record.capability.issuedAtMs).toBeGreaterThan(0n)
    }

    // Nobody serves this one: the search ends empty instead of hanging.
    expect(await firstProvider(router, modelUnknown)).toBeUndefined()

    // Advertised models are provided again every reprovideIntervalMs, until unadvertised.
    await expect.poll(() => provide.mock.calls.length, { timeout: 5_000 }).toBeGreaterThanOrEqual(4)
    await provider.unadvertise(modelB)
    expect(provider.advertisedModels.map((hash) => Buffer.from(hash).toString('hex'))).toEqual([
      modelA.toString('hex'),
    ])
    const before = provide.mock.calls.length
    await expect.poll(() => provide.mock.calls.length, { timeout: 5_000 }).toBeGreaterThan(before)
    const recent = provide.mock.calls.slice(before).map(([cid]) => cid.toString())
    expect(new Set(recent)).toEqual(new Set([modelCid(modelA).toString()]))
  })

  it('finds a provider that advertised the moment its first peer connected (two nodes)', async () => {
    const provider = await node()
    const router = await node({ bootstrap: [provider.multiaddrs[0]!.toString()] })
    // The provider's routing table may still be empty here: advertise waits for the router to enter it.
    await provider.advertise(modelA, { signal: AbortSignal.timeout(10_000) })
    const found = await firstProvider(router, modelA)
    expect(found?.peerId.toString()).toBe(provider.peerId.toString())
  })

  it('waits for a DHT peer before searching, until the signal fires', async () => {
    const alone = await node()
    const started = performance.now()
    const search = firstProviderOrError(alone, modelA, AbortSignal.timeout(300))
    expect(await search).toBeInstanceOf(AbortedError)
    expect(performance.now() - started).toBeGreaterThanOrEqual(250)
  })

  it('works across two OS processes', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'infraxa-p2p-provider-'))
    dirs.push(dataDir)
    const bootstrapNode = await node()
    const bootstrap = [bootstrapNode.multiaddrs[0]!.toString()]
    await Promise.all([node({ bootstrap }), node({ bootstrap })])

    const child = spawnChildNode('provider-process.ts', {
      bootstrap,
      dataDir,
      modelHashes: [modelA, modelB].map((hash) => hash.toString('hex')),
    })
    children.push(child)
    const ready = await child.waitFor((event) => event.event === 'ready', 60_000)
    expect(child.process.pid).not.toBe(process.pid)

    const router = await node({ bootstrap })
    for (const model of [modelA, modelB]) {
      const found = await firstProvider(router, model)
      expect(found?.peerId.toString()).toBe(ready.peerId)
      const record = await router.fetchCapability(found!.peerId)
      expect(hashesOf(record.capability.models)).toEqual(
        hashesOf([{ modelHash: modelA }, { modelHash: modelB }]),
      )
      expect(record.capability.verificationModes).toEqual(['merkle'])
    }
  })
})
