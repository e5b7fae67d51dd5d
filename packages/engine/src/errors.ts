/**
 * Typed failures of the engine. Each extends `InfraxaError` with a stable `code`, a one-line
 * `shortMessage` and `details` that say what to do.
 */
import { InfraxaError, type InfraxaErrorOptions } from '@infraxa/protocol'

/** The model path does not exist (or is not a regular file). */
export class ModelNotFoundError extends InfraxaError {
  readonly path: string
  constructor(path: string, options: InfraxaErrorOptions = {}) {
    super('ERR_MODEL_NOT_FOUND', `model file not found: ${path}`, {
      details: 'Pass the path of a GGUF file, or an hf: URI (needs internet on first use).',
      ...options,
    })
    this.path = path
  }
}

/** The file is not a readable GGUF model: bad magic, corrupt header, or truncated tensor data. */
export class InvalidModelFileError extends InfraxaError {
  readonly path: string
  constructor(path: string, reason: string, options: InfraxaErrorOptions = {}) {
    super('ERR_INVALID_MODEL_FILE', `invalid GGUF model file ${path}: ${reason}`, {
      details:
        'The file is corrupt or incomplete; download it again and compare its SHA-256 with the published one.',
      ...options,
    })
    this.path = path
  }
}

/** An `hf:` model could not be downloaded (offline, unknown repository or file, stalled transfer). */
export class ModelDownloadError extends InfraxaError {
  readonly uri: string
  constructor(uri: string, reason: string, options: InfraxaErrorOptions = {}) {
    super('ERR_MODEL_DOWNLOAD', `cannot download model ${uri}: ${reason}`, {
      details:
        'Downloading needs internet access to Hugging Face (or HF_ENDPOINT). Offline, download the GGUF ' +
        'elsewhere and pass its local path instead of the URI.',
      ...options,
    })
    this.uri = uri
  }
}

/** llama.cpp refused to load a file that looked valid (unsupported architecture, out of memory, ...). */
export class ModelLoadError extends InfraxaError {
  readonly path: string
  constructor(path: string, reason: string, options: InfraxaErrorOptions = {}) {
    super('ERR_MODEL_LOAD', `llama.cpp could not load ${path}: ${reason}`, options)
    this.path = path
  }
}

/** No prebuilt llama.cpp binary fits this machine and backend; the engine never downloads or builds one. */
export class LlamaUnavailableError extends InfraxaError {
  constructor(backend: string, options: InfraxaErrorOptions = {}) {
    super('ERR_LLAMA_UNAVAILABLE', `no prebuilt llama.cpp binary for backend "${backend}"`, {
      details:
        'Install the matching @node-llama-cpp/<platform> prebuilt package (the CPU one ships with node-llama-cpp), ' +
        'or load the model with gpu: false.',
      ...options,
    })
  }
}

/** Prompt plus requested tokens do not fit the context window. */
export class ContextOverflowError extends InfraxaError {
  readonly required: number
  readonly contextSize: number
  constructor(required: number, contextSize: number) {
    super('ERR_CONTEXT_OVERFLOW', `${required} tokens do not fit the context of ${contextSize} tokens`, {
      details: 'Shorten the prompt, lower maxTokens, or load the model with a larger contextSize.',
    })
    this.required = required
    this.contextSize = contextSize
  }
}

/** The prompt has no tokens: there is no position to predict from. */
export class EmptyPromptError extends InfraxaError {
  constructor() {
    super('ERR_EMPTY_PROMPT', 'the prompt has 0 tokens', {
      details: 'Pass at least one message with content, or at least one prompt token (e.g. BOS).',
    })
  }
}

/** A token id is outside the model's vocabulary. */
export class InvalidTokenError extends InfraxaError {
  readonly token: number
  constructor(token: number, vocabSize: number, where: string) {
    super('ERR_INVALID_TOKEN', `${where} contains token ${token}, outside the vocabulary of ${vocabSize}`)
    this.token = token
  }
}

/** The caller's `choose` returned a token that is not one of the offered top-k ids. */
export class InvalidChoiceError extends InfraxaError {
  readonly step: number
  readonly token: unknown
  constructor(step: number, token: unknown) {
    super(
      'ERR_INVALID_CHOICE',
      `choose() returned ${String(token)} at step ${step}, not one of the top-k ids`,
      {
        details: 'The sampler must pick one of the ids of the distribution it was given.',
      },
    )
    this.step = step
    this.token = token
  }
}

/** The model (or its context) was disposed before or during the call. */
export class ModelDisposedError extends InfraxaError {
  constructor() {
    super('ERR_MODEL_DISPOSED', 'the model has been disposed')
  }
}

/** A generation was stopped by its AbortSignal (or by leaving its step loop early). */
export class GenerationAbortedError extends InfraxaError {
  constructor(options: InfraxaErrorOptions = {}) {
    super('ERR_GENERATION_ABORTED', 'the generation was aborted', options)
  }
}
