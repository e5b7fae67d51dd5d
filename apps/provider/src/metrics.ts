import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Counter, Gauge, Histogram, Registry } from 'prom-client'

/** Load of one served model, read when `/metrics` is scraped. */
export interface ModelLoad {
  readonly name: string
  /** Jobs holding a sequence now (decoding). */
  readonly activeSequences: number
  /** Jobs waiting for a sequence. */
  readonly queuedJobs: number
  readonly maxSequences: number
  readonly maxQueuedJobs: number
}

const SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]

/**
 * A provider's Prometheus metrics (prom-client, one registry per provider): per model, sequences in
 * use and queue depth (the load routers also read from the capability record), jobs by outcome,
 * tokens generated, queue wait and generation time.
 */
export class ProviderMetrics {
  readonly registry = new Registry()
  readonly #jobs: Counter<'model' | 'outcome'>
  readonly #tokens: Counter<'model'>
  readonly #audits: Counter<'outcome'>
  readonly #queueWait: Histogram<'model'>
  readonly #generate: Histogram<'model'>

  constructor(load: () => readonly ModelLoad[]) {
    const registers = [this.registry]
    this.#jobs = new Counter({
      name: 'infraxa_provider_jobs_total',
      help: 'Inference jobs by outcome (served, busy, refused, failed)',
      labelNames: ['model', 'outcome'],
      registers,
    })
    this.#tokens = new Counter({
      name: 'infraxa_provider_tokens_total',
      help: 'Tokens generated and committed',
      labelNames: ['model'],
      registers,
    })
    this.#audits = new Counter({
      name: 'infraxa_provider_audits_total',
      help: 'Audit challenges answered, by outcome',
      labelNames: ['outcome'],
      registers,
    })
    this.#queueWait = new Histogram({
      name: 'infraxa_provider_queue_wait_seconds',
      help: 'Time a job waited for a sequence',
      labelNames: ['model'],
      buckets: SECONDS,
      registers,
    })
    this.#generate = new Histogram({
      name: 'infraxa_provider_generate_seconds',
      help: 'Prompt evaluation plus decoding time of one job',
      labelNames: ['model'],
      buckets: SECONDS,
      registers,
    })
    const perModel = (name: string, help: string, read: (m: ModelLoad) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['model'],
        registers,
        collect() {
          this.reset()
          for (const m of load()) this.set({ model: m.name }, read(m))
        },
      })
    perModel('infraxa_provider_active_sequences', 'Jobs decoding now', (m) => m.activeSequences)
    perModel('infraxa_provider_queued_jobs', 'Jobs waiting for a sequence', (m) => m.queuedJobs)
    perModel(
      'infraxa_provider_max_sequences',
      'Sequences decoded at once (--parallel)',
      (m) => m.maxSequences,
    )
    perModel('infraxa_provider_max_queued_jobs', 'Queue bound (--max-queue)', (m) => m.maxQueuedJobs)
  }

  job(model: string, outcome: 'served' | 'busy' | 'refused' | 'failed'): void {
    this.#jobs.inc({ model, outcome })
  }

  generated(model: string, tokens: number, queueMs: number, generateMs: number): void {
    this.#tokens.inc({ model }, tokens)
    this.#queueWait.observe({ model }, queueMs / 1000)
    this.#generate.observe({ model }, generateMs / 1000)
  }

  audit(outcome: 'answered' | 'refused'): void {
    this.#audits.inc({ outcome })
  }

  render(): Promise<string> {
    return this.registry.metrics()
  }
}

/**
 * Serves `GET /metrics` (and `GET /health`) on `host:port`; 404 for anything else. Loopback unless
 * a host is given: metrics tell load and models, which an operator may not want public.
 */
export async function serveMetrics(
  metrics: ProviderMetrics,
  listen: { port: number; host?: string },
): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]
    if (req.method !== 'GET') {
      res.writeHead(405, { allow: 'GET' }).end()
      return
    }
    if (path === '/metrics') {
      metrics.render().then(
        (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
        (error: unknown) => res.writeHead(500).end(String(error)),
      )
      return
    }
    if (path === '/health') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}')
      return
    }
    res.writeHead(404).end()
  })
  const host = listen.host ?? '127.0.0.1'
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(listen.port, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const { port } = server.address() as AddressInfo
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
