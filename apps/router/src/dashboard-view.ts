import type { EngineInfo } from '@infraxa/protocol'
import type { JobJournal } from './dashboard.js'
import type { KnownProvider } from './provider-table.js'
import type { ProviderReputation } from './reputation.js'

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')

export interface DashboardSources {
  peerId: string
  providers: readonly KnownProvider[]
  reputation: (peerId: string) => ProviderReputation
  /** Banned identities (they leave the provider table; the dashboard still lists them). */
  banned: readonly ProviderReputation[]
  /** This router's jobs running on a provider now. */
  inFlight: (peerId: string) => number
  /** Whether a provider's build is the router's own for that model (exact replay). */
  sameBuild?: (modelHash: Uint8Array, engine: EngineInfo | undefined) => boolean
  journal: Pick<JobJournal, 'jobs' | 'series'>
}

/** Most banned identities listed (the reputation book keeps them all). */
const MAX_BANNED = 50

/** "llama.cpp 3.21.1 cpu b1234", from what the provider's signed record says. */
function buildLabel(engine: EngineInfo | undefined): string {
  if (engine === undefined) return 'unknown'
  return [engine.engine, engine.engineVersion, engine.backend, engine.build].filter(Boolean).join(' ')
}

const reputationView = (r: ProviderReputation) => ({
  score: Number(r.score.toFixed(4)),
  total_jobs: r.totalJobs,
  clean_jobs: r.cleanJobs,
  probation: r.onProbation,
  banned: r.banned,
  ban_reason: r.banReason ?? null,
})

/**
 * The JSON behind the dashboard (`GET /v1/dashboard`): providers as their signed records and this
 * router's reputation book describe them, recent jobs with their verdicts, and the load series.
 */
export function dashboardView(sources: DashboardSources): Record<string, unknown> {
  const listed = new Set<string>()
  const providers = sources.providers.map((p) => {
    listed.add(p.peerId)
    const cap = p.capability
    return {
      peer_id: p.peerId,
      models: cap.models.map((o) => ({
        name: o.name,
        model_hash: hex(o.modelHash),
        architecture: o.architecture,
        quantization: o.quantization,
        build: buildLabel(o.engine),
        ...(sources.sameBuild && { same_build_as_router: sources.sameBuild(o.modelHash, o.engine) }),
        parallel: o.engine?.parallel ?? 0,
        active_jobs: o.activeJobs,
        queued_jobs: o.queuedJobs,
        max_concurrent_jobs: o.maxConcurrentJobs,
        max_queued_jobs: o.maxQueuedJobs,
      })),
      verification_modes: cap.verificationModes,
      load_permille: cap.loadPermille,
      router_jobs_in_flight: sources.inFlight(p.peerId),
      first_token_ms: p.latency === undefined ? null : Math.round(p.latency.firstTokenMs),
      ms_per_token: p.latency?.perTokenMs === undefined ? null : Number(p.latency.perTokenMs.toFixed(2)),
      stake: String(cap.stake),
      record_age_ms: Math.max(0, Date.now() - p.fetchedAt),
      reputation: reputationView(sources.reputation(p.peerId)),
    }
  })
  const banned = sources.banned
    .filter((r) => !listed.has(r.peerId))
    .slice(0, MAX_BANNED)
    .map((r) => ({ peer_id: r.peerId, reputation: reputationView(r) }))
  return {
    router: { peer_id: sources.peerId },
    now: Date.now(),
    providers,
    banned,
    jobs: sources.journal.jobs().map((j) => ({
      id: j.id,
      model: j.model,
      mode: j.mode,
      provider: j.provider,
      status: j.status,
      reason: j.reason ?? null,
      started_at: j.startedAt,
      latency_ms: j.latencyMs ?? null,
      completion_tokens: j.completionTokens ?? null,
      settled_at: j.settledAt ?? null,
      receipt:
        j.status === 'running' || j.status === 'error' || j.status === 'cancelled'
          ? null
          : `/v1/receipts/${j.id}`,
    })),
    series: sources.journal.series().map((p) => ({
      t: p.t,
      tokens_per_second: p.tokensPerSecond,
      queue_depth: p.queueDepth,
      in_flight: p.inFlight,
    })),
  }
}
