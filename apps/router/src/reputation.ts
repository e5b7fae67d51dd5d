import type { DatabaseSync } from 'node:sqlite'

/** What happened on a job, and how much it weighs against the provider. */
/**
 * `grey`: a job's per-token result was unusual but not beyond honest noise: no penalty, but the provider
 * goes back on probation (every job audited and held until N clean ones), so more of its answers are
 * checked before anything else is concluded.
 */
export type ReputationEvent = 'success' | 'grey' | 'timeout' | 'error' | 'failed_audit' | 'fraud'

/**
 * Failure weights: a proven fraud outweighs a failed audit, which outweighs a timeout.
 * @default { grey: 0, timeout: 1, error: 1, failed_audit: 20, fraud: 1000 }
 */
export const SEVERITY: Readonly<Record<Exclude<ReputationEvent, 'success'>, number>> = {
  grey: 0,
  timeout: 1,
  error: 1,
  failed_audit: 20,
  fraud: 1000,
}

export interface ReputationOptions {
  /** Evidence halves in weight after this long. @default 6 hours */
  halfLifeMs?: number
  /** Clean jobs before a new identity leaves probation (every job audited until then). @default 10 */
  probationJobs?: number
  /** Called with every event recorded (metrics). */
  onEvent?: (event: ReputationEvent) => void
  /** Now, for tests. @default Date.now */
  now?: () => number
}

export interface ProviderReputation {
  readonly peerId: string
  /** Decayed Beta parameters (prior 1, 1). */
  readonly alpha: number
  readonly beta: number
  /** Posterior mean alpha / (alpha + beta). */
  readonly score: number
  readonly cleanJobs: number
  readonly totalJobs: number
  readonly onProbation: boolean
  readonly banned: boolean
  readonly banReason: string | undefined
}

/**
 * Decaying Beta reputation per provider, persisted in SQLite so a router restart forgets nothing.
 * Successes add 1 to alpha, failures add their severity to beta; both decay towards the prior with a
 * half-life. Proven cheating (failed audit or fraud) bans the identity: a ban is never decayed away.
 */
export class ReputationBook {
  readonly #db: DatabaseSync
  readonly #halfLifeMs: number
  readonly #probationJobs: number
  readonly #now: () => number
  readonly #onEvent: ((event: ReputationEvent) => void) | undefined

  constructor(db: DatabaseSync, options: ReputationOptions = {}) {
    this.#db = db
    this.#onEvent = options.onEvent
    this.#halfLifeMs = options.halfLifeMs ?? 6 * 3600_000
    this.#probationJobs = options.probationJobs ?? 10
    this.#now = options.now ?? Date.now
    db.exec(`
      CREATE TABLE IF NOT EXISTS reputation (
        peer_id TEXT PRIMARY KEY,
        alpha REAL NOT NULL,
        beta REAL NOT NULL,
        updated_at INTEGER NOT NULL,
        clean_jobs INTEGER NOT NULL,
        total_jobs INTEGER NOT NULL,
        banned INTEGER NOT NULL,
        ban_reason TEXT
      );
      CREATE TABLE IF NOT EXISTS reputation_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        peer_id TEXT NOT NULL,
        event TEXT NOT NULL,
        weight REAL NOT NULL,
        job_id TEXT,
        reason TEXT,
        at INTEGER NOT NULL
      );
    `)
  }

