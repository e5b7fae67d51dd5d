/**
 * Transport benchmarks on loopback: `pnpm --filter @infraxa/p2p bench` (or `tsx bench/index.ts` here,
 * after `tsc -b`). Prints medians and p95 of each measure, and the ratio to the seed README's budget
 * (setup ~50 ms, message ~5 ms, proof transfer ~10 ms, total ~65 ms).
 */

import { createHash } from 'node:crypto'
import { cpus } from 'node:os'
import { createNode, type InfraxaNode } from '../src/index.js'
import { measureLookups } from './lookups.js'

const ECHO = '/bench/echo/1.0.0'
const BLOB = '/bench/blob/1.0.0'
const MiB = 1024 * 1024

interface Stats {
  name: string
  samples: number
  median: number
  p95: number
  note?: string
}

const results: Stats[] = []

function stats(name: string, samples: number[], note?: string): Stats {
  const sorted = [...samples].sort((a, b) => a - b)
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!
  const result: Stats = {
    name,
    samples: sorted.length,
    median: at(0.5),
    p95: at(0.95),
    ...(note ? { note } : {}),
  }
  results.push(result)
  console.log(
    `  ${name.padEnd(58)} median ${result.median.toFixed(3).padStart(9)} ms   p95 ${result.p95.toFixed(3).padStart(9)} ms   (n=${result.samples})${note ? `  ${note}` : ''}`,
  )
  return result
}

async function sample(iterations: number, warmup: number, run: () => Promise<void>): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await run()
  const samples: number[] = []
  for (let i = 0; i < iterations; i++) {
    const started = performance.now()
    await run()
    samples.push(performance.now() - started)
  }
  return samples
}

const bytes = (n: number) => new Uint8Array(n).fill(7)

async function pair(): Promise<[InfraxaNode, InfraxaNode]> {
  const [server, client] = await Promise.all([
    // The bench redials far faster than the default 50 connections per second per host allows.
    createNode({ dht: false, connections: { inboundConnectionsPerHostPerSecond: 10_000 } }),
    createNode({ dht: false }),
  ])
  await server.handle(ECHO, async (stream) => (await stream.read()) ?? undefined, { rateLimit: false })
  await server.handle(
    BLOB,
    async (stream) => {
      const request = await stream.read()
      const [size, chunk] = JSON.parse(new TextDecoder().decode(request!)) as [number, number]
      const body = bytes(chunk)
      for (let sent = 0; sent < size; sent += chunk) await stream.write(body)
    },
    { maxFrameBytes: 2 * MiB, rateLimit: false },
  )
  return [server, client]
}

async function benchConnections(server: InfraxaNode, client: InfraxaNode): Promise<void> {
  console.log('\nconnections')
  const address = server.multiaddrs[0]!
  const samples = await sample(30, 3, async () => {
    const identified = new Promise<void>((resolve) => {
      const onIdentify = (event: CustomEvent<{ peerId: { equals(other: unknown): boolean } }>) => {
        if (!event.detail.peerId.equals(server.peerId)) return
        client.libp2p.removeEventListener('peer:identify', onIdentify)
        resolve()
      }
      client.libp2p.addEventListener('peer:identify', onIdentify)
    })
    await client.libp2p.dial(address)
    await identified
    await client.libp2p.hangUp(server.peerId)
  })
  stats('dial + Noise + Yamux + identify', samples)
  const cold = await sample(30, 3, async () => {
    await client.request(address, ECHO, bytes(64))
    await client.libp2p.hangUp(server.peerId)
  })
  stats('request on a new connection (dial + 64 B echo)', cold)
}

async function benchRequests(server: InfraxaNode, client: InfraxaNode): Promise<void> {
  console.log('\nrequest / response (warm connection)')
  await client.connect(server.multiaddrs[0]!)
  stats(
    '64 B echo, new stream per request',
    await sample(300, 30, async () => {
      await client.request(server.peerId, ECHO, bytes(64))
    }),
  )
  // A long-lived stream: one frame each way per round trip.
  const PINGPONG = '/bench/pingpong/1.0.0'
  await server.handle(PINGPONG, async (stream) => {
    for await (const frame of stream) await stream.write(frame)
  })
  const stream = await client.openStream(server.peerId, PINGPONG)
  const payload = bytes(64)
  stats(
    '64 B echo, reused stream',
    await sample(1_000, 100, async () => {
      await stream.write(payload)
      await stream.read()
    }),
  )
  await stream.closeWrite()
  stream.dispose()

  console.log('\nconcurrency (one connection)')
  for (const [count, iterations] of [
    [100, 20],
    [1_000, 5],
  ] as const) {
    const samples = await sample(iterations, 1, async () => {
      await Promise.all(Array.from({ length: count }, () => client.request(server.peerId, ECHO, bytes(64))))
    })
    const median = [...samples].sort((a, b) => a - b)[Math.floor(samples.length / 2)]!
    stats(
      `${count} concurrent requests (whole batch)`,
      samples,
      `≈ ${Math.round((count / median) * 1000)} req/s`,
    )
  }

  console.log('\ntransfer')
  const oneFrame = await sample(30, 3, async () => {
    const frames = client.requestStream(
      server.peerId,
      BLOB,
      new TextEncoder().encode(JSON.stringify([MiB, MiB])),
      {
        maxFrameBytes: 2 * MiB,
      },
    )
    for await (const _ of frames);
  })
  stats('1 MiB response, one frame', oneFrame, `≈ ${(1000 / median(oneFrame)).toFixed(0)} MiB/s`)
  const chunked = await sample(30, 3, async () => {
    const request = new TextEncoder().encode(JSON.stringify([MiB, 64 * 1024]))
    for await (const _ of client.requestStream(server.peerId, BLOB, request));
  })
  stats('1 MiB response, 16 × 64 KiB frames', chunked)
  const big = await sample(5, 1, async () => {
    const request = new TextEncoder().encode(JSON.stringify([16 * MiB, 256 * 1024]))
    for await (const _ of client.requestStream(server.peerId, BLOB, request));
  })
  stats('16 MiB response, 256 KiB frames', big, `≈ ${((16 * 1000) / median(big)).toFixed(0)} MiB/s`)
}

