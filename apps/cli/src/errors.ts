import { InfraxaError } from '@infraxa/protocol'

/** The router could not be reached or answered with an error. */
export class RouterRequestError extends InfraxaError {
  readonly status: number | undefined
  constructor(message: string, status?: number, code = 'ERR_ROUTER_REQUEST') {
    super(code, message)
    this.status = status
  }
}
