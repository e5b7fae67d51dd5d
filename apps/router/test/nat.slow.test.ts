import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type ProviderProcess, type RouterProcess, spawnProvider, spawnRouter } from '../bench/processes.js'
import { storiesPath, tempDir } from './support/index.js'
import {
  addNamespaces,
  deleteNamespaces,
  ensureTool,
  forwardIpv6,
  inNamespace,
  ip,
  link,
  namespaceSkipReason,
} from './support/netns.js'

/**
 * A provider behind a home firewall, served through a circuit relay, in four network namespaces made
 * here and joined only to each other (IPv6 documentation prefix 3fff::/20 of RFC 9637, never routed anywhere):
 *
 *   provider ─ gateway (stateful firewall: nothing comes in unasked) ─ relay ─ router
 *     3fff:1::2      3fff:1::1 | 3fff:3::2      3fff:3::1 | 3fff:2::1     3fff:2::2
 *
 * The relay is a router run with `--relay` (any well-connected node may be one); the provider listens
 * through it (`--listen <relay>/p2p-circuit`) and bootstraps to it. Public-looking addresses, because
 * libp2p's DCUtR (and AutoNAT) ignore private ones. Phase 1: the firewall lets the provider open connections to the relay only — the
 * router can reach it through the relay alone. Phase 2: it lets the provider open connections anywhere
 * (a usual home firewall) — DCUtR upgrades a new router's relayed connection to a direct one.
 */

const suffix = String(process.pid).slice(-5)
const ns = {
  provider: `ixa-nat-p-${suffix}`,
  gateway: `ixa-nat-g-${suffix}`,
  relay: `ixa-nat-r-${suffix}`,
  router: `ixa-nat-c-${suffix}`,
}
const PROVIDER_IP = '3fff:1::2'
/**
 * A public address, given with --announce: libp2p announces a public listen address only once AutoNAT has
 * confirmed it from 4 networks, which four namespaces cannot offer. (The namespaces are private to this
 * test, so fixed ports are free.) DCUtR dials the routers' from behind the firewall.
 */
const publicAt = (address: string) => ['--listen', address, '--announce', address]

const reason = namespaceSkipReason()
if (reason !== undefined) console.warn(`[router nat] SKIPPED relay/DCUtR namespace test: ${reason}`)

/** The gateway's forward chain: replies always pass; new connections only from the provider, to `allowed`. */
function firewall(allowed: 'relay only' | 'anywhere'): void {
  const rule =
    allowed === 'relay only'
      ? 'iifname "gw-in" oifname "gw-out" ip6 daddr 3fff:3::1 accept'
      : 'iifname "gw-in" accept'
  inNamespace(
    ns.gateway,
    ['nft', '-f', '-'],
    `flush ruleset
table inet home {
  chain forward {
    type filter hook forward priority 0; policy drop;
    ct state established,related accept
    ${rule}
  }
}
`,
  )
}

/** A POST from inside the router's namespace (its HTTP API listens on that namespace's loopback). */
function post(url: string, body: unknown): { status: number; body: string } {
  const script =
    'const r = await fetch(process.argv[1], { method: "POST", headers: { "content-type": "application/json" }, body: process.argv[2] });' +
    'process.stdout.write(JSON.stringify({ status: r.status, body: await r.text() }))'
  const out = inNamespace(ns.router, [
    process.execPath,
    '--input-type=module',
    '-e',
    script,
    url,
    JSON.stringify(body),
  ])
  return JSON.parse(out) as { status: number; body: string }
}

function get(url: string): string {
  const script = 'process.stdout.write(await (await fetch(process.argv[1])).text())'
  return inNamespace(ns.router, [process.execPath, '--input-type=module', '-e', script, url])
}

