import { describe, expect, it } from 'vitest'
import { measureLookups } from '../bench/lookups.js'

/**
 * The 50-node measurement, as a correctness check (times go to `pnpm bench`): nodes that join
 * through one bootstrap peer each fill their routing tables (a self-lookup at join), so one-shot lookups
 * from fresh nodes never end empty while providers exist. Before the join lookup: 11 of 90 ended empty,
 * routing tables median 9, min 1.
 */
describe('lookups in a 50-node DHT', () => {
  it('fresh nodes find a provider on their first lookup: 0 empty of 40; every routing table past a handful', async () => {
    const report = await measureLookups({ nodes: 50, providers: 5, lookups: 40 })
    console.log(
      `[p2p lookups] empty ${report.empty}/${report.lookups}; routing tables min ${report.routingTableSizes[0]}, ` +
        `median ${report.routingTableSizes[Math.floor(report.routingTableSizes.length / 2)]}`,
    )
    expect(report.empty).toBe(0)
    expect(report.firstProviderMs).toHaveLength(40)
    expect(report.routingTableSizes[0]).toBeGreaterThanOrEqual(5)
  }, 300_000)
})
