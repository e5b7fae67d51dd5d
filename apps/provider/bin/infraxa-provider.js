#!/usr/bin/env node
import { requireNode } from '@infraxa/protocol/require-node'

await requireNode('infraxa-provider', new URL('../dist/bin.js', import.meta.url))
