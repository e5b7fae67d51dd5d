import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Key } from 'interface-datastore'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { createNode, type InfraxaNode, type ModelProvider, SqliteDatastore } from '../src/index.js'

const dir = mkdtempSync(join(tmpdir(), 'infraxa-p2p-persist-'))
const nodes: InfraxaNode[] = []
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()))
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

async function node(options: Parameters<typeof createNode>[0] = {}): Promise<InfraxaNode> {
  const created = await createNode(options)
  nodes.push(created)
  return created
}

const bytes = (text: string) => new TextEncoder().encode(text)

describe('SqliteDatastore', () => {
  it('puts, gets, deletes and queries by prefix; a missing key is NotFoundError; data survives reopening', async () => {
    const path = join(dir, 'store', 'kv.sqlite')
    const store = new SqliteDatastore(path)
    store.put(new Key('/peers/a'), bytes('A'))
    store.put(new Key('/peers/b'), bytes('B'))
    store.put(new Key('/dht/provider/x'), bytes('X'))
    store.put(new Key('/peers/a'), bytes('A2'))
    expect(new TextDecoder().decode(store.get(new Key('/peers/a')))).toBe('A2')
    expect(store.has(new Key('/peers/c'))).toBe(false)
    expect(() => store.get(new Key('/peers/c'))).toThrow(expect.objectContaining({ name: 'NotFoundError' }))
    const peers = []
    for await (const pair of store.query({ prefix: '/peers' })) peers.push(pair.key.toString())
    expect(peers).toEqual(['/peers/a', '/peers/b'])
    const keys = []
    for await (const key of store.queryKeys({})) keys.push(key.toString())
    expect(keys).toEqual(['/dht/provider/x', '/peers/a', '/peers/b'])
    store.delete(new Key('/peers/b'))
    store.close()

    const reopened = new SqliteDatastore(path)
    expect(reopened.has(new Key('/peers/b'))).toBe(false)
    expect(new TextDecoder().decode(reopened.get(new Key('/dht/provider/x')))).toBe('X')
    // Writes while a query is being read (libp2p does this) do not disturb it.
    const seen = []
    for await (const pair of reopened.query({ prefix: '/' })) {
      seen.push(pair.key.toString())
      reopened.put(new Key(`/late${seen.length}`), bytes('L'))
    }
    expect(seen).toEqual(['/dht/provider/x', '/peers/a'])
    reopened.close()
  })
})

describe('a node with a data dir keeps its peers and the DHT records it holds across a restart', () => {
  it('a restarted DHT node answers a lookup from disk while the provider is offline', async () => {
    const model = createHash('sha256').update('persisted model').digest()
    const dhtDir = join(dir, 'dht-node')
    const first = await node({ dataDir: dhtDir })
    const provider = await node({ bootstrap: [first.multiaddrs[0]!.toString()] })
    await provider.advertise(model)
    const providerAddress = provider.multiaddrs[0]!.toString()
    const providerId = provider.peerId.toString()
    await provider.stop()
    await first.stop()

    // Same identity, new port: nobody can re-provide to it, so what it answers comes from its disk.
    const restarted = await node({ dataDir: dhtDir })
    expect(restarted.peerId.toString()).toBe(first.peerId.toString())
    expect(await restarted.libp2p.peerStore.has(provider.peerId)).toBe(true)
    const client = await node({ bootstrap: [restarted.multiaddrs[0]!.toString()] })
    const found: ModelProvider[] = []
    for await (const p of client.findProviders(model, { signal: AbortSignal.timeout(10_000) })) found.push(p)
    expect(found.map((p) => p.peerId.toString())).toEqual([providerId])
    expect(found[0]!.multiaddrs.map((a) => `${a.toString()}/p2p/${providerId}`)).toContain(providerAddress)
  })
})