function median(samples: number[]): number {
  return [...samples].sort((a, b) => a - b)[Math.floor(samples.length / 2)]!
}

async function benchDht(): Promise<void> {
  console.log('\nDHT (20 nodes on loopback)')
  const network: InfraxaNode[] = []
  try {
    const created = performance.now()
    network.push(await createNode())
    for (let i = 1; i < 20; i++) {
      // Each node bootstraps from an earlier one, so routing is not a star around node 0.
      const via = network[Math.floor(Math.random() * network.length)]!
      network.push(await createNode({ bootstrap: [via.multiaddrs[0]!.toString()] }))
    }
    console.log(`  (network of 20 started in ${(performance.now() - created).toFixed(0)} ms)`)
    const provider = network[network.length - 1]!
    const models = Array.from({ length: 12 }, (_, i) =>
      createHash('sha256').update(`bench model ${i}`).digest(),
    )
    const provideSamples: number[] = []
    for (const model of models) {
      const started = performance.now()
      await provider.advertise(model)
      provideSamples.push(performance.now() - started)
    }
    stats('advertise (provide) a model', provideSamples)

    for (const waitForSelfQuery of [false, true]) {
      const startSamples: number[] = []
      const findSamples: number[] = []
      const rounds = waitForSelfQuery ? 6 : models.length
      for (let i = 0; i < rounds; i++) {
        const via = network[Math.floor(Math.random() * (network.length - 1))]!
        const started = performance.now()
        const router = await createNode({
          bootstrap: [via.multiaddrs[0]!.toString()],
          dht: { waitForSelfQuery },
        })
        const ready = performance.now()
        try {
          for await (const found of router.findProviders(models[i]!, {
            signal: AbortSignal.timeout(20_000),
          })) {
            if (found.peerId.equals(provider.peerId)) break
          }
          findSamples.push(performance.now() - ready)
          startSamples.push(ready - started)
        } finally {
          await router.stop()
        }
      }
      const mode = waitForSelfQuery ? ' (waitForSelfQuery)' : ''
      stats(`fresh node: createNode + bootstrap${mode}`, startSamples)
      stats(`fresh node: findProviders → provider${mode}`, findSamples)
    }
  } finally {
    await Promise.all(network.map((node) => node.stop()))
  }
}

async function benchLookups(): Promise<void> {
  console.log(
    '\nDHT lookups (50 nodes on loopback, each joined through one random earlier node; 5 providers)',
  )
  const report = await measureLookups({ nodes: 50, providers: 5, lookups: 180 })
  const sizes = report.routingTableSizes
  console.log(
    `  ${report.lookups} one-shot lookups from fresh nodes: ${report.empty} empty; routing tables min ${sizes[0]}, median ${sizes[Math.floor(sizes.length / 2)]}`,
  )
  if (report.firstProviderMs.length > 0) stats('fresh node: first provider found', report.firstProviderMs)
}

function compare(): void {
  const find = (name: string) => results.find((result) => result.name === name)!
  const setup = find('dial + Noise + Yamux + identify')
  const message = find('64 B echo, new stream per request')
  const transfer = find('1 MiB response, one frame')
  const rows: [string, number, Stats | undefined, number][] = [
    ['setup (dial + Noise + identify)', 50, setup, setup.median],
    ['message (request/response, new stream)', 5, message, message.median],
    ['proof transfer (1 MiB)', 10, transfer, transfer.median],
    ['total', 65, undefined, setup.median + message.median + transfer.median],
  ]
  console.log('\nagainst the seed README budget (medians; ratio = budget / measured)')
  console.log(
    `  ${'step'.padEnd(40)} ${'budget'.padStart(8)} ${'measured'.padStart(10)} ${'p95'.padStart(10)} ${'ratio'.padStart(8)}`,
  )
  for (const [name, budget, stat, measured] of rows) {
    const p95 = stat ? `${stat.p95.toFixed(2)} ms` : '—'
    console.log(
      `  ${name.padEnd(40)} ${`${budget} ms`.padStart(8)} ${`${measured.toFixed(2)} ms`.padStart(10)} ${p95.padStart(10)} ${`${(budget / measured).toFixed(1)}×`.padStart(8)}`,
    )
  }
}

console.log(
  `@infraxa/p2p bench — Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, loopback TCP`,
)
const [server, client] = await pair()
try {
  await benchConnections(server, client)
  await benchRequests(server, client)
} finally {
  await Promise.all([server.stop(), client.stop()])
}
await benchDht()
await benchLookups()
compare()
