import { Counter, Gauge, Histogram, Registry } from 'prom-client'

/** Live numbers the gauges read when `/metrics` is scraped. */
export interface RouterGauges {
  providers: () => number
  pendingCompletions: () => number
  jobsInFlight: () => number
  bannedProviders: () => number
  /** Open connections to the table's providers, by path (direct, or through a circuit relay). */
  providerPaths: () => { direct: number; relayed: number }
}

const SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]

/**
 * A router's Prometheus metrics (prom-client, one registry per router so several routers in one
 * process keep their own): outcomes counted, latency and verification time as histograms, load as
 * gauges read at scrape time.
 */
export class RouterMetrics {
  readonly registry = new Registry()
  readonly #requests: Counter<'outcome'>
  readonly #jobs: Counter<'verdict'>
  readonly #audited: Counter
  readonly #stepwiseAudits: Counter<'reason'>
  readonly #reputation: Counter<'event'>
  readonly #latency: Histogram<'outcome'>
  readonly #verification: Histogram<'mode'>

  constructor(gauges: RouterGauges) {
    const registers = [this.registry]
    this.#requests = new Counter({
      name: 'infraxa_requests_total',
      help: 'Completion requests by outcome (verified, failed, busy, refused, cancelled)',
      labelNames: ['outcome'],
      registers,
    })
    this.#jobs = new Counter({
      name: 'infraxa_jobs_total',
      help: 'Provider jobs by verdict (an optimistic job counts pending when answered, then its settled verdict)',
      labelNames: ['verdict'],
      registers,
    })
    this.#audited = new Counter({
      name: 'infraxa_audited_steps_total',
      help: 'Transcript steps audited by re-execution',
      registers,
    })
    this.#stepwiseAudits = new Counter({
      name: 'infraxa_stepwise_audits_total',
      help: 'Audited jobs whose opened steps were also re-executed stepwise, bit-exact (random share, or triggered by prefill drift)',
      labelNames: ['reason'],
      registers,
    })
    this.#reputation = new Counter({
      name: 'infraxa_reputation_events_total',
      help: 'Reputation events recorded for providers (success, grey, timeout, error, failed_audit, fraud)',
      labelNames: ['event'],
      registers,
    })
    this.#latency = new Histogram({
      name: 'infraxa_request_duration_seconds',
      help: 'Completion latency as the client sees it, from admission to the verified answer',
      labelNames: ['outcome'],
      buckets: SECONDS,
      registers,
    })
    this.#verification = new Histogram({
      name: 'infraxa_verification_duration_seconds',
      help: 'Router time spent verifying one job after its stream ended (audit replay, proof check)',
      labelNames: ['mode'],
      buckets: SECONDS,
      registers,
    })
    const gauge = (name: string, help: string, read: () => number) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(read())
        },
      })
    gauge('infraxa_providers', 'Providers in the table', gauges.providers)
    gauge(
      'infraxa_pending_completions',
      'Completions waiting for or running on a provider',
      gauges.pendingCompletions,
    )
    gauge('infraxa_jobs_in_flight', 'Jobs this router runs on providers now', gauges.jobsInFlight)
    gauge('infraxa_banned_providers', 'Providers banned for cheating', gauges.bannedProviders)
    new Gauge({
      name: 'infraxa_provider_connections',
      help: 'Providers in the table this router is connected to, by path (direct, or relayed through a circuit relay)',
      labelNames: ['path'],
      registers,
      collect() {
        const paths = gauges.providerPaths()
        this.set({ path: 'direct' }, paths.direct)
        this.set({ path: 'relayed' }, paths.relayed)
      },
    })
  }

  /**
   * A completion (one choice of a request) ended — `verified`, `failed`, `busy`, `refused` or
   * `cancelled` — `ms` after the router took it (bodies the HTTP layer refuses, malformed, oversize or
   * not JSON, never get here).
   */
  request(outcome: string, ms?: number): void {
    this.#requests.inc({ outcome })
    if (ms !== undefined) this.#latency.observe({ outcome }, ms / 1000)
  }

  job(verdict: string): void {
    this.#jobs.inc({ verdict })
  }

  audited(steps: number): void {
    this.#audited.inc(steps)
  }

  /** A stepwise audit ran: on the random share of jobs (`random`) or past its drift trigger (`triggered`). */
  stepwiseAudit(reason: 'random' | 'triggered'): void {
    this.#stepwiseAudits.inc({ reason })
  }

  reputation(event: string): void {
    this.#reputation.inc({ event })
  }

  verification(mode: string, ms: number): void {
    this.#verification.observe({ mode }, ms / 1000)
  }

  /** The Prometheus text exposition. */
  render(): Promise<string> {
    return this.registry.metrics()
  }

  get contentType(): string {
    return this.registry.contentType
  }
}