/** Tries a TCP connection from the router's namespace; resolves what happened within 2 s. */
function probeTcp(host: string, port: number): string {
  const script =
    'const s = (await import("node:net")).connect({ host: process.argv[1], port: Number(process.argv[2]) });' +
    'const t = setTimeout(() => { process.stdout.write("timeout"); process.exit(0) }, 2000);' +
    's.on("connect", () => { process.stdout.write("connected"); process.exit(0) });' +
    's.on("error", (e) => { process.stdout.write(e.code ?? "error"); process.exit(0) })'
  return inNamespace(ns.router, [process.execPath, '--input-type=module', '-e', script, host, String(port)])
}

function gauge(metrics: string, name: string): number {
  const line = metrics.split('\n').find((l) => l.startsWith(name))
  return line === undefined ? Number.NaN : Number(line.split(' ').at(-1))
}

async function until<T>(what: string, timeoutMs: number, probe: () => T | undefined): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = probe()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 250))
  }
}

function completion(url: string, seed: number) {
  return post(`${url}/v1/chat/completions`, {
    model: 'stories260K',
    messages: [{ role: 'user', content: 'Once upon a time' }],
    max_tokens: 24,
    temperature: 0.7,
    seed,
  })
}

describe.skipIf(reason !== undefined)('a provider behind a firewall, through a circuit relay', () => {
  const dir = tempDir('nat')
  const started: Array<{ stop(): Promise<void> }> = []
  let relay: RouterProcess
  let provider: ProviderProcess
  let providerPort: number

  const routerArgs = (name: string, bootstrap?: string) => [
    '--verify-model',
    storiesPath(),
    '--data-dir',
    join(dir, name),
    '--threads',
    '1',
    '--http',
    '127.0.0.1:0',
    ...(bootstrap === undefined ? [] : ['--bootstrap', bootstrap]),
  ]

  beforeAll(async () => {
    if (!ensureTool('nft', ['--version'], 'nftables'))
      throw new Error('nft (nftables) is missing and could not be installed with apt-get')
    addNamespaces(Object.values(ns))
    link([ns.provider, 'prov', `${PROVIDER_IP}/64`], [ns.gateway, 'gw-in', '3fff:1::1/64'])
    link([ns.gateway, 'gw-out', '3fff:3::2/64'], [ns.relay, 'relay-home', '3fff:3::1/64'])
    link([ns.relay, 'relay-net', '3fff:2::1/64'], [ns.router, 'router', '3fff:2::2/64'])
    ip('-n', ns.provider, '-6', 'route', 'add', 'default', 'via', '3fff:1::1')
    ip('-n', ns.gateway, '-6', 'route', 'add', 'default', 'via', '3fff:3::1')
    ip('-n', ns.relay, '-6', 'route', 'add', '3fff:1::/64', 'via', '3fff:3::2')
    ip('-n', ns.router, '-6', 'route', 'add', 'default', 'via', '3fff:2::1')
    forwardIpv6(ns.gateway)
    forwardIpv6(ns.relay)
    firewall('relay only')

    relay = await spawnRouter(
      [
        ...routerArgs('relay'),
        '--relay',
        ...publicAt('/ip6/3fff:3::1/tcp/4001'),
        ...publicAt('/ip6/3fff:2::1/tcp/4001'),
      ],
      60_000,
      { netns: ns.relay },
    )
    started.push(relay)
    const relayHome = relay.multiaddrs.find((a) => a.startsWith('/ip6/3fff:3::1/'))!
    provider = await spawnProvider(
      [
        '--model',
        storiesPath(),
        '--data-dir',
        join(dir, 'provider'),
        '--threads',
        '1',
        '--listen',
        `/ip6/${PROVIDER_IP}/tcp/0`,
        '--listen',
        `${relayHome}/p2p-circuit`,
        '--bootstrap',
        relayHome,
      ],
      60_000,
      { netns: ns.provider },
    )
    started.push(provider)
    providerPort = Number(/\/tcp\/(\d+)\//.exec(provider.multiaddrs[0]!)![1])
  }, 240_000)

  afterAll(async () => {
    for (const s of started.reverse()) await s.stop().catch(() => {})
    expect(deleteNamespaces(Object.values(ns))).toEqual([])
    rmSync(dir, { recursive: true, force: true })
  })

  it('phase 1: the router cannot dial the provider, finds it through the DHT and is served a verified job through the relay', async () => {
    // Nothing reaches the provider unasked: a direct TCP connection from the router's side goes nowhere.
    expect(probeTcp(PROVIDER_IP, providerPort)).not.toBe('connected')

    const relayNet = relay.multiaddrs.find((a) => a.startsWith('/ip6/3fff:2::1/'))!
    const router = await spawnRouter(
      [...routerArgs('router-1', relayNet), ...publicAt('/ip6/3fff:2::2/tcp/4002')],
      60_000,
      {
        netns: ns.router,
      },
    )
    started.push(router)
    const metrics = await until('the provider in the router’s table', 60_000, () => {
      const text = get(`${router.url}/metrics`)
      return gauge(text, 'infraxa_provider_connections{path="relayed"}') >= 1 ? text : undefined
    })
    expect(gauge(metrics, 'infraxa_provider_connections{path="direct"}')).toBe(0)

    for (let seed = 1; seed <= 3; seed++) {
      const res = completion(router.url, seed)
      expect(res.status, res.body).toBe(200)
      const receipt = (JSON.parse(res.body) as { infraxa: { verdict: string; provider: string } }).infraxa
      expect(receipt.verdict).toBe('verified')
      expect(receipt.provider).toBe(provider.peerId)
    }
    // Still relayed: the firewall let no direct connection through (DCUtR tried and could not).
    const after = get(`${router.url}/metrics`)
    expect(gauge(after, 'infraxa_provider_connections{path="relayed"}')).toBe(1)
    expect(gauge(after, 'infraxa_provider_connections{path="direct"}')).toBe(0)
  }, 180_000)

  it('phase 2: with outbound connections allowed, DCUtR upgrades a relayed connection to a direct one', async () => {
    firewall('anywhere')
    const relayNet = relay.multiaddrs.find((a) => a.startsWith('/ip6/3fff:2::1/'))!
    const t0 = Date.now()
    const router = await spawnRouter(
      [...routerArgs('router-2', relayNet), ...publicAt('/ip6/3fff:2::2/tcp/4003')],
      60_000,
      {
        netns: ns.router,
      },
    )
    started.push(router)
    let relayedSeenAt: number | undefined
    const upgradedAt = await until('a direct connection to the provider', 60_000, () => {
      const metrics = get(`${router.url}/metrics`)
      if (gauge(metrics, 'infraxa_provider_connections{path="relayed"}') >= 1) relayedSeenAt ??= Date.now()
      return gauge(metrics, 'infraxa_provider_connections{path="direct"}') >= 1 ? Date.now() : undefined
    })
    console.log(
      `[router nat] DCUtR: direct connection ${upgradedAt - t0} ms after the router process started` +
        (relayedSeenAt === undefined ? '' : `, ≤ ${upgradedAt - relayedSeenAt} ms after it was seen relayed`),
    )
    const res = completion(router.url, 7)
    expect(res.status, res.body).toBe(200)
    const receipt = (JSON.parse(res.body) as { infraxa: { verdict: string; provider: string } }).infraxa
    expect(receipt.verdict).toBe('verified')
    expect(receipt.provider).toBe(provider.peerId)
    // The job ran on the direct connection: the provider is counted as reached directly.
    const metrics = get(`${router.url}/metrics`)
    expect(gauge(metrics, 'infraxa_provider_connections{path="direct"}')).toBe(1)
    expect(gauge(metrics, 'infraxa_provider_connections{path="relayed"}')).toBe(0)
    // The router still cannot open a connection to the provider itself: the direct one was dialled from inside.
    expect(probeTcp(PROVIDER_IP, providerPort)).not.toBe('connected')
  }, 180_000)
})
