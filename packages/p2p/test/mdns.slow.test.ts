import { execFileSync, spawnSync } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type ChildNode, spawnChildNode } from './helpers/child-node.js'

/**
 * mDNS between two network namespaces joined by a veth pair, created and removed here. Multicast only
 * ever leaves on that veth pair: nothing reaches the host's own interfaces.
 */

const suffix = String(process.pid)
const nsA = `ixa-mdns-a-${suffix}`
const nsB = `ixa-mdns-b-${suffix}`
const vethA = `ixa${suffix}a`.slice(0, 15)
const vethB = `ixa${suffix}b`.slice(0, 15)
const ipA = '10.231.0.1'
const ipB = '10.231.0.2'

function hasIp(): boolean {
  return spawnSync('ip', ['-V'], { stdio: 'ignore' }).status === 0
}

/** Installs iproute2 with apt-get when `ip` is missing (CI machines start bare); false when it cannot. */
function ensureIp(): boolean {
  if (hasIp()) return true
  if (spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status !== 0) return false
  console.warn('[p2p mdns] `ip` is missing: installing iproute2 with apt-get')
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  spawnSync('apt-get', ['update'], { stdio: 'ignore', env, timeout: 120_000 })
  spawnSync('apt-get', ['install', '-y', 'iproute2'], { stdio: 'ignore', env, timeout: 120_000 })
  return hasIp()
}

/** Why this test cannot run here, or undefined when it can. Only a missing privilege skips it. */
function skipReason(): string | undefined {
  if (process.platform !== 'linux') return `network namespaces need Linux (this is ${process.platform})`
  if (process.getuid?.() !== 0)
    return 'creating network namespaces needs root (run the tests as root to include it)'
  if (!ensureIp()) return undefined // not a privilege problem: the test runs and fails with the reason below
  const probe = `ixa-probe-${suffix}`
  const added = spawnSync('ip', ['netns', 'add', probe], { encoding: 'utf8' })
  if (added.status !== 0) return `cannot create network namespaces here: ${added.stderr.trim()}`
  spawnSync('ip', ['netns', 'del', probe])
  return undefined
}

const reason = skipReason()
if (reason !== undefined) console.warn(`[p2p mdns] SKIPPED mDNS namespace test: ${reason}`)

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] })
}

function namespaces(): string {
  return spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout
}

describe.skipIf(reason !== undefined)('mDNS discovery between two network namespaces', () => {
  const children: ChildNode[] = []

  beforeAll(() => {
    if (!hasIp())
      throw new Error('the `ip` tool (iproute2) is missing and could not be installed with apt-get')
    ip('netns', 'add', nsA)
    ip('netns', 'add', nsB)
    ip('link', 'add', vethA, 'type', 'veth', 'peer', 'name', vethB)
    ip('link', 'set', vethA, 'netns', nsA)
    ip('link', 'set', vethB, 'netns', nsB)
    for (const [ns, veth, address] of [
      [nsA, vethA, ipA],
      [nsB, vethB, ipB],
    ] as const) {
      ip('-n', ns, 'link', 'set', 'lo', 'up')
      ip('-n', ns, 'addr', 'add', `${address}/24`, 'dev', veth)
      ip('-n', ns, 'link', 'set', veth, 'up', 'multicast', 'on')
      // mDNS sends to 224.0.0.251: route multicast onto the veth (the namespaces have no default route).
      ip('-n', ns, 'route', 'add', '224.0.0.0/4', 'dev', veth)
    }
  })

  afterAll(async () => {
    await Promise.all(children.map((child) => child.stop()))
    // Deleting a namespace also deletes the veth end inside it (and with it, its peer).
    for (const ns of [nsA, nsB]) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' })
    expect(namespaces()).not.toContain(nsA)
    expect(namespaces()).not.toContain(nsB)
  })

  it('discover each other, dial what they found, and exchange requests', async () => {
    const a = spawnChildNode('mdns-process.ts', { listen: [`/ip4/${ipA}/tcp/0`] }, { netns: nsA })
    const b = spawnChildNode('mdns-process.ts', { listen: [`/ip4/${ipB}/tcp/0`] }, { netns: nsB })
    children.push(a, b)
    const [readyA, readyB] = await Promise.all([
      a.waitFor((e) => e.event === 'ready', 60_000),
      b.waitFor((e) => e.event === 'ready', 60_000),
    ])
    expect(readyA.addrs).toEqual([expect.stringMatching(new RegExp(`^/ip4/${ipA}/tcp/\\d+/p2p/`))])
    expect(readyB.addrs).toEqual([expect.stringMatching(new RegExp(`^/ip4/${ipB}/tcp/\\d+/p2p/`))])

    await a.waitFor((e) => e.event === 'discovery' && e.peer === readyB.peerId, 30_000)
    await b.waitFor((e) => e.event === 'discovery' && e.peer === readyA.peerId, 30_000)
    // Nobody dials by hand: a connection means the node dialled what mDNS found.
    const pongA = await a.waitFor((e) => e.event === 'pong' && e.peer === readyB.peerId, 30_000)
    const pongB = await b.waitFor((e) => e.event === 'pong' && e.peer === readyA.peerId, 30_000)
    expect(pongA.answer).toBe(`pong from ${readyB.peerId} to ${readyA.peerId}`)
    expect(pongB.answer).toBe(`pong from ${readyA.peerId} to ${readyB.peerId}`)
  })
})
