/** Prometheus text-format counters and gauges, enough for a router's `/metrics`. */
export class Metrics {
  readonly #counters = new Map<string, { help: string; values: Map<string, number> }>()
  readonly #gauges = new Map<string, { help: string; read: () => number }>()

  counter(name: string, help: string): (labels?: Record<string, string>, by?: number) => void {
    const entry = { help, values: new Map<string, number>() }
    this.#counters.set(name, entry)
    return (labels = {}, by = 1) => {
      const key = Object.entries(labels)
        .map(([k, v]) => `${k}="${v.replace(/["\\\n]/g, '_')}"`)
        .join(',')
      entry.values.set(key, (entry.values.get(key) ?? 0) + by)
    }
  }

  gauge(name: string, help: string, read: () => number): void {
    this.#gauges.set(name, { help, read })
  }

  render(): string {
    const lines: string[] = []
    for (const [name, { help, values }] of this.#counters) {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} counter`)
      if (values.size === 0) lines.push(`${name} 0`)
      for (const [labels, v] of values) lines.push(`${name}${labels ? `{${labels}}` : ''} ${v}`)
    }
    for (const [name, { help, read }] of this.#gauges) {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`, `${name} ${read()}`)
    }
    return `${lines.join('\n')}\n`
  }
}
