type Args<F> = F extends (...args: infer A) => void ? A : never

/** One event with its arguments, e.g. `{ type: 'emit', event: 'state', args: ['connected'] }`. */
export type Emission<E, K extends keyof E = keyof E> = {
  [P in K]: { type: 'emit'; event: P; args: Args<E[P]> }
}[K]

/** A builder of Emissions for events E, each checked against its event's handler. */
export const emissions =
  <E>() =>
  <K extends keyof E>(event: K, ...args: Args<E[K]>): Emission<E, K> => ({ type: 'emit', event, args })

export interface Emitter<E> {
  on<K extends keyof E>(event: K, handler: E[K]): () => void
  emit<K extends keyof E>(emission: Emission<E, K>): void
}

/** A typed event emitter; a handler that throws is reported and never stops delivery to the others. */
export function createEmitter<E extends { [K in keyof E]: (...args: never[]) => void }>(): Emitter<E> {
  const handlers: { [K in keyof E]?: Set<E[K]> } = {}
  return {
    on(event, handler) {
      const set = handlers[event] ?? new Set()
      handlers[event] = set
      set.add(handler)
      return () => {
        set.delete(handler)
      }
    },
    emit({ event, args }) {
      for (const handler of handlers[event] ?? []) {
        try {
          handler(...args)
        } catch (error) {
          // A listener's bug must not break delivery to the others.
          console.error('herald: event handler failed', error)
        }
      }
    },
  }
}
