import { type ChatHistoryItem, type LlamaModel, resolveChatWrapper } from 'node-llama-cpp'

/** One chat message. */
export interface ChatMessage {
  role: 'system' | 'user' | 'assistant'
  content: string
}

const ROLE_LABEL = { system: 'System', user: 'User', assistant: 'Assistant' } as const

/**
 * The plain template used when a model has no chat template (the generated test models, stories260K):
 * BOS (when the model wants one), then one `Role: content` line per message, then `Assistant:` — e.g.
 * `<s>User: Tell me a story\nAssistant:`. Message text is tokenized as plain text, so a message that
 * contains `</s>` does not produce a control token.
 */
export function plainPromptText(messages: readonly ChatMessage[]): string {
  return `${messages.map((m) => `${ROLE_LABEL[m.role]}: ${m.content}\n`).join('')}Assistant:`
}

/** Whether the GGUF carries a chat template (`tokenizer.chat_template`). */
export function hasChatTemplate(model: LlamaModel): boolean {
  const template = model.fileInfo.metadata.tokenizer?.chat_template
  return typeof template === 'string' && template.length > 0
}

function chatHistory(messages: readonly ChatMessage[]): ChatHistoryItem[] {
  const history: ChatHistoryItem[] = messages.map((m) =>
    m.role === 'assistant'
      ? { type: 'model', response: [m.content] }
      : m.role === 'system'
        ? { type: 'system', text: m.content }
        : { type: 'user', text: m.content },
  )
  history.push({ type: 'model', response: [] })
  return history
}

/**
 * The exact prompt token ids for `messages`: the model's own chat template (resolved by node-llama-cpp
 * from `tokenizer.chat_template`) when it has one, otherwise {@link plainPromptText}.
 */
export function promptTokensForMessages(model: LlamaModel, messages: readonly ChatMessage[]): number[] {
  if (messages.length === 0) return []
  if (hasChatTemplate(model)) {
    const wrapper = resolveChatWrapper(model)
    const { contextText } = wrapper.generateContextState({ chatHistory: chatHistory(messages) })
    return contextText.tokenize(model.tokenizer)
  }
  const bos = model.tokens.bos
  const prefix = model.tokens.shouldPrependBosToken && bos != null ? [bos] : []
  return [...prefix, ...model.tokenize(plainPromptText(messages), false)]
}

/**
 * The prompt token ids of a raw text prompt (a text completion): the model's BOS token when its
 * tokenizer prepends one, then the text as the tokenizer splits it, with no chat template.
 */
export function promptTokensForText(model: LlamaModel, text: string): number[] {
  if (text.length === 0) return []
  const bos = model.tokens.bos
  const prefix = model.tokens.shouldPrependBosToken && bos != null ? [bos] : []
  return [...prefix, ...model.tokenize(text, false)]
}
