import type { Executor } from '../modes/executor.js'
import type { SamplingParams } from '../sampling/sample.js'
import {
  judgeTokens,
  scoreToken,
  TOKEN_CHECK_EXTRA,
  type TokenNoise,
  type TokenScore,
  type TokenVerdict,
} from './token-check.js'

/**
 * The sequential follow-up of the per-token check. A teacher-forced prefill reproduces a float-weight
 * provider's log-probs only to ~1e-3, so the cheap check must let near-tie mismatches pass as noise; a
 * stepwise replay (as decoding evaluates: the prompt, then one token at a time) reproduces them bit for
 * bit on the provider's build. When `noise.stepwise` says the verifier can do that and the scores show a
 * mismatch, the answer is re-executed stepwise through its last mismatching step and those steps are
 * scored again: a token that is still not the sampler's pick is a deviation (judged with the stepwise
 * noise), one that now is was drift. Honest answers rarely mismatch (about 5e-5 per token measured), so
 * the extra replay — about the cost of generating the answer — is paid mostly by cheats.
 *
 * Returns the scores with the re-executed steps replaced, and the job's verdict over them.
 *
 * @example
 * const { verdict } = await confirmTokens({ executor: engine, promptTokens, outputTokens, scores, k: 8, sampling, noise })
 */
export async function confirmTokens(args: {
  readonly executor: Pick<Executor, 'replay'>
  readonly promptTokens: readonly number[]
  readonly outputTokens: readonly number[]
  readonly scores: readonly TokenScore[]
  readonly k: number
  readonly sampling: SamplingParams
  readonly noise: TokenNoise
}): Promise<{ scores: TokenScore[]; verdict: TokenVerdict; stepwiseSteps: number }> {
  const { executor, promptTokens, outputTokens, scores, k, sampling, noise } = args
  const cheap = judgeTokens(scores, noise)
  const mismatched = scores.filter((s) => s.margin > 0).map((s) => s.step)
  // Nothing to confirm, or already beyond honest noise on the cheap check alone.
  if (noise.stepwise === undefined || mismatched.length === 0 || cheap.verdict === 'fail')
    return { scores: [...scores], verdict: cheap, stepwiseSteps: 0 }
  const last = Math.max(...mismatched)
  const positions = Array.from({ length: last + 1 }, (_, t) => t)
  const distributions = await executor.replay({
    promptTokens,
    outputTokens,
    positions,
    topK: k + TOKEN_CHECK_EXTRA,
    stepwise: true,
  })
  const drift = noise.stepwise.maxMargin / 2
  const again = positions.map((t) =>
    scoreToken({
      step: t,
      token: outputTokens[t]!,
      distribution: distributions[t] ?? [],
      k,
      sampling,
      drift,
    }),
  )
  const exact = judgeTokens(again, noise.stepwise)
  const merged = [...again, ...scores.filter((s) => s.step > last)]
  if (exact.verdict !== 'pass') {
    return {
      scores: merged,
      verdict: { ...exact, reason: `${exact.reason} (stepwise re-execution of steps 0..${last})` },
      stepwiseSteps: positions.length,
    }
  }
  return { scores: merged, verdict: judgeTokens(merged, noise), stepwiseSteps: positions.length }
}
