import type { DatabaseSync } from 'node:sqlite'
import type { CommittedStep } from '@infraxa/proofs/transcript'
import { AuditProofSchema, create, fromBinary, toBinary } from '@infraxa/protocol'

/** A job as the provider keeps it for audits and fraud challenges. */
export interface StoredJob {
  readonly jobId: Uint8Array
  readonly modelHash: Uint8Array
  /** Encoded signed request and response envelopes, exactly as exchanged. */
  readonly request: Uint8Array
  readonly response: Uint8Array
  readonly steps: readonly CommittedStep[]
  readonly createdAt: number
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')

/**
 * Committed transcripts on disk (node:sqlite) for a retention window, so audits and fraud challenges of
 * earlier jobs are answered after a restart.
 */
export class TranscriptStore {
  readonly #db: DatabaseSync
  readonly #retentionMs: number

  /** @param retentionMs - how long a job stays answerable. @default 24 hours */
  constructor(db: DatabaseSync, retentionMs = 24 * 3600_000) {
    this.#db = db
    this.#retentionMs = retentionMs
    db.exec(`
      CREATE TABLE IF NOT EXISTS jobs (
        job_id TEXT PRIMARY KEY,
        model_hash BLOB NOT NULL,
        request BLOB NOT NULL,
        response BLOB NOT NULL,
        steps BLOB NOT NULL,
        created_at INTEGER NOT NULL
      );
      CREATE INDEX IF NOT EXISTS jobs_created_at ON jobs (created_at);
    `)
  }

  put(job: StoredJob): void {
    const steps = toBinary(
      AuditProofSchema,
      create(AuditProofSchema, {
        openings: job.steps.map((s) => ({
          step: s.step,
          token: s.token,
          topIds: [...s.topIds],
          topLogprobs: [...s.topLogprobs],
        })),
      }),
    )
    this.#db
      .prepare(
        'INSERT OR REPLACE INTO jobs (job_id, model_hash, request, response, steps, created_at) VALUES (?, ?, ?, ?, ?, ?)',
      )
      .run(hex(job.jobId), job.modelHash, job.request, job.response, steps, job.createdAt)
  }

  get(jobId: Uint8Array, now = Date.now()): StoredJob | undefined {
    const row = this.#db.prepare('SELECT * FROM jobs WHERE job_id = ?').get(hex(jobId)) as
      | {
          model_hash: Uint8Array
          request: Uint8Array
          response: Uint8Array
          steps: Uint8Array
          created_at: number
        }
      | undefined
    if (row === undefined || now - row.created_at > this.#retentionMs) return undefined
    const steps = fromBinary(AuditProofSchema, new Uint8Array(row.steps)).openings.map((o) => ({
      step: o.step,
      token: o.token,
      topIds: o.topIds,
      topLogprobs: o.topLogprobs,
    }))
    return {
      jobId,
      modelHash: new Uint8Array(row.model_hash),
      request: new Uint8Array(row.request),
      response: new Uint8Array(row.response),
      steps,
      createdAt: row.created_at,
    }
  }

  /** Deletes jobs past the retention window; returns how many. */
  prune(now = Date.now()): number {
    const result = this.#db.prepare('DELETE FROM jobs WHERE created_at < ?').run(now - this.#retentionMs)
    return Number(result.changes)
  }
}
