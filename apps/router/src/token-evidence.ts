import type { DatabaseSync } from 'node:sqlite'
import { binomialTail } from '@infraxa/proofs/audit'

/**
 * Per-token evidence summed over a provider's jobs: the sequential test behind the grey zone. Each job's
 * verdict looks at its own tokens only, so a cheat that stays within honest noise per job (a near-tie swap
 * or two in 32 tokens: grey, or even pass) would never be concluded. Here every scored job adds its steps
 * and mismatches to the provider's total for that noise rate, and the total is tested against the same
 * binomial model after each job. Testing after every job spends the false-accusation budget: the n-th
 * look fails only below `rate × 6 / (π² n²)` (the sum over all looks stays ≤ `rate`), so an honest
 * provider is accused with probability ≤ `falseAccusationRate` over its whole life, however many jobs.
 * Persisted beside reputation (a restart forgets nothing; a new identity starts empty, on probation).
 */
export class TokenEvidence {
  readonly #db: DatabaseSync
  readonly #falseAccusationRate: number
  /** Adds a job to a provider's total and returns the new total (one statement per job, compiled once). */
  readonly #add: ReturnType<DatabaseSync['prepare']>

  constructor(db: DatabaseSync, { falseAccusationRate = 1e-6 }: { falseAccusationRate?: number } = {}) {
    this.#db = db
    this.#falseAccusationRate = falseAccusationRate
    db.exec(`
      CREATE TABLE IF NOT EXISTS token_evidence (
        peer_id TEXT NOT NULL,
        mismatch_rate REAL NOT NULL,
        jobs INTEGER NOT NULL,
        steps INTEGER NOT NULL,
        mismatches INTEGER NOT NULL,
        PRIMARY KEY (peer_id, mismatch_rate)
      )
    `)
    this.#add = db.prepare(
      `INSERT INTO token_evidence (peer_id, mismatch_rate, jobs, steps, mismatches) VALUES (?, ?, 1, ?, ?)
       ON CONFLICT (peer_id, mismatch_rate) DO UPDATE SET jobs = jobs + 1, steps = steps + excluded.steps,
         mismatches = mismatches + excluded.mismatches
       RETURNING jobs, steps, mismatches`,
    )
  }

  /**
   * Adds one job's scored tokens (judged with honest mismatch rate `mismatchRate`). Returns the reason
   * when the provider's total is beyond honest noise at this look's share of the budget, else undefined.
   */
  add(
    peerId: string,
    job: { steps: number; mismatches: number },
    mismatchRate: number,
  ): { jobs: number; steps: number; mismatches: number; pValue: number; reason?: string } {
    if (!(job.steps >= 0 && job.mismatches >= 0 && job.mismatches <= job.steps))
      throw new RangeError(`job evidence must have 0 ≤ mismatches ≤ steps, got ${JSON.stringify(job)}`)
    const row = this.#add.get(peerId, mismatchRate, job.steps, job.mismatches) as {
      jobs: number
      steps: number
      mismatches: number
    }
    const pValue = binomialTail(row.steps, row.mismatches, mismatchRate)
    const threshold = (this.#falseAccusationRate * 6) / (Math.PI ** 2 * row.jobs ** 2)
    if (pValue >= threshold) return { ...row, pValue }
    return {
      ...row,
      pValue,
      reason: `${row.mismatches} of ${row.steps} tokens over its ${row.jobs} scored jobs are not the sampler's pick (p = ${pValue.toExponential(2)} if honest, below ${threshold.toExponential(2)})`,
    }
  }

  /** Forgets a provider's evidence (an operator's fresh start for it, e.g. with a pardon). */
  clear(peerId: string): void {
    this.#db.prepare('DELETE FROM token_evidence WHERE peer_id = ?').run(peerId)
  }

  /** The provider's totals per noise rate (dashboard, tests). */
  of(peerId: string): Array<{ mismatchRate: number; jobs: number; steps: number; mismatches: number }> {
    return (
      this.#db
        .prepare(
          'SELECT mismatch_rate, jobs, steps, mismatches FROM token_evidence WHERE peer_id = ? ORDER BY mismatch_rate',
        )
        .all(peerId) as Array<{ mismatch_rate: number; jobs: number; steps: number; mismatches: number }>
    ).map((r) => ({ mismatchRate: r.mismatch_rate, jobs: r.jobs, steps: r.steps, mismatches: r.mismatches }))
  }
}
