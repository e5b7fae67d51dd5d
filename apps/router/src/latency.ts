/**
 * What the router measured of a provider's speed, apart from how long its jobs were: a job of 256
 * tokens takes ten times one of 16 on the same provider, so a whole-job average compares job lengths,
 * not providers (one that happened to serve a long job lost every draw to one that served short ones).
 */
export interface ProviderLatency {
  /** Request sent → first token streamed back (queue, prompt, first step, transport); moving average. */
  readonly firstTokenMs: number
  /** Each further token as it streamed in; moving average. Undefined until a job streamed 2+ tokens. */
  readonly perTokenMs: number | undefined
}

/** One job's timing as the router saw it. */
export interface JobTiming {
  /** Request sent → first token frame received. */
  readonly firstTokenMs: number
  /** First → last token frame received. */
  readonly streamMs: number
  /** Token frames received. */
  readonly tokens: number
}

/** Weight of the newest job in the moving averages. */
const NEWEST = 0.2

/**
 * Answer length the latency of a request is weighed at: its `max_tokens`, but at most this many
 * (the default `max_tokens` of 4096 would let speed outweigh reputation entirely).
 */
export const WEIGHED_TOKENS = 256

const average = (previous: number | undefined, value: number) =>
  previous === undefined ? value : (1 - NEWEST) * previous + NEWEST * value

/** The moving averages after one more job. A job that streamed no token tells nothing: unchanged. */
export function observeLatency(
  previous: ProviderLatency | undefined,
  timing: JobTiming,
): ProviderLatency | undefined {
  if (timing.tokens < 1) return previous
  return {
    firstTokenMs: average(previous?.firstTokenMs, timing.firstTokenMs),
    perTokenMs:
      timing.tokens < 2
        ? previous?.perTokenMs
        : average(previous?.perTokenMs, timing.streamMs / (timing.tokens - 1)),
  }
}

/**
 * How long a request of `maxTokens` should take on this provider: first token plus per-token time for
 * the rest, at most {@link WEIGHED_TOKENS} in all. Undefined where the provider was never measured on a
 * job of 2+ tokens (selection then treats it as fast as the fastest measured one).
 */
export function expectedJobMs(latency: ProviderLatency | undefined, maxTokens: number): number | undefined {
  if (latency?.perTokenMs === undefined) return undefined
  const tokens = Math.max(1, Math.min(maxTokens, WEIGHED_TOKENS))
  return latency.firstTokenMs + latency.perTokenMs * (tokens - 1)
}
