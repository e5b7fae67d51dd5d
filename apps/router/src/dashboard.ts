/**
 * What the dashboard shows that no other part of the router keeps: the recent jobs as they move from
 * running to their verdict, and a sampled time series of throughput and queue depth. Both are bounded
 * rings in memory (the receipts in SQLite stay the record); the page reads them through
 * `GET /v1/dashboard`.
 */

/** A job's state as the dashboard shows it. `pending`: answered, optimistic settlement still open. */
export type JobStatus = 'running' | 'verified' | 'pending' | 'unaudited' | 'failed' | 'error' | 'cancelled'

export interface JobEntry {
  id: string
  model: string
  mode: string
  provider: string
  status: JobStatus
  /** Why it failed or errored. */
  reason?: string
  startedAt: number
  /** Router time from dispatch to the verified answer (ms); absent while running. */
  latencyMs?: number
  completionTokens?: number
  /** When the optimistic verdict settled (ms since epoch). */
  settledAt?: number
}

export interface SeriesPoint {
  /** ms since epoch */
  t: number
  /** Tokens of answers completed in the interval, per second. */
  tokensPerSecond: number
  /** Completions admitted but not yet running on a provider. */
  queueDepth: number
  /** Jobs running on providers. */
  inFlight: number
}

export interface JournalOptions {
  /** Most recent jobs kept. @default 100 */
  maxJobs?: number
  /** Most series points kept. @default 300 */
  maxPoints?: number
  /** Sampling interval (ms). @default 1000 */
  intervalMs?: number
  now?: () => number
}

/** Recent jobs and a throughput / queue series for the dashboard, bounded in memory. */
export class JobJournal {
  readonly #jobs = new Map<string, JobEntry>()
  readonly #points: SeriesPoint[] = []
  readonly #maxJobs: number
  readonly #maxPoints: number
  readonly #intervalMs: number
  readonly #now: () => number
  #tokensSinceSample = 0
  #lastSample: number
  #timer: ReturnType<typeof setInterval> | undefined

  constructor(options: JournalOptions = {}) {
    this.#maxJobs = options.maxJobs ?? 100
    this.#maxPoints = options.maxPoints ?? 300
    this.#intervalMs = options.intervalMs ?? 1000
    this.#now = options.now ?? Date.now
    this.#lastSample = this.#now()
  }

  /** Samples `load` every interval until {@link stop}; the timer never keeps the process alive. */
  start(load: () => { queueDepth: number; inFlight: number }): void {
    this.stop()
    this.#timer = setInterval(() => this.sample(load()), this.#intervalMs)
    this.#timer.unref()
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer)
    this.#timer = undefined
  }

  /** Adds one point: the tokens completed since the last point, per second, and the load now. */
  sample(load: { queueDepth: number; inFlight: number }): SeriesPoint {
    const now = this.#now()
    const seconds = Math.max(1e-3, (now - this.#lastSample) / 1000)
    const point: SeriesPoint = {
      t: now,
      tokensPerSecond: Math.round((this.#tokensSinceSample / seconds) * 10) / 10,
      queueDepth: Math.max(0, load.queueDepth),
      inFlight: Math.max(0, load.inFlight),
    }
    this.#tokensSinceSample = 0
    this.#lastSample = now
    this.#points.push(point)
    if (this.#points.length > this.#maxPoints) this.#points.splice(0, this.#points.length - this.#maxPoints)
    return point
  }

  /** A job was dispatched to a provider. */
  started(job: { id: string; model: string; mode: string; provider: string }): void {
    this.#jobs.set(job.id, { ...job, status: 'running', startedAt: this.#now() })
    while (this.#jobs.size > this.#maxJobs) this.#jobs.delete(this.#jobs.keys().next().value as string)
  }

  /** A job ended with a verdict (verified, pending, unaudited, failed) and its answer's size. */
  ended(id: string, outcome: { status: JobStatus; completionTokens?: number; reason?: string }): void {
    const job = this.#jobs.get(id)
    if (job === undefined) return
    job.status = outcome.status
    job.latencyMs = this.#now() - job.startedAt
    if (outcome.reason) job.reason = outcome.reason
    if (outcome.completionTokens !== undefined) {
      job.completionTokens = outcome.completionTokens
      if (outcome.status !== 'failed') this.#tokensSinceSample += outcome.completionTokens
    }
  }

  /** An optimistic job's settlement (the watcher's verdict) replaced `pending`. */
  settled(id: string, verdict: 'verified' | 'failed', reason?: string): void {
    const job = this.#jobs.get(id)
    if (job === undefined) return
    job.status = verdict
    job.settledAt = this.#now()
    if (reason) job.reason = reason
  }

  /** Newest first. */
  jobs(): JobEntry[] {
    return [...this.#jobs.values()].reverse().map((j) => ({ ...j }))
  }

  series(): SeriesPoint[] {
    return this.#points.map((p) => ({ ...p }))
  }
}