  #row(peerId: string) {
    return this.#db.prepare('SELECT * FROM reputation WHERE peer_id = ?').get(peerId) as
      | {
          alpha: number
          beta: number
          updated_at: number
          clean_jobs: number
          total_jobs: number
          banned: number
          ban_reason: string | null
        }
      | undefined
  }

  #decayed(alpha: number, beta: number, since: number, now: number): [number, number] {
    const factor = 0.5 ** (Math.max(0, now - since) / this.#halfLifeMs)
    return [1 + (alpha - 1) * factor, 1 + (beta - 1) * factor]
  }

  /** The provider's current reputation (a new identity: prior 1/1, on probation). */
  get(peerId: string): ProviderReputation {
    const now = this.#now()
    const row = this.#row(peerId)
    const [alpha, beta] = row ? this.#decayed(row.alpha, row.beta, row.updated_at, now) : [1, 1]
    const cleanJobs = row?.clean_jobs ?? 0
    return {
      peerId,
      alpha,
      beta,
      score: alpha / (alpha + beta),
      cleanJobs,
      totalJobs: row?.total_jobs ?? 0,
      onProbation: cleanJobs < this.#probationJobs,
      banned: row?.banned === 1,
      banReason: row?.ban_reason ?? undefined,
    }
  }

  /** Records the outcome of a job. Failed audits and fraud ban the provider. */
  record(
    peerId: string,
    event: ReputationEvent,
    details: { jobId?: string; reason?: string } = {},
  ): ProviderReputation {
    const now = this.#now()
    this.#onEvent?.(event)
    const current = this.get(peerId)
    const weight = event === 'success' ? 1 : SEVERITY[event]
    const alpha = current.alpha + (event === 'success' ? 1 : 0)
    const beta = current.beta + (event === 'success' ? 0 : weight)
    const cleanJobs = event === 'success' ? current.cleanJobs + 1 : event === 'grey' ? 0 : current.cleanJobs
    const ban = event === 'failed_audit' || event === 'fraud'
    const banned = current.banned || ban
    const banReason = current.banReason ?? (ban ? `${event}: ${details.reason ?? ''}`.trim() : undefined)
    this.#db
      .prepare(
        `INSERT INTO reputation (peer_id, alpha, beta, updated_at, clean_jobs, total_jobs, banned, ban_reason)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(peer_id) DO UPDATE SET alpha = excluded.alpha, beta = excluded.beta,
           updated_at = excluded.updated_at, clean_jobs = excluded.clean_jobs, total_jobs = excluded.total_jobs,
           banned = excluded.banned, ban_reason = excluded.ban_reason`,
      )
      .run(peerId, alpha, beta, now, cleanJobs, current.totalJobs + 1, banned ? 1 : 0, banReason ?? null)
    this.#db
      .prepare(
        'INSERT INTO reputation_events (peer_id, event, weight, job_id, reason, at) VALUES (?, ?, ?, ?, ?, ?)',
      )
      .run(peerId, event, weight, details.jobId ?? null, details.reason ?? null, now)
    return this.get(peerId)
  }

  /**
   * Lifts a ban (an operator's decision, e.g. after a false accusation was shown): the identity keeps its
   * score and history, and the pardon is recorded as an event with its reason.
   */
  pardon(peerId: string, reason: string): ProviderReputation {
    const now = this.#now()
    this.#db.prepare('UPDATE reputation SET banned = 0, ban_reason = NULL WHERE peer_id = ?').run(peerId)
    this.#db
      .prepare(
        'INSERT INTO reputation_events (peer_id, event, weight, job_id, reason, at) VALUES (?, ?, ?, ?, ?, ?)',
      )
      .run(peerId, 'pardon', 0, null, reason, now)
    return this.get(peerId)
  }

  /** Every provider the book knows, best score first. */
  list(): ProviderReputation[] {
    const rows = this.#db.prepare('SELECT peer_id FROM reputation').all() as Array<{ peer_id: string }>
    return rows.map((r) => this.get(r.peer_id)).sort((a, b) => b.score - a.score)
  }

  /** Recorded events of a provider, newest first. */
  events(
    peerId: string,
    limit = 100,
  ): Array<{ event: string; weight: number; jobId: string | null; reason: string | null; at: number }> {
    return (
      this.#db
        .prepare(
          'SELECT event, weight, job_id, reason, at FROM reputation_events WHERE peer_id = ? ORDER BY id DESC LIMIT ?',
        )
        .all(peerId, limit) as Array<{
        event: string
        weight: number
        job_id: string | null
        reason: string | null
        at: number
      }>
    ).map((r) => ({ event: r.event, weight: r.weight, jobId: r.job_id, reason: r.reason, at: r.at }))
  }
}
